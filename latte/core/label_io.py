"""Session import and export in the four label formats (KITTI label_2, KITTI tracking label_02,
SemanticKITTI .label, LATTE JSON), all through squeezeseg.io and atomic writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latte.core.formats import boxes_from_point_labels, read_json_labels, write_json_labels
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError

if TYPE_CHECKING:
    from latte.core.session import AnnotationSession


def guess_format(path: Path) -> str:
    """Label format from a path: .json, .label, a folder of .label / .txt, or a .txt file."""
    if path.suffix == ".json":
        return "json"
    if path.suffix == ".label":
        return "semantickitti"
    if path.is_dir():
        if any(path.glob("*.label")):
            return "semantickitti"
        return "kitti"
    if path.suffix == ".txt":
        # A tracking file starts with a frame number and a track id.
        try:
            first = next(
                (ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()), []
            )
        except (OSError, UnicodeDecodeError):
            first = []
        return "tracking" if len(first) >= 2 and _is_int(first[0]) and _is_int(first[1]) else "kitti"
    raise InputError("cannot tell the label format from the name (give the format explicitly)", path)


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def _calib(session: AnnotationSession, frame: int, what: str) -> KittiCalib:
    calib = session.sequence.calib(frame)
    if calib is None:
        raise InputError(
            f"{what} needs a camera calibration, but frame {session.sequence.frame_id(frame)} has none",
            session.sequence.root,
        )
    return calib


def _frame_index(session: AnnotationSession) -> dict[int, int]:
    """Tracking frame number -> sequence index (numeric frame ids, else the position)."""
    seq = session.sequence
    ids = [seq.frame_id(i) for i in range(len(seq))]
    if all(i.isdigit() for i in ids):
        return {int(fid): i for i, fid in enumerate(ids)}
    return {i: i for i in range(len(seq))}


def _class_ids(session: AnnotationSession) -> dict[str, int]:
    return {c.name: c.semantic_id for c in session.config.classes}


def _id_to_label(session: AnnotationSession) -> dict[int, str]:
    out: dict[int, str] = {}
    for c in session.config.classes:
        out.setdefault(c.semantic_id, c.name)
    return out


# ---- import ---------------------------------------------------------------------------------------
def read_for_session(
    session: AnnotationSession, format: str, path: Path, frame: int | None
) -> tuple[dict[int, list[Box3D]], list[InputError]]:
    """{frame index: boxes} read from ``path`` and the skipped problems."""
    from squeezeseg import io

    seq = session.sequence
    errors: list[InputError] = []
    if not path.exists():
        raise InputError("label file or folder not found", path)
    out: dict[int, list[Box3D]] = {}
    if format == "json":
        _, frames = read_json_labels(path, errors)
        ids = {seq.frame_id(i): i for i in range(len(seq))}
        for index, fid, boxes in frames:
            f = ids.get(fid, index) if fid is not None else index
            if not 0 <= f < len(seq):
                errors.append(InputError(f"frame {index} ({fid}) is not in the sequence", path))
                continue
            out[f] = [b for _, b in boxes]
    elif format == "tracking":
        mapping = _frame_index(session)
        frames = io.read_tracking_labels(
            path, _calib(session, 0, "tracking import"), strict=False, errors=errors
        )
        for num, boxes in frames.items():
            if num not in mapping:
                errors.append(InputError(f"frame {num} is not in the sequence", path))
                continue
            out[mapping[num]] = boxes
    elif format == "kitti":
        for f, file in _per_frame_files(session, path, frame, ".txt"):
            out[f] = io.read_kitti_labels(
                file, _calib(session, f, "KITTI import"), strict=False, errors=errors
            )
    elif format == "semantickitti":
        for f, file in _per_frame_files(session, path, frame, ".label"):
            pts = seq.points(f)
            classes, instances = io.read_semantickitti_labels(file, len(pts))
            out[f] = boxes_from_point_labels(pts, classes, instances, _id_to_label(session))
    return out, errors


def _per_frame_files(
    session: AnnotationSession, path: Path, frame: int | None, suffix: str
) -> list[tuple[int, Path]]:
    seq = session.sequence
    if path.is_dir():
        found = [(i, path / f"{seq.frame_id(i)}{suffix}") for i in range(len(seq))]
        found = [(i, p) for i, p in found if p.is_file()]
        if not found:
            raise InputError(f"no {suffix} files named after the sequence's frames", path)
        return found
    if frame is None:
        ids = {seq.frame_id(i): i for i in range(len(seq))}
        if path.stem not in ids:
            raise InputError("file name matches no frame of the sequence (give the frame)", path)
        frame = ids[path.stem]
    return [(frame, path)]


# ---- export ---------------------------------------------------------------------------------------
def export_session(session: AnnotationSession, format: str, path: Path) -> None:
    from squeezeseg import io

    seq = session.sequence
    if format == "json":
        write_json_labels(path, seq.name, session._frames_for_json())
        return
    if format == "tracking":
        calib = _calib(session, 0, "tracking export")
        numbers = {i: n for n, i in _frame_index(session).items()}
        frames = {numbers[f]: boxes for f, boxes in session.all_boxes().items()}
        io.write_tracking_labels(path, frames, calib, seq.image_size(0))
        return
    if path.exists() and not path.is_dir():
        raise InputError(f"{format} export writes one file per frame into a folder, but this is a file", path)
    boxes = session.all_boxes()
    for f in range(len(seq)):
        frame_boxes = boxes.get(f, [])
        name = seq.frame_id(f)
        if format == "kitti":
            io.write_kitti_labels(
                path / f"{name}.txt", frame_boxes, _calib(session, f, "KITTI export"), seq.image_size(f)
            )
        else:
            classes, instances = point_labels(session, f, frame_boxes)
            io.write_semantickitti_labels(path / f"{name}.label", classes, instances)


def point_labels(session: AnnotationSession, frame: int, boxes: list[Box3D]) -> tuple[np.ndarray, np.ndarray]:
    """SemanticKITTI (classes, instances) of every point of ``frame``: the box class inside boxes
    (instance = track id), else the ground class on ground points, else background."""
    from latte.core.ground import ground_mask
    from squeezeseg.io import boxes_to_point_labels

    pts = session.sequence.points(frame)
    cfg = session.config
    classes, inst = boxes_to_point_labels(pts, boxes, _class_ids(session))
    tracks = np.array([0 if b.track_id is None else b.track_id for b in boxes] or [0], dtype=np.int64)
    instances = np.where(inst > 0, tracks[np.maximum(inst - 1, 0)], 0)
    if np.any(instances > 0xFFFF):
        raise InputError("track ids above 65535 do not fit SemanticKITTI instance ids")
    empty = inst == 0
    ground = ground_mask(pts, cfg.ground)
    classes = np.where(
        empty & ground,
        cfg.session.ground_semantic_id,
        np.where(empty, cfg.session.background_semantic_id, classes),
    )
    return classes.astype(np.uint16), instances.astype(np.uint16)
