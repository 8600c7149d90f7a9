"""Small synthetic LiDAR scenes (flat ground plus box-shaped objects), ray-cast like a spinning
scanner so that objects show only their visible faces and thin out with range. Used by the tests
and by the app's demo mode; the full simulator lives in ``simulation/``."""

from __future__ import annotations

import numpy as np

from squeezeseg.boxes import Box3D


def scan_scene(
    boxes: list[Box3D],
    beams: int = 64,
    azimuth_steps: int = 2048,
    elevation_deg: tuple[float, float] = (-24.8, 2.0),
    sensor_height: float = 1.73,
    max_range: float = 80.0,
    noise: float = 0.01,
    ground_slope: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """(N, 4) float32 points (x, y, z, intensity) of a scan of ``boxes`` standing on the ground.

    The ground is the plane z = -sensor_height + ground_slope * x. Each ray returns its nearest hit
    (boxes by the slab method) within ``max_range``; rays hitting nothing return no point.
    """
    rng = np.random.default_rng(seed)
    el = np.radians(np.linspace(elevation_deg[0], elevation_deg[1], beams))
    az = np.linspace(-np.pi, np.pi, azimuth_steps, endpoint=False)
    E, A = np.meshgrid(el, az, indexing="ij")
    d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)
    t = np.full(len(d), np.inf)
    # Ground: z = -h + s*x  ->  t * (dz - s*dx) = -h
    denom = d[:, 2] - ground_slope * d[:, 0]
    with np.errstate(divide="ignore"):
        tg = np.where(denom < -1e-6, -sensor_height / denom, np.inf)
    t = np.minimum(t, tg)
    intensity = np.where(np.isfinite(t), 0.1, 0.0)
    for box in boxes:
        tb = _ray_box(d, box)
        hit = tb < t
        t[hit] = tb[hit]
        intensity[hit] = 0.6
    ok = t < max_range
    t_noisy = t[ok] + rng.normal(0, noise, ok.sum())
    pts = d[ok] * t_noisy[:, None]
    return np.c_[pts, intensity[ok]].astype(np.float32)


def _ray_box(d: np.ndarray, box: Box3D) -> np.ndarray:
    """Distance along unit rays ``d`` from the origin to ``box`` (inf when missed)."""
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    R = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # world -> box frame
    o = R @ -np.asarray(box.center)
    dl = d @ R.T
    half = np.asarray(box.size) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o) / dl
        t2 = (half - o) / dl
    tmin = np.nanmax(np.minimum(t1, t2), axis=1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((tmax >= tmin) & (tmin > 0), tmin, np.inf)


def demo_scene(seed: int = 0) -> tuple[np.ndarray, list[Box3D]]:
    """A street with two cars, a pedestrian and a cyclist: (points, ground-truth boxes)."""
    h = 1.73
    boxes = [
        Box3D((10.0, 3.0, -h + 0.75), (4.2, 1.8, 1.5), 0.9, "Car", 0),
        Box3D((25.0, -4.0, -h + 0.8), (4.5, 1.9, 1.6), 0.5, "Car", 1),
        Box3D((7.0, -3.0, -h + 0.88), (0.7, 0.6, 1.75), 1.2, "Pedestrian", 2),
        Box3D((15.0, 6.0, -h + 0.85), (1.8, 0.6, 1.7), 1.6, "Cyclist", 3),
    ]
    return scan_scene(boxes, seed=seed), boxes
