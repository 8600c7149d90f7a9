"""Spherical projection of a LiDAR scan to an (H, W, 6) range image and back.

Convention (SqueezeSeg format, see docs/projection.md): row 0 is the top beam; columns are even
azimuth bins of ``fov / width`` degrees, column 0 at azimuth ``+fov/2`` (left) and increasing to the
right (clockwise seen from above), so a 90-degree window has column 0 at +45 degrees and the full
circle has column 0 behind the car at +180 degrees. Channels: x, y, z, intensity, range, mask.
When several points fall into one pixel the closest wins; ties go to the lower point index.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.sensors import SensorConfig, load_sensor

log = logging.getLogger(__name__)

RowMode = Literal["auto", "ring", "scan", "table", "even"]
ROW_MODES: tuple[str, ...] = ("auto", "ring", "scan", "table", "even")
CHANNELS: tuple[str, ...] = ("x", "y", "z", "intensity", "range", "mask")
MIN_RANGE = 1e-3  # metres; closer points count as zero-range returns and are dropped
_MIN_RANGE32 = np.float32(MIN_RANGE)  # what a float32 range is compared with
_TWO_PI = np.float32(2.0 * np.pi)
_PI32 = np.float32(np.pi)
_MASK_WORD = np.array([0.0, 1.0], np.float32).view(np.uint64)[0]  # range 0, mask 1 as one word
_RANGE_SHIFT = np.uint64(0 if np.little_endian else 32)  # where the range bits go in that word
_SCRATCH = threading.local()

# ------------------------------------------------------------------------------------- kernels
KERNEL_KINDS: tuple[str, ...] = ("auto", "numpy", "compiled")
KERNELS_ENV = "SQUEEZESEG_PROJECTION_KERNELS"  # auto (default), numpy or compiled
COMPILED_AFTER_POINTS = 20_000_000  # auto: NumPy up to here (about 160 HDL-64E scans), then numba
_KERNEL_STATE = {"kind": None, "module": None, "points": 0}
_KERNEL_LOCK = threading.Lock()


def set_kernels(kind: str) -> str:
    """Choose the projection kernels for this process; returns the previous choice.

    ``numpy`` (squeezeseg.projection_numpy) needs no compiler; ``compiled`` (numba,
    squeezeseg.projection_kernels) runs a full scan about twice as fast but costs about a second to
    import and load in every process; ``auto`` (the default, or $SQUEEZESEG_PROJECTION_KERNELS)
    starts with NumPy and moves to the compiled loops once the process has projected
    COMPILED_AFTER_POINTS points, where that second has paid for itself. Both give bit-identical
    results.
    """
    if kind not in KERNEL_KINDS:
        raise InputError(f"unknown projection kernels '{kind}' (choose from {', '.join(KERNEL_KINDS)})")
    with _KERNEL_LOCK:
        previous = _kernel_kind()
        _KERNEL_STATE.update(kind=kind, module=None)
    return previous


@contextmanager
def kernels_in_use(kind: str) -> Iterator[None]:
    """``set_kernels(kind)`` for the duration of a ``with`` block (tests, benchmarks)."""
    previous = set_kernels(kind)
    try:
        yield
    finally:
        set_kernels(previous)


def _kernel_kind() -> str:
    kind = _KERNEL_STATE["kind"]
    if kind is None:
        kind = os.environ.get(KERNELS_ENV, "auto").strip().lower() or "auto"
        if kind not in KERNEL_KINDS:
            log.warning("%s=%s is not one of %s; using auto", KERNELS_ENV, kind, ", ".join(KERNEL_KINDS))
            kind = "auto"
        _KERNEL_STATE["kind"] = kind
    return kind


def _count_points(n: int) -> None:
    """Count ``n`` projected points towards the auto switch to the compiled kernels."""
    with _KERNEL_LOCK:
        _KERNEL_STATE["points"] += n
        module = _KERNEL_STATE["module"]
        numpy_now = module is not None and module.__name__ == "squeezeseg.projection_numpy"
        if numpy_now and _KERNEL_STATE["points"] > COMPILED_AFTER_POINTS and _kernel_kind() == "auto":
            _KERNEL_STATE["module"] = None  # chosen anew on the next call: the compiled loops


def _kernels():
    """The kernel module in use (squeezeseg.projection_numpy or .projection_kernels; see set_kernels).

    The compiled module is imported on first use only: importing numba (with scipy) and loading
    the cached machine code takes about a second, which commands that project a few scans or none
    should not pay.
    """
    module = _KERNEL_STATE["module"]
    if module is not None:
        return module
    with _KERNEL_LOCK:
        kind = _kernel_kind()
        compiled = kind == "compiled" or (kind == "auto" and _KERNEL_STATE["points"] > COMPILED_AFTER_POINTS)
        if compiled:
            from squeezeseg import projection_kernels as module
        else:
            from squeezeseg import projection_numpy as module
        _KERNEL_STATE["module"] = module
    return module


def _scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread work buffer reused between calls (never returned to the caller).

    Fresh multi-megabyte arrays cost page faults on every call (half the CPU time of a 64x2048
    projection on the reference machine); reusing the big temporaries avoids them.
    """
    bufs = _SCRATCH.__dict__
    size = math.prod(shape)
    buf = bufs.get(name)
    if buf is None or buf.dtype != np.dtype(dtype) or buf.size < size:
        buf = np.empty(max(size, 1), dtype)
        bufs[name] = buf
    return buf[:size].reshape(shape)


# ------------------------------------------------------------------------------- output buffers
_POOL: dict[str, list[np.ndarray]] = {}
_POOL_LOCK = threading.Lock()
_POOL_DEPTH = 4  # buffers kept per output; more results alive at once get plain new arrays


def _ref_counts(pool: list[np.ndarray]) -> list[int]:
    return [sys.getrefcount(buf) for buf in pool]


_UNREFERENCED = _ref_counts([np.empty(1)])[0]  # the count of a buffer only the pool holds


def _output(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A new result array, placed in a recycled buffer that nothing outside the pool references.

    Results (image, index, rows, cols, ranges) are handed to the caller, so they cannot be scratch
    buffers; but glibc maps big fresh arrays anew, at one page fault per 4 KiB (some 1,250 per
    64x2048 call for the results alone, each a few microseconds on the reference VM). A pooled
    buffer is reused only once its reference count shows that no result, view or slice of it is
    alive any more, so a caller never sees two results share memory. Results are views of the
    buffer (per-point ones with some headroom, as scans differ in size).
    """
    size = math.prod(shape)
    with _POOL_LOCK:
        pool = _POOL.setdefault(name, [])
        for i, refs in enumerate(_ref_counts(pool)):
            if refs <= _UNREFERENCED:  # free; replaced when too small (a bigger scan or image)
                if pool[i].size < size or pool[i].dtype != dtype:
                    pool[i] = np.empty(size + size // 8 + 1024, dtype)
                buf = pool[i]
                break
        else:
            if len(pool) >= _POOL_DEPTH:
                return np.empty(shape, dtype)
            buf = np.empty(size + size // 8 + 1024, dtype)
            pool.append(buf)
        return buf[:size].reshape(shape)


@dataclass
class RangeImage:
    """A projected scan: the image plus, for every input point, where it went.

    ``rows``/``cols`` are -1 for points that were dropped (NaN/inf, zero range) or fell outside
    the window. ``index`` (H, W) holds the input index of the point shown in each pixel (-1: empty).
    """

    image: np.ndarray  # (H, W, 6) float32: x, y, z, intensity, range, mask
    rows: np.ndarray  # (N,) int32
    cols: np.ndarray  # (N,) int32
    index: np.ndarray  # (H, W) int32
    point_range: np.ndarray  # (N,) float32, NaN for dropped points
    row_mode: str = "even"
    dropped: int = 0  # NaN/inf or zero-range points
    full_circle: bool = False

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels holding a point."""
        return self.index >= 0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return self.index.shape

    def features(self) -> np.ndarray:
        """(H, W, 5) x, y, z, intensity, range: the network input (empty pixels are zero)."""
        return self.image[..., :5]

    def hidden(self) -> np.ndarray:
        """(N,) bool: points inside the image that lost their pixel to a closer point."""
        H, W = self.shape
        inside = self.rows >= 0
        pix = np.where(inside, self.rows * np.int32(W) + self.cols, np.int32(H * W))
        owner = np.empty(H * W + 1, np.int32)
        owner[:-1] = self.index.ravel()
        owner[-1] = -1
        return inside & (owner[pix] != np.arange(len(pix), dtype=np.int32))


class SphericalProjection:
    """Projects points (N, >=3; x, y, z, [intensity, [ring]]) of one sensor to a range image.

    ``rows`` picks how a point's row is found: ``ring`` (ring channel, column 4), ``scan`` (ring
    recovered from the storage order: ring by ring, each ring one azimuth sweep), ``table`` (nearest
    beam of the sensor's elevation table, with per-beam vertical offsets), ``even`` (even elevation
    bins between the top and bottom beam) or ``auto`` (ring if present, else scan, else table).
    """

    def __init__(
        self,
        sensor: SensorConfig,
        width: int | None = None,
        fov_deg: float = 360.0,
        rows: RowMode = "auto",
    ):
        if not 0 < fov_deg <= 360:
            raise InputError(f"fov_deg must be in (0, 360], got {fov_deg}")
        if rows not in ROW_MODES:
            raise InputError(f"unknown row mode '{rows}' (choose from {', '.join(ROW_MODES)})")
        self.sensor = sensor
        self.fov_deg = float(fov_deg)
        self.width = int(width) if width else int(round(sensor.columns_360 * fov_deg / 360.0))
        if self.width <= 0:
            raise InputError(f"width must be positive, got {width}")
        self.height = sensor.beams
        self.rows = rows
        self.full_circle = self.fov_deg >= 360.0
        self._col_scale = np.float32(self.width / np.deg2rad(self.fov_deg))
        self._col_start = np.float32(np.deg2rad(self.fov_deg) / 2.0)  # azimuth of column 0's left edge
        elev = sensor.elevations
        self._tan = np.tan(elev).astype(np.float32)  # decreasing, top first
        self._offsets = sensor.vertical_offsets.astype(np.float32)
        neg_mid = -0.5 * (self._tan[:-1] + self._tan[1:])  # increasing: search in -tan space
        self._neg_mid = neg_mid.astype(np.float32)
        gap_top = self._tan[0] - self._tan[1] if self.height > 1 else np.float32(0.01)
        gap_bot = self._tan[-2] - self._tan[-1] if self.height > 1 else np.float32(0.01)
        self._tan_limits = (self._tan[0] + 1.5 * gap_top, self._tan[-1] - 1.5 * gap_bot)
        self._has_offsets = bool(np.any(self._offsets != 0))

    @classmethod
    def from_sensor(
        cls, name: str, width: int = 512, fov_deg: float = 90.0, rows: RowMode = "auto"
    ) -> SphericalProjection:
        """Projection for a sensor config of configs/sensors (``fov_deg=360`` for the full circle)."""
        return cls(load_sensor(name), width=width, fov_deg=fov_deg, rows=rows)

    # ----------------------------------------------------------------------------------- project
    def project(
        self, points: np.ndarray, rows: RowMode | None = None, ring: np.ndarray | None = None
    ) -> RangeImage:
        """Project ``points`` (N, >=3) to a range image; every point keeps its (row, col)."""
        pts = _as_points(points)
        n = len(pts)
        mode = rows or self.rows
        if mode not in ROW_MODES:
            raise InputError(f"unknown row mode '{mode}' (choose from {', '.join(ROW_MODES)})")
        if ring is None and pts.shape[1] >= 5 and mode in ("auto", "ring"):
            ring = pts[:, 4]  # nuScenes layout; in auto mode only used when it looks like one
            if mode == "auto" and not _looks_like_ring(ring, self.height, min_cover=0.5):
                ring = None
        _count_points(n)
        rng = _output("point_range", (n,), np.float32)
        x, y = _scratch("x", (n,), np.float32), _scratch("y", (n,), np.float32)
        if _kernels().polar(pts, x, y, rng, _MIN_RANGE32):  # NaN/inf or zero-range points
            return self._project_kept(pts, x, y, rng, ring, mode)
        az = np.arctan2(y, x, out=_scratch("az", (n,), np.float32))  # NumPy's SIMD atan2
        col = _output("cols", (n,), np.int32)
        row, index, image, used = self._project_valid(pts, rng, az, col, ring, mode)
        return RangeImage(image, row, col, index, rng, used, 0, self.full_circle)

    def _project_kept(self, pts, x, y, rng, ring, mode) -> RangeImage:
        """Projection of a scan with points to drop (NaN/inf, zero range): the others, re-indexed.

        ``rng`` (the result's point_range) holds every point's range; dropped points get NaN, row
        and col -1.
        """
        n = len(pts)
        ok = np.empty(n, np.bool_)
        kept, finite = _kernels().valid_points(pts, rng, ok, _MIN_RANGE32)
        if kept == 0:
            raise InputError(f"no valid points: all {n} are NaN/inf or closer than {MIN_RANGE} m")
        # Real scans often hold a few zero-range returns (no echo): worth a debug line, not a warning
        # on every scan of a training run; NaN/inf points are a problem of the file and are warned.
        log.log(logging.WARNING if finite < n else logging.DEBUG,
                "dropped %d of %d points (%d NaN/inf, %d at zero range)",
                n - kept, n, n - finite, finite - kept)
        keep = np.flatnonzero(ok)
        ring = None if ring is None else np.asarray(ring)[keep]
        rng_k = rng[keep]
        az_k = np.arctan2(y[keep], x[keep])
        col_k = np.empty(len(keep), np.int32)
        row_k, index, image, used = self._project_valid(pts[keep], rng_k, az_k, col_k, ring, mode)
        index = np.where(index >= 0, keep[np.maximum(index, 0)], -1).astype(np.int32)
        row, col = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        row[keep], col[keep] = row_k, col_k
        rng.fill(np.nan)
        rng[keep] = rng_k
        return RangeImage(image, row, col, index, rng, used, n - kept, self.full_circle)

    def _project_valid(self, pts, rng, az, col, ring, mode):
        """Rows, index image, image and row mode of points that all have a finite range.

        The compiled kernels bin the columns (into ``col``), mark the points outside the window
        (row and col -1), pick the closest point of each pixel and gather the image.
        """
        kernels = _kernels()
        kernels.columns(az, col, self._col_start, self._col_scale, self.width, self.full_circle)
        row, used = self._rows(mode, pts, az, rng, ring)
        index = _output("index", (self.height, self.width), np.int32)
        flat = index.reshape(-1)
        best = _scratch("best", flat.shape, np.float32)
        kernels.closest_pixels(row, col, rng, self.width, self.height, flat, best)
        image = _output("image", (self.height, self.width, 6), np.float32)
        words = image.reshape(-1, 6).view(np.uint64)  # (H*W, 3): 8-byte words of float32 pairs
        xyzi = _xyzi(pts).view(np.uint64)
        kernels.fill_image(xyzi, rng.view(np.uint32), flat, words, _MASK_WORD, _RANGE_SHIFT)
        return row, index, image, used

    def _rows(self, mode, pts, az, rng, ring) -> tuple[np.ndarray, str]:
        """(N,) int32 row of every point (-1: outside the table's elevations) and the mode used."""
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        if mode == "auto":
            if ring is not None and _looks_like_ring(ring, self.height):
                mode = "ring"
            else:
                out = _output("rows", az.shape, np.int32)
                rows = _scan_rows(az, z, rng, self.height, strict=False, out=out)
                if rows is not None:
                    return rows, "scan"
                mode = "table"
        if mode == "ring":
            if ring is None:
                raise InputError("row mode 'ring' needs a ring channel (column 4 of the points)")
            return self._ring_rows(ring), "ring"
        if mode == "scan":
            out = _output("rows", az.shape, np.int32)
            return _scan_rows(az, z, rng, self.height, strict=True, out=out), "scan"
        if mode == "table":
            return self._table_rows(pts), "table"
        return self._even_rows(z, np.sqrt(x * x + y * y)), "even"

    def _ring_rows(self, ring: np.ndarray) -> np.ndarray:
        r = np.asarray(ring)
        if not _looks_like_ring(r, self.height):
            raise InputError(f"ring channel must hold integers 0..{self.height - 1} for {self.sensor.name}")
        r = r.astype(np.int32)
        return (self.height - 1 - r) if self.sensor.ring_zero == "bottom" else r

    def _table_rows(self, pts: np.ndarray) -> np.ndarray:
        """Nearest beam in tan(elevation), seen from each beam's own origin (vertical offset)."""
        row = _output("rows", (len(pts),), np.int32)
        hi, lo = self._tan_limits
        _kernels().table_rows(
            pts, self._neg_mid, self._offsets, self._offsets.mean(), self._has_offsets, hi, lo, row
        )
        return row

    def _even_rows(self, z: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """Even elevation bins from half a bin above the top beam to half a bin below the bottom."""
        elev = np.arctan2(z, rho)
        up, down = self.sensor.fov_up, self.sensor.fov_down
        step = (up - down) / max(self.height - 1, 1)
        top = np.float32(up + step / 2)
        row = np.floor((top - elev) * np.float32(1.0 / step)).astype(np.int32)
        row[(row < 0) | (row >= self.height)] = -1
        return row

    # --------------------------------------------------------------------------------- unproject
    def unproject(
        self,
        label_image: np.ndarray,
        range_image: RangeImage,
        knn: int = 0,
        window: int = 5,
        cutoff: float = 1.0,
        fill: int = 0,
    ) -> np.ndarray:
        """Per-point labels from an (H, W) label image; points outside the image get ``fill``.

        With ``knn > 0`` a point hidden behind a closer one takes the majority label of the ``knn``
        pixels of a ``window`` x ``window`` neighbourhood closest to it in range (within ``cutoff``
        metres), as in RangeNet++'s post-processing; visible points keep their pixel's label.
        """
        return unproject(label_image, range_image, knn=knn, window=window, cutoff=cutoff, fill=fill)


def unproject(
    label_image: np.ndarray,
    range_image: RangeImage,
    knn: int = 0,
    window: int = 5,
    cutoff: float = 1.0,
    fill: int = 0,
) -> np.ndarray:
    """Map an (H, W) label image back to every point of ``range_image`` (see SphericalProjection)."""
    labels_img = np.asarray(label_image)
    if labels_img.shape != range_image.shape:
        raise InputError(f"label image has shape {labels_img.shape}, range image {range_image.shape}")
    H, W = range_image.shape
    rows, cols = range_image.rows, range_image.cols
    pix = np.where(rows >= 0, rows * np.int32(W) + cols, np.int32(H * W))
    ext = np.empty(H * W + 1, dtype=labels_img.dtype)
    ext[:-1] = labels_img.ravel()
    ext[-1] = fill
    out = ext[pix]
    if knn > 0:
        hid = np.flatnonzero(range_image.hidden())
        if len(hid):
            out[hid] = _knn_vote(labels_img, range_image, hid, knn, window, cutoff, out[hid])
    return out


def _knn_vote(labels_img, ri: RangeImage, pts, k, window, cutoff, current) -> np.ndarray:
    """Majority label among the k range-nearest valid pixels around each point's pixel.

    The range and label images are padded by half a window (wrapped around for the full circle,
    empty otherwise), so every neighbour is one flat offset away without bounds checks.
    """
    half = window // 2
    wrap = "wrap" if ri.full_circle else "constant"
    rng_pad = np.pad(ri.image[..., 4], ((half, half), (0, 0)))
    rng_pad = np.pad(rng_pad, ((0, 0), (half, half)), mode=wrap)
    lab_pad = np.pad(labels_img, ((half, half), (0, 0)))
    lab_pad = np.pad(lab_pad, ((0, 0), (half, half)), mode=wrap)
    Wp = rng_pad.shape[1]
    dr, dc = np.mgrid[-half : half + 1, -half : half + 1]
    offsets = (dr * Wp + dc).ravel().astype(np.int64)
    centre = (ri.rows[pts].astype(np.int64) + half) * Wp + ri.cols[pts] + half
    flat = centre[:, None] + offsets[None, :]
    neigh = rng_pad.ravel()[flat]
    dist = np.abs(neigh - ri.point_range[pts, None])
    dist[(neigh <= 0) | (dist > cutoff)] = np.inf
    k = min(k, dist.shape[1])
    near = np.argpartition(dist, k - 1, axis=1)[:, :k]
    ok = np.isfinite(np.take_along_axis(dist, near, axis=1))
    near_l = lab_pad.ravel()[np.take_along_axis(flat, near, axis=1)].astype(np.int64)
    if near_l.size and near_l.min() < 0:
        raise InputError("label image holds negative labels")
    n_cls = int(near_l.max()) + 1 if near_l.size else 1
    votes = np.bincount(
        (np.arange(len(pts))[:, None] * n_cls + near_l)[ok], minlength=len(pts) * n_cls
    ).reshape(len(pts), n_cls)
    return np.where(ok.any(axis=1), votes.argmax(axis=1), current).astype(labels_img.dtype)


# ------------------------------------------------------------------------------------ scan order
def scan_rows(
    az: np.ndarray, z: np.ndarray, dist: np.ndarray, beams: int, strict: bool = True
) -> np.ndarray | None:
    """Rows recovered from the storage order of a scan kept ring by ring (KITTI .bin).

    Each ring is one azimuth sweep from a common start direction, so a ring boundary is where the
    azimuth measured from that direction drops by a whole turn. ``beams`` turns of total sweep bound
    the start direction to a window; inside it, the start is where consecutive points step one beam
    up or down at nearly the same azimuth (mode of those steps). ``dist`` is the range (or the
    horizontal distance). Returns None (or raises when ``strict``) unless exactly ``beams`` rings
    are found; row 0 is the top ring whichever end of the file it is stored at.
    """
    return _scan_rows(np.asarray(az), np.asarray(z), np.asarray(dist), beams, strict, None)


def _scan_rows(az, z, dist, beams: int, strict: bool, out: np.ndarray | None) -> np.ndarray | None:
    """scan_rows writing into ``out`` (a new array when None); az, z, dist are 1-D arrays.

    Compiled passes: the azimuth wraps, the beam steps near the start (reduced to the start
    direction in the same kernel), the sweep boundaries, and the ring of every point.
    """
    n = len(az)
    if n < 2 * beams:
        return _scan_fail(f"too few points ({n}) to recover {beams} rings from the scan order", strict)
    kernels = _kernels()
    pi = az.dtype.type(np.pi)  # pi in the dtype NumPy compared the azimuth steps in
    wraps = kernels.azimuth_wraps(az, pi)  # +-2 pi jumps where az wraps at +-pi
    total = float(az[-1]) - float(az[0]) + 2.0 * np.pi * wraps
    lo = total - 2.0 * np.pi * beams  # start lies in (az[0] + lo, az[0]]: at most `beams` sweeps
    if not -2.0 * np.pi < lo < 0.0:
        return _scan_fail(
            f"points are not stored ring by ring: the azimuth turns {total / (2 * np.pi):.1f} times "
            f"for {beams} beams",
            strict,
        )
    start = np.float32(_wrap(np.array([az[0] + _sweep_start(az, z, dist, lo)]))[0])
    found = _scratch("scan_bounds", (n,), np.int64)
    bounds = found[: kernels.sweep_bounds(az, start, _TWO_PI, _PI32, found)]
    if len(bounds) + 1 != beams:
        return _scan_fail(
            f"points are not stored ring by ring: found {len(bounds) + 1} azimuth sweeps for {beams} beams",
            strict,
        )
    top = bounds[0] if len(bounds) else n  # end of the first ring
    bottom = bounds[-1] if len(bounds) else 0  # start of the last ring
    with np.errstate(divide="ignore", invalid="ignore"):  # sin or tan of the elevation
        first, last = z[:top] / dist[:top], z[bottom:] / dist[bottom:]
    ring = np.empty(n, np.int32) if out is None else out
    kernels.fill_rings(ring, bounds, beams, bool(_nanmean(first) < _nanmean(last)))
    return ring


def _sweep_start(az, z, dist, lo: float) -> float:
    """Start of the sweeps relative to az[0], in (lo, 0]: mode of the beam steps in that window.

    A beam step is a change of elevation between consecutive points at nearly the same azimuth
    (step under 0.05 rad). Only points within 0.03 rad of the window are looked at.
    """
    margin = 0.03  # > half the largest azimuth step counted, plus rounding
    width = -lo + 2.0 * margin
    window, left, right = 0, 0.0, 0.0  # window 0: every point
    if width < 2.0 * np.pi:
        left = float((az[0] + lo - margin + np.pi) % (2.0 * np.pi) - np.pi)  # in [-pi, pi)
        right = left + width
        window = 1 if right <= np.pi else 2  # 2: the window wraps past +pi
    typ = az.dtype.type  # bounds as NumPy compared them: cast to the azimuth's dtype
    return _kernels().sweep_start(
        az, z, dist, float(lo), window, typ(left), typ(right), typ(right - 2.0 * np.pi),
        np.float32(0.002), np.float32(0.05), _scratch("scan_steps", (len(az),), np.int64),
    )


def _wrap(d: np.ndarray) -> np.ndarray:
    """Angle differences wrapped to [-pi, pi] in place (cheaper than a float modulo)."""
    d[d > np.pi] -= _TWO_PI
    d[d < -np.pi] += _TWO_PI
    return d


def _nanmean(a: np.ndarray) -> float:
    """np.nanmean, without its overhead when there is no NaN (the usual case)."""
    total = a.sum()
    return np.nanmean(a) if np.isnan(total) else total / len(a)


def _scan_fail(message: str, strict: bool) -> None:
    if strict:
        raise InputError(message + " (use rows 'table' or 'even')")
    log.debug("scan-order rows unavailable: %s", message)
    return None


def _looks_like_ring(ring: np.ndarray, beams: int, min_cover: float = 0.0) -> bool:
    """Integers in 0..beams-1 (and, for a guessed channel, covering ``min_cover`` of the beams)."""
    r = np.asarray(ring)
    if r.size == 0:
        return False
    lo, hi = r.min(), r.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi >= beams:
        return False
    if not np.all(r == np.round(r)):
        return False
    if min_cover > 0:  # e.g. a LAS return number (1..5) is not a ring index of a 64-beam sensor
        used = np.count_nonzero(np.bincount(r.astype(np.int64), minlength=beams))
        return used >= min_cover * beams
    return True


# ------------------------------------------------------------------------------- point helpers
def _as_points(points: np.ndarray) -> np.ndarray:
    """(N, >=3) C-contiguous float32 points (the input itself when it already is)."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise InputError(f"points must have shape (N, >=3), got {pts.shape}")
    if len(pts) == 0:
        raise InputError("point cloud is empty")
    if pts.dtype != np.float32 or not pts.flags.c_contiguous:
        pts = np.ascontiguousarray(pts, dtype=np.float32)  # one layout for the compiled kernels
    return pts


def _xyzi(pts: np.ndarray) -> np.ndarray:
    """(N, 4) C-contiguous float32 x, y, z, intensity (zero when absent): ``pts`` when it is one."""
    if pts.shape[1] == 4:
        return pts
    p4 = _scratch("xyzi", (len(pts), 4), np.float32)
    c = min(pts.shape[1], 4)
    p4[:, :c] = pts[:, :c]
    p4[:, c:] = 0.0
    return p4
