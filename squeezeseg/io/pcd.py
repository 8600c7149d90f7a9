"""PCD files (ascii, binary, binary_compressed) through pypcd4, which keeps every field.

Open3D's PCD reader keeps only x, y, z, colours and normals and drops intensity and ring, which the
segmentation needs, hence pypcd4 here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.errors import InputError

#: Packed colour fields are not point channels.
_SKIPPED_FIELDS = ("rgb", "rgba")
ENCODINGS = ("ascii", "binary", "binary_compressed")


def read_pcd(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, C) float64 data and the names of its scalar fields (multi-count fields are skipped)."""
    from pypcd4 import PointCloud

    try:
        cloud = PointCloud.from_path(path)
    except Exception as exc:  # pypcd4 raises pydantic, lzf, struct, numpy and unicode errors alike
        raise InputError(f"corrupt PCD file: {type(exc).__name__}: {_first_line(exc)}", path) from None
    meta = cloud.metadata
    data = np.atleast_1d(cloud.pc_data)
    if len(data) != meta.points:
        raise InputError(f"PCD header announces {meta.points} points but the data holds {len(data)}", path)
    names = tuple(
        f
        for f, c in zip(meta.fields, meta.count)
        if c == 1 and f.lower() not in _SKIPPED_FIELDS and not f.startswith("#")
    )
    if not names:
        return np.zeros((len(data), 0)), ()
    return np.stack([data[f].astype(np.float64) for f in names], axis=1), names


def write_pcd(path: Path, points: np.ndarray, fields: Sequence[str], encoding: str = "binary") -> None:
    """Write float32 points with the given field names; ``encoding`` is one of :data:`ENCODINGS`."""
    from pypcd4 import Encoding, PointCloud

    if encoding not in ENCODINGS:
        raise InputError(f"unknown PCD encoding '{encoding}' (use one of {', '.join(ENCODINGS)})", path)
    cloud = PointCloud.from_points(
        np.asarray(points, dtype=np.float32), tuple(fields), tuple(np.float32 for _ in fields)
    )
    with atomic_open(path, "wb") as fh:
        cloud.save(fh, encoding=Encoding(encoding))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""
