"""Ground removal as in LATTE: the ground as one plane per (range band, azimuth sector) cell.

Each plane is fitted to the lowest points of its cell (seeds) by the smallest singular vector of
their 3x3 covariance, then refined by re-selecting the points within a distance threshold, for a
fixed number of iterations or until the inliers stop changing. All cells are fitted at once: the
fit runs on an even subsample of the candidate points sorted by cell, whose per-cell moment sums
are one ``np.add.reduceat`` and whose 3x3 problems are one batched ``eigh`` (a per-cell Python
loop of SVDs costs ten times that). Every per-point step over the whole cloud (cells, mask) runs
in float32 on views of the points, a few passes each: about 8-15 ms of CPU time for a
120,000-point frame here (``scripts/bench_latte_oneclick.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latte.core.config import GroundConfig


@dataclass(frozen=True)
class GroundModel:
    """Planes n . p + d = 0 per cell (unit normals pointing up), and the cell of every point."""

    normals: np.ndarray  # (C, 3)
    offsets: np.ndarray  # (C,)
    cell: np.ndarray  # (N,) cell index of each input point
    config: GroundConfig

    def height(self, points: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """Signed height of ``points`` above the ground plane of their cell (metres)."""
        p = np.asarray(points, dtype=np.float64)[:, :3]
        c = _cells(p, self.config) if cells is None else cells
        n = self.normals
        return p[:, 0] * n[c, 0] + p[:, 1] * n[c, 1] + p[:, 2] * n[c, 2] + self.offsets[c]

    def ground_z(self, x: float, y: float) -> float:
        """Height z of the ground under (x, y) in the LiDAR frame."""
        c = int(_cells(np.array([[x, y, 0.0]]), self.config)[0])
        n, d = self.normals[c], self.offsets[c]
        return float(-(n[0] * x + n[1] * y + d) / n[2])


def _cells(points: np.ndarray, cfg: GroundConfig) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    return _cells_xy(np.asarray(x, np.float32), np.asarray(y, np.float32), cfg)


def _float32_points(points: np.ndarray) -> np.ndarray:
    """``points`` ((N, >=3)) as float32: the cloud itself when it is float32 (no copy), else one
    conversion of x, y, z. float32 halves the memory traffic of every per-point step and is exact
    to tens of micrometres at 200 m."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"points must be (N, >=3), got shape {pts.shape}")
    return pts if pts.dtype == np.float32 else pts[:, :3].astype(np.float32)


def _columns(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z of ``points`` as float32 column views (see ``_float32_points``)."""
    pts = _float32_points(points)
    return pts[:, 0], pts[:, 1], pts[:, 2]


def _cells_xy(x: np.ndarray, y: np.ndarray, cfg: GroundConfig) -> np.ndarray:
    """(N,) cell of every point: range band x ``cfg.sectors`` + azimuth sector, computed in
    float32 (a handful of passes over the cloud) and converted to an index once."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    r2 = x * x + y * y
    f = np.arctan2(y, x)
    f += np.float32(np.pi)
    f *= np.float32(cfg.sectors / (2 * np.pi))
    np.floor(f, out=f)
    np.minimum(f, np.float32(cfg.sectors - 1), out=f)
    for b in cfg.range_bands[1:-1]:
        np.add(f, np.float32(cfg.sectors), out=f, where=r2 >= np.float32(b * b))
    return f.astype(np.intp)


def _f32_above(t: float) -> np.float32:
    """Smallest float32 >= ``t``: for float32 z, ``z < t`` exactly when ``z < _f32_above(t)``."""
    v = np.float32(t)
    return v if float(v) >= t else np.nextafter(v, np.float32(np.inf))


def _f32_below(t: float) -> np.float32:
    """Largest float32 <= ``t``: for float32 z, ``z > t`` exactly when ``z > _f32_below(t)``."""
    v = np.float32(t)
    return v if float(v) <= t else np.nextafter(v, np.float32(-np.inf))


def _products(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(10, n) float64 per-point terms of the plane moments: 1, x, y, z, xx, xy, xz, yy, yz, zz
    (one row per term, so that per-cell sums run along contiguous memory)."""
    p = np.empty((10, len(x)))
    p[0] = 1.0
    p[1], p[2], p[3] = x, y, z
    k = 4
    for a in range(1, 4):
        for b in range(a, 4):
            np.multiply(p[a], p[b], out=p[k])
            k += 1
    return p


def _cell_sums(prod: np.ndarray, sel: np.ndarray, starts: np.ndarray, full: np.ndarray, n: int) -> np.ndarray:
    """(n, 10) per-cell moments of the selected columns of ``prod`` (columns sorted by cell;
    ``starts`` are the first columns of the non-empty cells ``full``): one ``np.add.reduceat``
    over contiguous rows instead of ten ``np.bincount`` calls with gathered weights."""
    m = np.zeros((n, 10))
    if len(starts):
        m[full] = np.add.reduceat(prod * sel.astype(np.float64), starts, axis=1).T
    return m


def _planes(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares planes from moments: normals (smallest singular vector of the covariance), offsets."""
    cnt = np.maximum(m[:, 0], 1.0)
    mean = m[:, 1:4] / cnt[:, None]
    cov = np.empty((len(m), 3, 3))
    k = 4
    for a in range(3):
        for b in range(a, 3):
            cov[:, a, b] = cov[:, b, a] = m[:, k] / cnt - mean[:, a] * mean[:, b]
            k += 1
    _, vecs = np.linalg.eigh(cov)
    normals = vecs[:, :, 0]
    normals *= np.where(normals[:, 2:3] < 0, -1.0, 1.0)
    return normals, -np.einsum("ij,ij->i", normals, mean)


def _seeds(cz: np.ndarray, cc: np.ndarray, counts: np.ndarray, zmin: float, cfg: GroundConfig) -> np.ndarray:
    """Seed mask of the candidates (sorted by cell): the points within ``seed_height`` of their
    cell's low level, the 5th percentile of a 10 cm height histogram (robust to the few points
    below the road from multipath)."""
    n_cells = len(counts)
    zbin = np.minimum(((cz - zmin) * 10.0).astype(np.int64), 29)
    hist = np.bincount(cc * 30 + zbin, minlength=n_cells * 30).reshape(n_cells, 30)
    cum = np.cumsum(hist, axis=1)
    target = np.maximum(1, (0.05 * cum[:, -1]).astype(np.int64))
    low = zmin + 0.1 * np.argmax(cum >= target[:, None], axis=1)
    return cz < np.repeat(low, counts) + cfg.seed_height


def fit_ground(points: np.ndarray, config: GroundConfig | None = None) -> GroundModel:
    """Fit the ground planes of ``points`` ((N, >=3) LiDAR frame; NaN rows are ignored)."""
    cfg = config or GroundConfig()
    pts = _float32_points(points)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    finite = True
    with np.errstate(invalid="ignore"):
        all_finite = bool(np.isfinite(x + y + z).all())
    if not all_finite:
        finite = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
        x, y, z = (np.where(finite, v, np.float32(0.0)) for v in (x, y, z))
    n_cells = (len(cfg.range_bands) - 1) * cfg.sectors
    cell = _cells_xy(x, y, cfg)
    # Only points that can be ground take part in the fit (keeps the loop on a fraction of the cloud).
    zmin = -cfg.sensor_height - 1.5
    cand = np.flatnonzero(finite & (z < _f32_above(-cfg.sensor_height + 1.5)) & (z > _f32_below(zmin)))
    # A plane needs far fewer than the ~90,000 candidates of a KITTI frame: fit on an even
    # subsample of about 20,000 (the mask is still computed for every point).
    cand = cand[:: max(1, len(cand) // 20000)]
    # Sorted by cell (a linear-time radix sort of small ints), the candidates of a cell are one
    # run: per-cell sums are one reduceat, per-point lookups of a cell's plane one np.repeat.
    cand = cand[np.argsort(cell[cand].astype(np.int16), kind="stable")]
    cc = cell[cand]
    rows = np.take(pts, cand, axis=0)  # one gather of whole rows (finite: NaN rows are no candidates)
    prod = _products(rows[:, 0], rows[:, 1], rows[:, 2])
    counts = np.bincount(cc, minlength=n_cells)
    full = np.flatnonzero(counts)
    starts = (np.cumsum(counts) - counts)[full]
    sel = _seeds(prod[3], cc, counts, zmin, cfg)

    max_tilt = np.cos(np.radians(cfg.max_slope_deg))
    flat_n, flat_d = np.array([0.0, 0.0, 1.0]), cfg.sensor_height
    normals = np.tile(flat_n, (n_cells, 1))
    offsets = np.full(n_cells, flat_d)
    for _ in range(cfg.iterations):
        m = _cell_sums(prod, sel, starts, full, n_cells)
        g_n, g_d = _planes(m.sum(axis=0, keepdims=True))
        if m[:, 0].sum() < 3 or g_n[0, 2] < max_tilt:
            g_n, g_d = flat_n[None], np.array([flat_d])
        normals, offsets = _planes(m)
        bad = (m[:, 0] < cfg.min_points) | (normals[:, 2] < max_tilt) | ~np.isfinite(normals.sum(axis=1))
        normals[bad] = g_n[0]
        offsets[bad] = g_d[0]
        h = np.repeat(offsets, counts)
        for k in range(3):
            h += prod[k + 1] * np.repeat(normals[:, k], counts)
        new_sel = np.abs(h) < cfg.distance_threshold
        if np.array_equal(new_sel, sel):
            break
        sel = new_sel
    return GroundModel(normals, offsets, cell, cfg)


def ground_mask(
    points: np.ndarray, config: GroundConfig | None = None, model: GroundModel | None = None
) -> np.ndarray:
    """(N,) bool: points within the distance threshold of the ground or below it (NaN rows: True)."""
    cfg = config or (model.config if model else GroundConfig())
    model = model or fit_ground(points, cfg)
    x, y, z = _columns(points)
    # One float32 plane table gathered per point (the cells are small ints): height above the plane.
    plane = np.c_[model.normals, model.offsets].T.astype(np.float32)  # (4, C), contiguous rows
    c = model.cell
    h = x * np.take(plane[0], c)
    h += y * np.take(plane[1], c)
    h += z * np.take(plane[2], c)
    h += np.take(plane[3], c)
    with np.errstate(invalid="ignore"):
        return ~(h >= np.float32(cfg.distance_threshold))  # NaN rows compare False: they count as ground
