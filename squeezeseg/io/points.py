"""Read and write point clouds: KITTI .bin, nuScenes .pcd.bin, .pcd, .ply, .npy/.npz, .las/.laz.

Every reader returns float32 (N, C >= 4) with x, y, z, intensity first; the extra channels (ring,
time, ...) follow and are named by ``read_points(path, return_fields=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.errors import InputError
from squeezeseg.io import pcd, ply

log = logging.getLogger(__name__)

KITTI_FIELDS = ("x", "y", "z", "intensity")
NUSCENES_FIELDS = ("x", "y", "z", "intensity", "ring")

#: Channel names that mean "intensity" in the formats we read (compared lower-case).
INTENSITY_ALIASES = ("intensity", "reflectance", "remission", "i", "scalar_intensity", "scalar_reflectance")

Fields = tuple[str, ...]


def point_format(path: str | Path) -> str:
    """The format key of a file name: 'pcd.bin', 'bin', 'pcd', 'ply', 'npy', 'npz', 'las' or 'laz'."""
    name = Path(path).name.lower()
    if name.endswith(".pcd.bin"):
        return "pcd.bin"
    return name.rsplit(".", 1)[-1] if "." in name else ""


def read_points(
    path: str | Path, return_fields: bool = False, columns: int | None = None
) -> np.ndarray | tuple[np.ndarray, Fields]:
    """Read a point cloud as float32 (N, >=4): x, y, z, intensity, then any extra channels.

    ``return_fields=True`` also returns the channel names. ``columns`` overrides the floats per
    point of a raw ``.bin`` file (4 for KITTI, 5 for nuScenes ``.pcd.bin``). NaN/inf points are
    kept: use :func:`drop_invalid_points` where they would hurt.
    """
    path = Path(path)
    fmt = point_format(path)
    reader = _READERS.get(fmt)
    if reader is None:
        raise InputError(
            f"unknown point-cloud extension '.{fmt}' (supported: {', '.join('.' + k for k in _READERS)})",
            path,
        )
    _check_readable(path)
    if columns is not None and fmt in ("bin", "pcd.bin"):
        points, fields = _read_bin(path, columns)
    else:
        points, fields = reader(path)
    if len(points) == 0:
        raise InputError("the file holds no points", path)
    points, fields = _xyzi_first(points, fields, path)
    return (points, fields) if return_fields else points


def write_points(
    path: str | Path, points: np.ndarray, fields: Sequence[str] | None = None, encoding: str = "binary"
) -> None:
    """Write points atomically; the extension picks the format (.bin, .pcd.bin, .pcd, .ply, .npy).

    ``.bin`` keeps the 4 KITTI channels, ``.pcd.bin`` the 5 nuScenes ones; the others keep every
    channel, named by ``fields`` (default x, y, z, intensity, ring, c5, ...). ``encoding`` picks the
    PCD data encoding ('ascii', 'binary' or 'binary_compressed') or PLY ('ascii' or 'binary').
    """
    path = Path(path)
    pts = _as_points(points, path)
    names = _field_names(pts.shape[1], fields, path)
    fmt = point_format(path)
    if fmt in ("bin", "pcd.bin"):
        width = 5 if fmt == "pcd.bin" else 4
        if pts.shape[1] < width:
            raise InputError(f"{fmt} needs {width} channels per point, got {pts.shape[1]}", path)
        with atomic_open(path, "wb") as fh:
            fh.write(np.ascontiguousarray(pts[:, :width]).tobytes())
    elif fmt == "pcd":
        pcd.write_pcd(path, pts, names, encoding)
    elif fmt == "ply":
        ply.write_ply(path, pts, names, binary=encoding != "ascii")
    elif fmt == "npy":
        with atomic_open(path, "wb") as fh:
            np.save(fh, pts)
    else:
        raise InputError(
            f"cannot write point clouds as '.{fmt}' (use .bin, .pcd.bin, .pcd, .ply or .npy)", path
        )


def drop_invalid_points(
    points: np.ndarray, min_range: float = 1e-6, source: str | Path | None = None
) -> tuple[np.ndarray, int]:
    """Remove points with a NaN/inf channel or a range below ``min_range``; returns (kept, n_dropped).

    Readers keep such points so nothing is silently lost; projection and training call this and the
    count is logged, so a sensor's "no return" points never land on a garbage pixel.
    """
    pts = np.asarray(points)
    finite = np.all(np.isfinite(pts), axis=1)
    with np.errstate(invalid="ignore"):
        ok = finite & (np.linalg.norm(np.where(finite[:, None], pts[:, :3], 0.0), axis=1) >= min_range)
    dropped = int(len(pts) - np.count_nonzero(ok))
    if dropped:
        where = f" in {source}" if source is not None else ""
        log.warning(
            "dropped %d of %d points%s (NaN/inf or range < %g m)", dropped, len(pts), where, min_range
        )
        return pts[ok], dropped
    return pts, 0


# ---- readers -------------------------------------------------------------------------------------
def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", path)
    if not path.is_file():
        raise InputError("not a regular file", path)
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path) from None
    if size == 0:
        raise InputError("file is empty", path)


def _read_bin(path: Path, columns: int) -> tuple[np.ndarray, Fields]:
    size = path.stat().st_size
    record = 4 * columns
    if size % record:
        raise InputError(
            f"size {size} bytes is not a multiple of {record} ({columns} float32 per point); "
            "KITTI .bin has 4 floats per point, nuScenes .pcd.bin 5",
            path,
        )
    data = np.fromfile(path, dtype="<f4").reshape(-1, columns)
    fields = NUSCENES_FIELDS if columns == 5 else KITTI_FIELDS[:columns] + _extra_names(4, columns)
    return data, fields


def _read_numpy(path: Path) -> tuple[np.ndarray, Fields]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable NumPy file: {exc}", path) from None
    fields: Fields | None = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            key = "points" if "points" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise InputError(
                    f"npz holds {keys}; expected an array named 'points' or a single array", path
                )
            arr = loaded[key]
            if "fields" in keys:
                fields = tuple(str(f) for f in loaded["fields"])
    else:
        arr = loaded
    if arr.ndim == 3 and arr.shape[-1] == 6:
        raise InputError(
            f"array of shape {arr.shape} is a SqueezeSeg range image: use read_squeezeseg_npy",
            path,
        )
    if arr.ndim != 2 or arr.shape[1] < 3 or arr.dtype.kind not in "fiu":
        raise InputError(f"expected a numeric (N, >=3) point array, got {arr.dtype} {arr.shape}", path)
    if fields is not None and len(fields) != arr.shape[1]:
        raise InputError(f"'fields' names {len(fields)} channels but the points have {arr.shape[1]}", path)
    return arr, fields or _field_names(arr.shape[1], None, path)


def _read_las(path: Path) -> tuple[np.ndarray, Fields]:
    import laspy

    try:
        las = laspy.read(path)
    except laspy.errors.LaspyException as exc:
        hint = " (LAZ needs a backend: pip install 'laspy[lazrs]')" if "LazBackend" in str(exc) else ""
        raise InputError(f"cannot read LAS/LAZ: {exc}{hint}", path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read LAS/LAZ: {exc}", path) from None
    xyz = np.c_[np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)]
    if len(xyz) and np.abs(xyz).max() > 1e5:
        log.warning("%s: coordinates up to %.0f m lose precision as float32", path, np.abs(xyz).max())
    return np.c_[xyz, np.asarray(las.intensity, dtype=np.float64)], KITTI_FIELDS


_READERS: dict[str, Callable[[Path], tuple[np.ndarray, Fields]]] = {
    "bin": lambda p: _read_bin(p, 4),
    "pcd.bin": lambda p: _read_bin(p, 5),
    "pcd": pcd.read_pcd,
    "ply": ply.read_ply,
    "npy": _read_numpy,
    "npz": _read_numpy,
    "las": _read_las,
    "laz": _read_las,
}


#: Every point-cloud suffix :func:`read_points` reads (``.pcd.bin`` before ``.bin``).
SCAN_SUFFIXES: tuple[str, ...] = tuple(sorted((f".{k}" for k in _READERS), key=lambda s: -s.count(".")))


def is_scan(path: str | Path) -> bool:
    """True for a file whose name has a point-cloud suffix :func:`read_points` reads."""
    return point_format(path) in _READERS


def scan_stem(path: str | Path) -> str:
    """File name without its point-cloud suffix (``x.pcd.bin`` -> ``x``, ``x.bin`` -> ``x``)."""
    name = Path(path).name
    for suffix in SCAN_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


# ---- channel handling ----------------------------------------------------------------------------
def _xyzi_first(data: np.ndarray, fields: Fields, path: Path) -> tuple[np.ndarray, Fields]:
    """Reorder to x, y, z, intensity, rest; a missing intensity becomes a zero column."""
    lower = [f.lower() for f in fields]
    try:
        order = [lower.index(c) for c in ("x", "y", "z")]
    except ValueError:
        raise InputError(f"no x, y, z channels among {list(fields)}", path) from None
    inten = next((lower.index(a) for a in INTENSITY_ALIASES if a in lower), None)
    rest = [i for i in range(len(fields)) if i not in order and i != inten]
    names = ("x", "y", "z", "intensity") + tuple(fields[i] for i in rest)
    if inten is None:
        log.info("%s: no intensity channel, filled with 0", path)
        out = np.concatenate([data[:, order], np.zeros((len(data), 1)), data[:, rest]], axis=1)
    elif order + [inten] + rest == list(range(len(fields))):
        out = data  # already in order: no copy for the common KITTI/nuScenes case
    else:
        out = data[:, order + [inten] + rest]
    return np.ascontiguousarray(out, dtype=np.float32), names


def _extra_names(start: int, stop: int) -> Fields:
    return tuple("ring" if i == 4 else f"c{i}" for i in range(start, stop))


def _field_names(n: int, fields: Sequence[str] | None, path: Path) -> Fields:
    if fields is None:
        return ("x", "y", "z", "intensity")[:n] + _extra_names(4, n)
    names = tuple(str(f) for f in fields)
    if len(names) != n:
        raise InputError(f"{len(names)} field names for {n} channels", path)
    return names


def _as_points(points: np.ndarray, path: Path) -> np.ndarray:
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3 or pts.dtype.kind not in "fiu":
        raise InputError(f"points must be a numeric (N, >=3) array, got {pts.dtype} {pts.shape}", path)
    return np.ascontiguousarray(pts, dtype=np.float32)
