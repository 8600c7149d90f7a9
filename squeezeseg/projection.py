"""Spherical projection of a LiDAR scan to an (H, W, 6) range image and back.

Convention (SqueezeSeg format, see docs/projection.md): row 0 is the top beam; columns are even
azimuth bins of ``fov / width`` degrees, column 0 at azimuth ``+fov/2`` (left) and increasing to the
right (clockwise seen from above), so a 90-degree window has column 0 at +45 degrees and the full
circle has column 0 behind the car at +180 degrees. Channels: x, y, z, intensity, range, mask.
When several points fall into one pixel the closest wins; ties go to the lower point index.
"""

from __future__ import annotations

import logging
import threading
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
_TWO_PI = np.float32(2.0 * np.pi)
_SCRATCH = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread work buffer reused between calls (never returned to the caller).

    Fresh multi-megabyte arrays cost page faults on every call (half the CPU time of a 64x2048
    projection on the reference machine); reusing the few big temporaries avoids most of them.
    """
    bufs = _SCRATCH.__dict__
    size = int(np.prod(shape))
    buf = bufs.get(name)
    if buf is None or buf.dtype != np.dtype(dtype) or buf.size < size:
        buf = np.empty(max(size, 1), dtype)
        bufs[name] = buf
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
        xyz = _scratch("xyz", (3, n), np.float32)  # channel rows: every pass below is contiguous
        xyz[...] = pts[:, :3].T
        x, y, z = xyz
        rng = x * x
        tmp = y * y
        rng += tmp
        np.multiply(z, z, out=tmp)
        rng += tmp
        np.sqrt(rng, out=rng)
        finite = rng < np.inf  # False for NaN and inf
        if pts.shape[1] >= 4:
            finite &= np.isfinite(pts[:, 3])
        ok = finite & (rng > MIN_RANGE)
        keep = None
        dropped = n - int(np.count_nonzero(ok))
        if dropped:
            keep = np.flatnonzero(ok)
            nonfinite = n - int(np.count_nonzero(finite))
            log.warning(
                "dropped %d of %d points (%d NaN/inf, %d at zero range)",
                dropped, n, nonfinite, dropped - nonfinite,
            )
            pts, rng, xyz = pts[keep], rng[keep], np.ascontiguousarray(xyz[:, keep])
            ring = None if ring is None else np.asarray(ring)[keep]
            x, y, z = xyz
        az = np.arctan2(y, x)
        col = self._columns(az)
        row, used = self._rows(mode, x, y, z, az, rng, ring)
        if self.full_circle and used in ("scan", "ring"):
            inside = None  # every point has a column and a beam: nothing to mask
        else:
            inside = (col >= 0) & (col < self.width) & (row >= 0)
            row = np.where(inside, row, np.int32(-1))
            col = np.where(inside, col, np.int32(-1))
        sub = None if self.fov_deg >= 180.0 else np.flatnonzero(inside)  # narrow window: pack first
        index = self._closest(row, col, rng, inside, sub)
        image = self._fill(pts, rng, index, sub)
        if keep is not None:
            index = np.where(index >= 0, keep[np.maximum(index, 0)], -1).astype(np.int32)
            rows_all = np.full(n, -1, np.int32)
            cols_all = np.full(n, -1, np.int32)
            range_all = np.full(n, np.nan, np.float32)
            rows_all[keep], cols_all[keep], range_all[keep] = row, col, rng
            row, col, rng = rows_all, cols_all, range_all
        return RangeImage(image, row, col, index, rng, used, dropped, self.full_circle)

    def _columns(self, az: np.ndarray) -> np.ndarray:
        """Azimuth bins: column 0 at +fov/2, increasing clockwise; outside the window < 0 or >= W."""
        scale = np.float32(self.width / np.deg2rad(self.fov_deg))
        half = np.float32(np.deg2rad(self.fov_deg) / 2.0)
        col = np.floor((half - az) * scale).astype(np.int32)
        if self.full_circle:
            col[col >= self.width] -= self.width  # az == -pi lands on column 0
        return col

    def _rows(self, mode, x, y, z, az, rng, ring) -> tuple[np.ndarray, str]:
        if mode == "auto":
            if ring is not None and _looks_like_ring(ring, self.height):
                mode = "ring"
            else:
                rows = scan_rows(az, z, rng, self.height, strict=False)
                if rows is not None:
                    return rows, "scan"
                mode = "table"
        if mode == "ring":
            if ring is None:
                raise InputError("row mode 'ring' needs a ring channel (column 4 of the points)")
            return self._ring_rows(ring), "ring"
        if mode == "scan":
            return scan_rows(az, z, rng, self.height, strict=True), "scan"
        rho = np.sqrt(x * x + y * y)
        if mode == "table":
            return self._table_rows(z, rho), "table"
        return self._even_rows(z, rho), "even"

    def _ring_rows(self, ring: np.ndarray) -> np.ndarray:
        r = np.asarray(ring)
        if not _looks_like_ring(r, self.height):
            raise InputError(f"ring channel must hold integers 0..{self.height - 1} for {self.sensor.name}")
        r = r.astype(np.int32)
        return (self.height - 1 - r) if self.sensor.ring_zero == "bottom" else r

    def _table_rows(self, z: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """Nearest beam in tan(elevation), seen from each beam's own origin (vertical offset)."""
        inv = 1.0 / np.maximum(rho, np.float32(1e-6))
        t = (z - self._offsets.mean()) * inv
        row = np.searchsorted(self._neg_mid, -t).astype(np.int32)
        if self._has_offsets:
            for _ in range(2):  # re-evaluate with the offset of the beam found; converges in 1-2 steps
                t = (z - self._offsets[row]) * inv
                row = np.searchsorted(self._neg_mid, -t).astype(np.int32)
        hi, lo = self._tan_limits
        row[(t > hi) | (t < lo)] = -1
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

    def _closest(self, row, col, rng, inside, sub) -> np.ndarray:
        """(H, W) index of the closest point per pixel (ties: lower index), by one scatter-min.

        The key packs the float32 range bits (monotonic for positive floats) above the point index,
        so one ``np.minimum.at`` over uint64 picks the closest point and breaks ties by index.
        ``sub`` (indices of the points inside) packs a narrow window first; without it, points
        outside go to a spare slot; ``inside`` None means every point is inside.
        """
        hw = self.height * self.width
        if sub is not None:
            pix = row[sub] * np.int32(self.width) + col[sub]
            key = _scratch("key", (len(sub),), np.uint64)
            key[...] = rng[sub].view(np.uint32)
            key <<= np.uint64(32)
            key |= sub.astype(np.uint64)
        else:
            pix = row * np.int32(self.width) + col
            if inside is not None:
                pix = np.where(inside, pix, np.int32(hw))
            key = _scratch("key", (len(rng),), np.uint64)
            key[...] = rng.view(np.uint32)
            key <<= np.uint64(32)
            key |= _arange_u64(len(rng))
        best = _scratch("best", (hw + 1,), np.uint64)
        best.fill(np.iinfo(np.uint64).max)
        np.minimum.at(best, pix, key)
        if np.little_endian:  # low 32 bits = index; empty pixels hold 0xFFFFFFFF = -1 as int32
            index = best[:hw].view(np.int32)[0::2].copy()
        else:
            empty = best[:hw] == np.iinfo(np.uint64).max
            index = np.where(empty, -1, (best[:hw] & np.uint64(0xFFFFFFFF)).astype(np.int32))
        return index.reshape(self.height, self.width)

    def _fill(self, pts, rng, index, sub) -> np.ndarray:
        """Gather the winners' channels; index -1 picks the all-zero sentinel row.

        With ``sub`` only the points inside the window are packed (a quarter of a scan at 90 deg).
        """
        flat = index.ravel()
        if sub is not None:
            lut = np.full(len(pts) + 1, len(sub), np.int32)  # -1 -> last entry -> sentinel row
            lut[sub] = np.arange(len(sub), dtype=np.int32)
            flat = lut[flat]
        m = len(pts) if sub is None else len(sub)
        ext = _scratch("ext", (m + 1, 6), np.float32)
        c = min(pts.shape[1], 4)
        ext[:-1, :c] = pts[:, :c] if sub is None else pts[sub, :c]
        ext[:-1, c:4] = 0.0
        ext[:-1, 4] = rng if sub is None else rng[sub]
        ext[:-1, 5] = 1.0
        ext[-1] = 0.0
        return np.take(ext, flat, axis=0).reshape(self.height, self.width, 6)

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
    n = len(az)
    if n < 2 * beams:
        return _scan_fail(f"too few points ({n}) to recover {beams} rings from the scan order", strict)
    d = np.diff(az)  # raw steps: +-2 pi jumps where the azimuth wraps at +-pi
    wraps = np.count_nonzero(d < -np.pi) - np.count_nonzero(d > np.pi)
    total = float(az[-1]) - float(az[0]) + 2.0 * np.pi * wraps
    lo = total - 2.0 * np.pi * beams  # start lies in (az[0] + lo, az[0]]: at most `beams` sweeps
    if not -2.0 * np.pi < lo < 0.0:
        return _scan_fail(
            f"points are not stored ring by ring: the azimuth turns {total / (2 * np.pi):.1f} times "
            f"for {beams} beams",
            strict,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        t = z / dist  # sin or tan of the elevation
    start = np.float32(_wrap(np.array([az[0] + _sweep_start(t, d, az, lo)]))[0])
    rel = az - start
    np.add(rel, _TWO_PI, out=rel, where=rel < 0)  # azimuth from the start direction, [0, 2 pi)
    bounds = np.flatnonzero(np.diff(rel) < -np.float32(np.pi)) + 1
    if len(bounds) + 1 != beams:
        return _scan_fail(
            f"points are not stored ring by ring: found {len(bounds) + 1} azimuth sweeps for {beams} beams",
            strict,
        )
    counts = np.diff(np.concatenate([[0], bounds, [n]]))
    ring = np.repeat(np.arange(beams, dtype=np.int32), counts)
    if np.nanmean(t[: bounds[0]]) < np.nanmean(t[bounds[-1] :]):
        ring = np.int32(beams - 1) - ring  # stored bottom beam first
    return ring


def _sweep_start(t, d, az, lo: float) -> float:
    """Start of the sweeps relative to az[0], in (lo, 0]: mode of the beam steps in that window.

    A beam step is a change of elevation between consecutive points at nearly the same azimuth.
    """
    dt = np.diff(t)
    np.abs(dt, out=dt)
    step = dt > np.float32(0.002)
    step &= np.abs(d) < np.float32(0.05)
    steps = np.flatnonzero(step)
    rel = np.mod(az[steps].astype(np.float64) - az[0] + 0.5 * d[steps] - lo, 2.0 * np.pi)
    rel = rel[rel <= -lo]
    if len(rel) == 0:
        return -1e-6
    bins = np.floor(np.rad2deg(rel) * 2.0).astype(np.int64)  # half-degree bins
    mode = int(np.argmax(np.bincount(bins)))
    return float(lo + np.median(rel[np.abs(bins - mode) <= 1]))


_ARANGE = np.arange(0, dtype=np.uint64)


def _arange_u64(n: int) -> np.ndarray:
    """0..n-1 as uint64, a read-only view of a cached array grown on demand."""
    global _ARANGE
    if len(_ARANGE) < n:
        _ARANGE = np.arange(max(n, 2 * len(_ARANGE)), dtype=np.uint64)
        _ARANGE.flags.writeable = False
    return _ARANGE[:n]


def _wrap(d: np.ndarray) -> np.ndarray:
    """Angle differences wrapped to [-pi, pi] in place (cheaper than a float modulo)."""
    d[d > np.pi] -= _TWO_PI
    d[d < -np.pi] += _TWO_PI
    return d


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


def _as_points(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise InputError(f"points must have shape (N, >=3), got {pts.shape}")
    if len(pts) == 0:
        raise InputError("point cloud is empty")
    if pts.dtype != np.float32:
        pts = pts.astype(np.float32)
    return pts
