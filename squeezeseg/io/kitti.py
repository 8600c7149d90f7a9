"""KITTI object labels (``label_2/*.txt``) as :class:`Box3D` in the LiDAR frame, and back.

One line per object: type, truncated, occluded, alpha, 2D box (left top right bottom), dimensions
(h w l), bottom-centre location (x y z, rectified camera), rotation_y[, score]. DontCare lines are
skipped. Writing recomputes alpha and the 2D box by projecting the 3D box into image 2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_write_text
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

DONT_CARE = "DontCare"
OBJECT_FIELDS = 15  # without the optional score


def read_kitti_labels(
    path: str | Path, calib: KittiCalib, strict: bool = True, errors: list[InputError] | None = None
) -> list[Box3D]:
    """Boxes of a KITTI label file in the LiDAR frame (DontCare skipped).

    A malformed line raises :class:`InputError` with its line number; with ``strict=False`` it is
    skipped instead, logged, and appended to ``errors`` when a list is given.
    """
    path = Path(path)
    boxes = []
    for lineno, tokens in _lines(path):
        try:
            box = parse_object(tokens, calib, lineno, path)
        except InputError as exc:
            _bad_line(exc, strict, errors)
            continue
        if box is not None:
            boxes.append(box)
    return boxes


def write_kitti_labels(
    path: str | Path,
    boxes: Iterable[Box3D],
    calib: KittiCalib,
    image_size: tuple[int, int] | None = None,
    decimals: int = 4,
) -> None:
    """Write boxes as a KITTI label file (atomically).

    Alpha and the 2D box come from projecting each 3D box into image 2, clipped to ``image_size``
    (width, height; default the calibration's when known). ``decimals`` sets the precision of the
    3D fields (KITTI's own files use 2).
    """
    lines = [format_object(b, calib, image_size, decimals) for b in boxes]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


# ---- one object ----------------------------------------------------------------------------------
def parse_object(tokens: list[str], calib: KittiCalib, lineno: int, path: Path, **extra) -> Box3D | None:
    """Box of the object fields (type ... rotation_y[, score]); None for DontCare."""
    if len(tokens) not in (OBJECT_FIELDS, OBJECT_FIELDS + 1):
        raise InputError(
            f"line {lineno}: expected {OBJECT_FIELDS} or {OBJECT_FIELDS + 1} values, got {len(tokens)}", path
        )
    label = tokens[0]
    if label == DONT_CARE:
        return None
    try:
        v = np.array([float(t) for t in tokens[1:]], dtype=np.float64)
    except ValueError:
        raise InputError(f"line {lineno}: non-numeric value in '{' '.join(tokens)}'", path) from None
    if not np.all(np.isfinite(v)):
        raise InputError(f"line {lineno}: NaN or infinite value", path)
    truncated, occluded, _alpha = v[0], v[1], v[2]
    box2d, hwl, location, rotation_y = v[3:7], v[7:10], v[10:13], v[13]
    if np.any(hwl < 0):
        raise InputError(f"line {lineno}: negative dimensions {hwl.tolist()} for '{label}'", path)
    return Box3D.from_kitti_camera(
        location,
        hwl,
        rotation_y,
        calib,
        label=label,
        score=v[14] if len(v) > 14 else None,
        truncated=truncated,
        occluded=int(occluded),
        box2d=box2d,
        **extra,
    )


def format_object(
    box: Box3D, calib: KittiCalib, image_size: tuple[int, int] | None = None, decimals: int = 4
) -> str:
    """The KITTI object fields of one box (type ... rotation_y[, score]) as one line."""
    location, hwl, rotation_y, alpha = box.to_kitti_camera(calib)
    size = image_size if image_size is not None else calib.image_size
    box2d = box.image_box(calib, size)
    if box2d is None:  # behind the camera: keep the stored box, else KITTI's "no box" marker
        box2d = np.asarray(box.box2d) if box.box2d is not None else np.full(4, -1.0)
    truncated = 0.0 if box.truncated is None else box.truncated
    occluded = 0 if box.occluded is None else box.occluded
    d = decimals
    fields = [
        box.label,
        f"{truncated:.2f}",
        str(occluded),
        f"{alpha:.2f}",
        *(f"{x:.2f}" for x in box2d),
        *(f"{x:.{d}f}" for x in hwl),
        *(f"{x:.{d}f}" for x in location),
        f"{rotation_y:.{d}f}",
    ]
    if box.score is not None:
        fields.append(f"{box.score:.4f}")
    return " ".join(fields)


# ---- shared line handling ------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, tokens) of the non-blank lines of a label file."""
    if not path.exists():
        raise InputError("label file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("label file is not text (UTF-8 decoding failed)", path) from None
    except OSError as exc:
        raise InputError(f"cannot read label file: {exc.strerror}", path) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if tokens:
            yield lineno, tokens


def _bad_line(exc: InputError, strict: bool, errors: list[InputError] | None) -> None:
    if strict:
        raise exc
    log.warning("skipped %s", exc)
    if errors is not None:
        errors.append(exc)
