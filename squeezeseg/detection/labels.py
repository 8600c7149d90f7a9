"""KITTI object labels as 2D image detections: read `label_2` files and write result files.

SqueezeDet predicts image boxes, so this reads the 2D fields of a KITTI label line (type, truncation,
occlusion, box) and keeps the rest as written; 3D boxes go through :mod:`squeezeseg.io` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_write_text
from squeezeseg.classes import KITTI_TYPES as _TAXONOMY
from squeezeseg.errors import InputError

#: Every type a KITTI object label may carry (DontCare marks regions that are neither TP nor FP).
KITTI_TYPES = tuple(t.name for t in _TAXONOMY)


@dataclass(frozen=True)
class Object2D:
    """One image object: class, box (left, top, right, bottom) pixels, truncation, occlusion, score."""

    label: str
    box: tuple[float, float, float, float]
    truncated: float = 0.0
    occluded: int = 0
    score: float | None = None

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def parse_kitti_2d(text: str, path: str | Path = "<labels>") -> list[Object2D]:
    """Objects of a KITTI label/result text (15 fields, or 16 with a score); blank lines are skipped."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) not in (15, 16):
            raise InputError(f"line {lineno}: expected 15 or 16 fields, got {len(f)}", path)
        try:
            box = tuple(float(v) for v in f[4:8])
            obj = Object2D(f[0], box, float(f[1]), int(float(f[2])), float(f[15]) if len(f) == 16 else None)
        except ValueError:
            raise InputError(f"line {lineno}: non-numeric field", path) from None
        if not np.all(np.isfinite(box)) or box[2] < box[0] or box[3] < box[1]:
            raise InputError(f"line {lineno}: invalid box {box}", path)
        out.append(obj)
    return out


def read_kitti_2d(path: str | Path) -> list[Object2D]:
    """Read a KITTI `label_2` (or result) file; an empty file is a frame without objects."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError("label file not found", path) from None
    except OSError as exc:
        raise InputError(f"cannot read labels: {exc.strerror}", path) from None
    return parse_kitti_2d(text, path)


def format_kitti_2d(objects: list[Object2D]) -> str:
    """KITTI result lines (unknown 3D fields as the devkit expects: -1 / -1000 / -10), score last."""
    lines = []
    for o in objects:
        l, t, r, b = o.box
        score = "" if o.score is None else f" {o.score:.4f}"
        lines.append(
            f"{o.label} {o.truncated:.2f} {o.occluded:d} -10 {l:.2f} {t:.2f} {r:.2f} {b:.2f} "
            f"-1 -1 -1 -1000 -1000 -1000 -10{score}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def write_kitti_2d(path: str | Path, objects: list[Object2D]) -> None:
    """Write detections as a KITTI result file (atomically)."""
    atomic_write_text(path, format_kitti_2d(objects))
