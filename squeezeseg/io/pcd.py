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
    """(N, C) float32 data and the names of its scalar fields (multi-count fields are skipped)."""
    from pypcd4 import PointCloud

    try:
        cloud = PointCloud.from_path(path)
    except Exception as exc:  # pypcd4 raises pydantic, lzf, struct, numpy and unicode errors alike
        fallback = _read_loose_ascii(path)
        if fallback is None:
            raise InputError(f"corrupt PCD file: {type(exc).__name__}: {_first_line(exc)}", path) from None
        return fallback
    meta = cloud.metadata
    data = np.atleast_1d(cloud.pc_data)
    if len(data) != meta.points:
        raise InputError(f"PCD header announces {meta.points} points but the data holds {len(data)}", path)
    names = _kept_fields(meta)
    if not names:
        return np.zeros((len(data), 0)), ()
    return np.stack([data[f].astype(np.float32) for f in names], axis=1), names


def _kept_fields(meta) -> tuple[str, ...]:
    return tuple(
        f
        for f, c in zip(meta.fields, meta.count)
        if c == 1 and f.lower() not in _SKIPPED_FIELDS and not f.startswith("#")
    )


def _read_loose_ascii(path: Path) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """ASCII data with runs of spaces or trailing blanks, which pypcd4's strict parser refuses."""
    from pypcd4 import MetaData

    try:
        lines = path.read_text(encoding="ascii").splitlines()
        end = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["DATA"])
        if lines[end].split()[1:2] != ["ascii"]:
            return None
        meta = MetaData.parse_header([ln for ln in lines[: end + 1] if ln.strip() and not ln.startswith("#")])
        rows = np.loadtxt(lines[end + 1 :], dtype=np.float64, ndmin=2)
    except Exception:  # anything unreadable here is reported as the original pypcd4 error
        return None
    width = sum(meta.count)
    if rows.shape != (meta.points, width) and not (meta.points == 0 and rows.size == 0):
        return None
    starts = np.cumsum((0,) + tuple(meta.count))
    names = _kept_fields(meta)
    cols = [starts[meta.fields.index(f)] for f in names]
    return rows.reshape(meta.points, width)[:, cols], names


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
