"""Ground removal as in LATTE: the ground as one plane per (range band, azimuth sector) cell.

Each plane is fitted to the lowest points of its cell (seeds) by the smallest singular vector of
their 3x3 covariance, then refined by re-selecting the points within a distance threshold, for a
fixed number of iterations or until the inliers stop changing. All cells are fitted at once: the
per-cell sums are accumulated with ``np.bincount`` and the 3x3 problems solved as one batched
``eigh``, which keeps a 120,000-point frame to a few milliseconds (a per-cell Python loop of SVDs
costs ten times that).
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
    return _cells_xy(np.asarray(x, np.float64), np.asarray(y, np.float64), cfg)


def _cells_xy(x: np.ndarray, y: np.ndarray, cfg: GroundConfig) -> np.ndarray:
    x = x.astype(np.float32, copy=False)
    y = y.astype(np.float32, copy=False)
    r2 = x * x + y * y
    band = np.zeros(len(x), dtype=np.int64)
    for b in cfg.range_bands[1:-1]:
        band += r2 >= np.float32(b * b)
    sector = ((np.arctan2(y, x) + np.float32(np.pi)) * np.float32(cfg.sectors / (2 * np.pi))).astype(np.int64)
    np.minimum(sector, cfg.sectors - 1, out=sector)
    sector += band * cfg.sectors
    return sector


def _cell_moments(x: np.ndarray, y: np.ndarray, z: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    """(n, 10) per-cell sums: count, x, y, z, xx, xy, xz, yy, yz, zz."""
    return np.stack(
        [
            np.bincount(c, minlength=n).astype(np.float64),
            np.bincount(c, x, n),
            np.bincount(c, y, n),
            np.bincount(c, z, n),
            np.bincount(c, x * x, n),
            np.bincount(c, x * y, n),
            np.bincount(c, x * z, n),
            np.bincount(c, y * y, n),
            np.bincount(c, y * z, n),
            np.bincount(c, z * z, n),
        ],
        axis=1,
    )


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


def fit_ground(points: np.ndarray, config: GroundConfig | None = None) -> GroundModel:
    """Fit the ground planes of ``points`` ((N, >=3) LiDAR frame; NaN rows are ignored)."""
    cfg = config or GroundConfig()
    pts = np.asarray(points)
    x, y, z = (np.asarray(pts[:, k], dtype=np.float64) for k in range(3))
    finite = np.isfinite(x + y + z)
    if not finite.all():
        x, y, z = (np.where(finite, v, 0.0) for v in (x, y, z))
    n_cells = (len(cfg.range_bands) - 1) * cfg.sectors
    cell = _cells_xy(x, y, cfg)
    # Only points that can be ground take part in the fit (keeps the loop on a fraction of the cloud).
    zmin = -cfg.sensor_height - 1.5
    cand = np.flatnonzero(finite & (z < -cfg.sensor_height + 1.5) & (z > zmin))
    # A plane needs far fewer than the ~90,000 candidates of a KITTI frame: fit on an even
    # subsample of about 20,000 (the mask is still computed for every point).
    cand = cand[:: max(1, len(cand) // 20000)]
    # Sorted by cell (a linear-time radix sort of small ints), every per-point lookup of a cell's
    # plane becomes an np.repeat instead of a random gather.
    order = np.argsort(cell[cand].astype(np.int16), kind="stable")
    cand = cand[order]
    cx, cy, cz, cc = x[cand], y[cand], z[cand], cell[cand]
    counts = np.bincount(cc, minlength=n_cells)
    # Seeds: the lowest points of each cell; the cell's low level is the 5th percentile of a
    # 10 cm height histogram (robust to the few points below the road from multipath).
    zbin = np.minimum(((cz - zmin) * 10.0).astype(np.int64), 29)
    hist = np.bincount(cc * 30 + zbin, minlength=n_cells * 30).reshape(n_cells, 30)
    cum = np.cumsum(hist, axis=1)
    target = np.maximum(1, (0.05 * cum[:, -1]).astype(np.int64))
    low = zmin + 0.1 * np.argmax(cum >= target[:, None], axis=1)
    sel = cz < np.repeat(low, counts) + cfg.seed_height

    max_tilt = np.cos(np.radians(cfg.max_slope_deg))
    flat_n, flat_d = np.array([0.0, 0.0, 1.0]), cfg.sensor_height
    normals = np.tile(flat_n, (n_cells, 1))
    offsets = np.full(n_cells, flat_d)
    for _ in range(cfg.iterations):
        m = _cell_moments(cx[sel], cy[sel], cz[sel], cc[sel], n_cells)
        g_n, g_d = _planes(m.sum(axis=0, keepdims=True))
        if m[:, 0].sum() < 3 or g_n[0, 2] < max_tilt:
            g_n, g_d = flat_n[None], np.array([flat_d])
        normals, offsets = _planes(m)
        bad = (m[:, 0] < cfg.min_points) | (normals[:, 2] < max_tilt) | ~np.isfinite(normals.sum(axis=1))
        normals[bad] = g_n[0]
        offsets[bad] = g_d[0]
        h = (
            cx * np.repeat(normals[:, 0], counts)
            + cy * np.repeat(normals[:, 1], counts)
            + cz * np.repeat(normals[:, 2], counts)
            + np.repeat(offsets, counts)
        )
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
    pts = np.asarray(points)
    x, y, z = (np.asarray(pts[:, k], dtype=np.float64) for k in range(3))
    c = model.cell
    n, d = model.normals, model.offsets
    with np.errstate(invalid="ignore"):
        h = x * n[c, 0] + y * n[c, 1] + z * n[c, 2] + d[c]
        return ~(h >= cfg.distance_threshold)  # NaN rows compare False, so they count as ground
