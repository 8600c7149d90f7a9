"""PLY point clouds: the vertex element with all its scalar properties (intensity included).

A small header parser instead of Open3D, whose reader keeps only positions, colours and normals and
so loses the intensity channel. Faces and other elements after the vertices are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.errors import InputError

_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}
_ORDER = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "<"}
_MAX_HEADER = 64 * 1024


def read_ply(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, C) vertex data and the vertex property names."""
    raw = path.read_bytes()
    fmt, count, props, offset = _parse_header(raw, path)
    names = tuple(n for n, _ in props)
    if fmt == "ascii":
        lines = raw[offset:].decode("ascii", errors="replace").splitlines()
        rows = [ln.split() for ln in lines if ln.strip()][:count]
        if len(rows) < count or any(len(r) < len(props) for r in rows):
            raise InputError(
                f"PLY announces {count} vertices of {len(props)} values; the data is shorter", path
            )
        try:
            data = np.array([r[: len(props)] for r in rows], dtype=np.float64).reshape(count, len(props))
        except ValueError:
            raise InputError("PLY ascii vertex data holds a non-numeric value", path) from None
        return data, names
    dtype = np.dtype([(n, _ORDER[fmt] + t) for n, t in props])
    if len(raw) - offset < count * dtype.itemsize:
        raise InputError(
            f"PLY announces {count} vertices ({count * dtype.itemsize} bytes) but holds {len(raw) - offset}",
            path,
        )
    rec = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return np.stack([rec[n].astype(np.float32) for n in names], axis=1), names


def _parse_header(raw: bytes, path: Path) -> tuple[str, int, list[tuple[str, str]], int]:
    """(format, vertex count, [(property, numpy type)], byte offset of the vertex data)."""
    if not raw.startswith(b"ply"):
        raise InputError("not a PLY file (no 'ply' magic line)", path)
    end = raw.find(b"end_header", 0, _MAX_HEADER)
    if end < 0:
        raise InputError("corrupt PLY header: no 'end_header'", path)
    offset = raw.index(b"\n", end) + 1 if b"\n" in raw[end : end + 16] else len(raw)
    fmt, count, props, element = "", -1, [], None
    for lineno, line in enumerate(raw[:end].decode("ascii", errors="replace").splitlines(), 1):
        tok = line.split()
        if not tok or tok[0] in ("ply", "comment", "obj_info"):
            continue
        if tok[0] == "format" and len(tok) >= 2:
            fmt = tok[1]
        elif tok[0] == "element" and len(tok) == 3:
            if element == "vertex":
                break  # the vertex data comes first, later elements are not read
            element = tok[1]
            if element != "vertex":
                raise InputError(f"PLY header line {lineno}: element '{element}' before the vertices", path)
            count = _int(tok[2], lineno, path)
        elif tok[0] == "property" and element == "vertex":
            if len(tok) != 3 or tok[1] not in _TYPES:
                raise InputError(
                    f"PLY header line {lineno}: unsupported vertex property '{line.strip()}'", path
                )
            props.append((tok[2], _TYPES[tok[1]]))
        else:
            raise InputError(f"corrupt PLY header line {lineno}: '{line.strip()}'", path)
    if fmt not in _ORDER:
        raise InputError(f"unknown PLY format '{fmt}'", path)
    if count < 0 or not props:
        raise InputError("PLY header has no vertex element with properties", path)
    return fmt, count, props, offset


def _int(text: str, lineno: int, path: Path) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(f"PLY header line {lineno}: bad element count '{text}'", path)
    return value


def write_ply(path: Path, points: np.ndarray, fields: Sequence[str], binary: bool = True) -> None:
    """Write float32 vertices with one float property per field (binary little-endian or ascii)."""
    pts = np.asarray(points, dtype=np.float32)
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        f"element vertex {len(pts)}",
    ]
    header += [f"property float {f}" for f in fields]
    header.append("end_header")
    with atomic_open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            fh.write(np.ascontiguousarray(pts, dtype="<f4").tobytes())
        else:
            np.savetxt(fh, pts, fmt="%.9g")
