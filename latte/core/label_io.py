"""Label formats, one class each (suffix, guess, read, write): KITTI label_2, KITTI tracking label_02,
SemanticKITTI .label and LATTE JSON, behind one registry, :data:`LABEL_FORMATS`. The annotation session
imports and exports through them, ``latte evaluate`` reads boxes through them and ``latte prelabel``
names its output after them. All reading and writing goes through squeezeseg.io and atomic writes.

A new format is one :class:`LabelFormat` subclass here (or in a module of its own) and one
``@register_format`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from latte.core.formats import boxes_from_point_labels, read_json_labels, write_json_labels
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, read_kitti_calib
from squeezeseg.errors import InputError

FrameKey = int | str
Boxes = dict[int, list[Box3D]]


class LabelSession(Protocol):
    """What a format needs of an annotation session (so that formats never import the session)."""

    sequence: object
    config: object

    def all_boxes(self) -> Boxes: ...

    def _frames_for_json(self) -> list[tuple[int, str, dict[int, Box3D]]]: ...


class LabelFormat:
    """One label format: its name, the file suffix (``""`` for a folder of per-frame files), how to
    recognise a path in it, and reading and writing for a session (frame indices of its sequence) and
    for evaluation (frame ids, given a calibration)."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    per_frame: ClassVar[bool] = False  # one file per frame, in a folder

    @staticmethod
    def guess(path: Path) -> bool:
        raise NotImplementedError

    def default_output(self, out: Path, sequence_name: str) -> Path:
        """Where ``latte prelabel --out OUT`` writes this format."""
        return out / f"labels{self.suffix}"

    def read(self, session: LabelSession, path: Path, frame: int | None, errors: list[InputError]) -> Boxes:
        """{frame index: boxes} of ``session``'s sequence from ``path``; skipped problems go to ``errors``."""
        raise NotImplementedError

    def write(self, session: LabelSession, path: Path) -> None:
        raise NotImplementedError

    def load_boxes(self, path: Path, calib: Path | None) -> dict[FrameKey, list[Box3D]]:
        """{frame id: boxes} for evaluation (``calib``: a calibration file or folder, or None)."""
        raise InputError(f"evaluate compares boxes: {self.name} labels hold none", path)


#: Label formats by name, in the order :func:`guess_format` asks them.
LABEL_FORMATS: dict[str, LabelFormat] = {}


def register_format(cls: type[LabelFormat]) -> type[LabelFormat]:
    """Class decorator: make a format known to the session, ``latte evaluate`` and ``latte prelabel``."""
    LABEL_FORMATS[cls.name] = cls()
    return cls


def label_format(name: str) -> LabelFormat:
    """The format called ``name``; InputError listing the known ones otherwise."""
    if name not in LABEL_FORMATS:
        raise InputError(f"unknown label format '{name}' (known: {', '.join(LABEL_FORMATS)})")
    return LABEL_FORMATS[name]


def guess_format(path: Path) -> str:
    """Label format from a path: .json, .label, a folder of .label / .txt, or a .txt file."""
    for name, fmt in LABEL_FORMATS.items():
        if fmt.guess(path):
            return name
    raise InputError("cannot tell the label format from the name (give the format explicitly)", path)


def read_for_session(
    session: LabelSession, format: str, path: Path, frame: int | None
) -> tuple[Boxes, list[InputError]]:
    """{frame index: boxes} read from ``path`` and the skipped problems."""
    if not path.exists():
        raise InputError("label file or folder not found", path)
    errors: list[InputError] = []
    return label_format(format).read(session, path, frame, errors), errors


def export_session(session: LabelSession, format: str, path: Path) -> None:
    """Write every box of ``session`` to ``path`` in ``format``."""
    label_format(format).write(session, path)


# ---- the formats ----------------------------------------------------------------------------------
@register_format
class JsonFormat(LabelFormat):
    name, suffix = "json", ".json"

    @staticmethod
    def guess(path: Path) -> bool:
        return path.suffix == ".json"

    def read(self, session, path, frame, errors):
        seq = session.sequence
        _, frames = read_json_labels(path, errors)
        ids = {seq.frame_id(i): i for i in range(len(seq))}
        out: Boxes = {}
        for index, fid, boxes in frames:
            f = ids.get(fid, index) if fid is not None else index
            if not 0 <= f < len(seq):
                errors.append(InputError(f"frame {index} ({fid}) is not in the sequence", path))
                continue
            out[f] = [b for _, b in boxes]
        return out

    def write(self, session, path):
        write_json_labels(path, session.sequence.name, session._frames_for_json())

    def load_boxes(self, path, calib):
        _, frames = read_json_labels(path)
        return {_key(fid if fid is not None else idx): [b for _, b in boxes] for idx, fid, boxes in frames}


@register_format
class SemanticKittiFormat(LabelFormat):
    name, suffix, per_frame = "semantickitti", ".label", True

    @staticmethod
    def guess(path: Path) -> bool:
        return path.suffix == ".label" or (path.is_dir() and any(path.glob("*.label")))

    def default_output(self, out: Path, sequence_name: str) -> Path:
        return out / "labels"

    def read(self, session, path, frame, errors):
        from squeezeseg.io import read_semantickitti_labels

        seq, out = session.sequence, {}
        for f, file in _per_frame_files(session, path, frame, self.suffix):
            pts = seq.points(f)
            classes, instances = read_semantickitti_labels(file, len(pts))
            out[f] = boxes_from_point_labels(pts, classes, instances, _id_to_label(session))
        return out

    def write(self, session, path):
        from squeezeseg.io import write_semantickitti_labels

        boxes = _per_frame_folder(session, path, self.name)
        for f in range(len(session.sequence)):
            classes, instances = point_labels(session, f, boxes.get(f, []))
            write_semantickitti_labels(path / f"{session.sequence.frame_id(f)}.label", classes, instances)


@register_format
class TrackingFormat(LabelFormat):
    name, suffix = "tracking", ".txt"

    @staticmethod
    def guess(path: Path) -> bool:
        """A ``.txt`` file whose first line starts with a frame number and a track id."""
        if path.suffix != ".txt" or path.is_dir():
            return False
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            first = next((ln.split() for ln in lines if ln.strip()), [])
        except (OSError, UnicodeDecodeError):
            first = []
        return len(first) >= 2 and _is_int(first[0]) and _is_int(first[1])

    def default_output(self, out: Path, sequence_name: str) -> Path:
        return out / f"{sequence_name}{self.suffix}"

    def read(self, session, path, frame, errors):
        from squeezeseg.io import read_tracking_labels

        mapping = _frame_index(session)
        calib = _calib(session, 0, "tracking import")
        frames = read_tracking_labels(path, calib, strict=False, errors=errors)
        out: Boxes = {}
        for num, boxes in frames.items():
            if num not in mapping:
                errors.append(InputError(f"frame {num} is not in the sequence", path))
                continue
            out[mapping[num]] = boxes
        return out

    def write(self, session, path):
        from squeezeseg.io import write_tracking_labels

        calib = _calib(session, 0, "tracking export")
        numbers = {i: n for n, i in _frame_index(session).items()}
        frames = {numbers[f]: boxes for f, boxes in session.all_boxes().items()}
        write_tracking_labels(path, frames, calib, session.sequence.image_size(0))

    def load_boxes(self, path, calib):
        from squeezeseg.io import read_tracking_labels

        if calib is None:
            calib = path.parent.parent / "calib" / path.name
        elif calib.is_dir():
            calib = calib / path.name
        return dict(read_tracking_labels(path, read_kitti_calib(calib)).items())


@register_format
class KittiFormat(LabelFormat):
    name, suffix, per_frame = "kitti", ".txt", True

    @staticmethod
    def guess(path: Path) -> bool:
        return path.is_dir() or path.suffix == ".txt"

    def default_output(self, out: Path, sequence_name: str) -> Path:
        return out / "label_2"

    def read(self, session, path, frame, errors):
        from squeezeseg.io import read_kitti_labels

        return {
            f: read_kitti_labels(file, _calib(session, f, "KITTI import"), strict=False, errors=errors)
            for f, file in _per_frame_files(session, path, frame, self.suffix)
        }

    def write(self, session, path):
        from squeezeseg.io import write_kitti_labels

        seq = session.sequence
        boxes = _per_frame_folder(session, path, self.name)
        for f in range(len(seq)):
            calib = _calib(session, f, "KITTI export")
            write_kitti_labels(path / f"{seq.frame_id(f)}.txt", boxes.get(f, []), calib, seq.image_size(f))

    def load_boxes(self, path, calib):
        from squeezeseg.io import read_kitti_labels

        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        if calib is None:
            calib = (path if path.is_dir() else path.parent).parent / "calib"
        out: dict[FrameKey, list[Box3D]] = {}
        for f in files:
            cfile = calib / f.name if calib.is_dir() else calib
            out[_key(f.stem)] = read_kitti_labels(f, read_kitti_calib(cfile))
        return out


# ---- helpers ---------------------------------------------------------------------------------------
def _key(frame_id: FrameKey) -> FrameKey:
    s = str(frame_id)
    return int(s) if s.isdigit() else s


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def _calib(session: LabelSession, frame: int, what: str) -> KittiCalib:
    calib = session.sequence.calib(frame)
    if calib is None:
        raise InputError(
            f"{what} needs a camera calibration, but frame {session.sequence.frame_id(frame)} has none",
            session.sequence.root,
        )
    return calib


def _frame_index(session: LabelSession) -> dict[int, int]:
    """Tracking frame number -> sequence index (numeric frame ids, else the position)."""
    seq = session.sequence
    ids = [seq.frame_id(i) for i in range(len(seq))]
    if all(i.isdigit() for i in ids):
        return {int(fid): i for i, fid in enumerate(ids)}
    return {i: i for i in range(len(seq))}


def _class_ids(session: LabelSession) -> dict[str, int]:
    return {c.name: c.semantic_id for c in session.config.classes}


def _id_to_label(session: LabelSession) -> dict[int, str]:
    out: dict[int, str] = {}
    for c in session.config.classes:
        out.setdefault(c.semantic_id, c.name)
    return out


def _per_frame_files(
    session: LabelSession, path: Path, frame: int | None, suffix: str
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


def _per_frame_folder(session: LabelSession, path: Path, name: str) -> Boxes:
    if path.exists() and not path.is_dir():
        raise InputError(f"{name} export writes one file per frame into a folder, but this is a file", path)
    return session.all_boxes()


def point_labels(session: LabelSession, frame: int, boxes: list[Box3D]) -> tuple[np.ndarray, np.ndarray]:
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
