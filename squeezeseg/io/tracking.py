"""KITTI tracking labels (``label_02/<sequence>.txt``): frame, track id, then the object fields.

Read as ``{frame: [Box3D with track_id]}`` in the LiDAR frame (DontCare skipped), written back in
frame order with alpha and the 2D box recomputed by projection, like the object labels.
"""

from __future__ import annotations

from pathlib import Path

from squeezeseg.atomic import atomic_write_text
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError
from squeezeseg.io.kitti import _bad_line, _lines, format_object, parse_object


def read_tracking_labels(
    path: str | Path, calib: KittiCalib, strict: bool = True, errors: list[InputError] | None = None
) -> dict[int, list[Box3D]]:
    """Boxes per frame, sorted by frame; ``strict``/``errors`` as in :func:`read_kitti_labels`."""
    path = Path(path)
    frames: dict[int, list[Box3D]] = {}
    for lineno, tokens in _lines(path):
        try:
            frame, track = _int(tokens, 0, lineno, path), _int(tokens, 1, lineno, path)
            if frame < 0:
                raise InputError(f"line {lineno}: negative frame number {frame}", path)
            box = parse_object(tokens[2:], calib, lineno, path, track_id=None if track < 0 else track)
        except InputError as exc:
            _bad_line(exc, strict, errors)
            continue
        if box is not None:
            frames.setdefault(frame, []).append(box)
    return dict(sorted(frames.items()))


def write_tracking_labels(
    path: str | Path,
    frames: dict[int, list[Box3D]],
    calib: KittiCalib,
    image_size: tuple[int, int] | None = None,
    decimals: int = 4,
) -> None:
    """Write a tracking label file atomically; every box needs a ``track_id``."""
    lines = []
    for frame in sorted(frames):
        for box in frames[frame]:
            if box.track_id is None:
                raise InputError(f"frame {frame}: box '{box.label}' at {box.center} has no track_id", path)
            lines.append(f"{int(frame)} {box.track_id} {format_object(box, calib, image_size, decimals)}\n")
    atomic_write_text(path, "".join(lines))


def _int(tokens: list[str], i: int, lineno: int, path: Path) -> int:
    if len(tokens) <= i:
        raise InputError(f"line {lineno}: too few values", path)
    try:
        return int(tokens[i])
    except ValueError:
        raise InputError(f"line {lineno}: value {i + 1} '{tokens[i]}' is not an integer", path) from None
