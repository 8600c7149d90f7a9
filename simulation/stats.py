"""Scan statistics used to compare simulated HDL-64E scans with real KITTI ones: points per scan,
fraction of ground points, and points on a car as a function of distance."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from squeezeseg.boxes import Box3D


def ground_fraction(points: np.ndarray, threshold: float = 0.2, below: float = -1.0) -> float:
    """Fraction of all points within ``threshold`` m of the dominant plane fitted by RANSAC
    (Open3D ``segment_plane``, fixed seed) to the points lower than ``below`` m in the LiDAR frame."""
    low = points[points[:, 2] < below, :3].astype(np.float64)
    if len(low) < 3:
        return 0.0
    o3d.utility.random.seed(0)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(low))
    (a, b, c, d), _ = pcd.segment_plane(threshold, 3, 300)
    dist = np.abs(points[:, :3].astype(np.float64) @ np.array([a, b, c]) + d) / np.linalg.norm([a, b, c])
    return float(np.mean(dist < threshold))


def points_on_boxes(points: np.ndarray, boxes: list[Box3D], labels=("Car",)) -> list[tuple[float, int]]:
    """(distance of the box centre in the ground plane, points inside) for each box of ``labels``."""
    out = []
    for b in boxes:
        if b.label in labels:
            out.append((float(np.hypot(*b.center[:2])), int(b.contains(points).sum())))
    return out


def normalised_count(pairs: list[tuple[float, int]], distance: float) -> float:
    """Geometric mean of counts scaled to ``distance`` by the inverse-square law (an object's solid
    angle, hence its share of a uniform ray grid, falls with the square of its distance)."""
    vals = [n * (d / distance) ** 2 for d, n in pairs if n > 0]
    return float(np.exp(np.mean(np.log(vals)))) if vals else float("nan")


def isolated_car_points(distance: float, seed: int, sensor: str = "hdl64e") -> int:
    """Points on a sedan alone on the road ``distance`` m ahead of the sensor, seen from behind
    (the scene of ``seed`` with every other agent removed)."""
    from dataclasses import replace

    from simulation.lidar import LidarSimulator
    from simulation.meshes import vehicle
    from simulation.raycast import FrameGeometry
    from simulation.scene import Agent
    from simulation.sequence import SequenceSimulator

    sim = SequenceSimulator(sensor, frames=1, seed=seed)
    pos, yaw = sim.sensor_pose(0.0)
    mesh = vehicle("sedan", np.random.default_rng(seed))
    lo, hi = mesh.extent
    x = pos[0] + distance * np.cos(yaw)
    y = pos[1] + distance * np.sin(yaw)
    track = np.tile([x, y, yaw], (2, 1))
    car = Agent("sedan", mesh, 1, track, 1.0, tuple(float(v) for v in hi - lo))
    scene = replace(sim.scene, agents=[car])
    scan = LidarSimulator(sim.sensor).scan(FrameGeometry(scene, 0.0), pos, yaw, np.random.default_rng(seed))
    return int(np.sum(scan.instances == 1))


# ---- realism report: histograms of real and simulated scans, Jensen-Shannon divergences ------------
# Bin edges of the per-point histograms. Intensity bins are centred on KITTI's 0.01 steps (a value
# stored as 0.28999 must not fall into another bin than 0.29).
HIST_EDGES = {
    "range": np.arange(0.0, 100.01, 1.0),
    "height": np.arange(-3.0, 6.001, 0.1),
    "intensity": np.arange(-0.005, 1.0151, 0.02),
    "linearity": np.linspace(0.0, 1.0, 21),
    "planarity": np.linspace(0.0, 1.0, 21),
    "scattering": np.linspace(0.0, 1.0, 21),
}
SHAPE_K = 10  # neighbours of a local-shape patch
OBJECT_RANGE_EDGES = np.arange(0.0, 80.01, 5.0)
OBJECT_CLASSES = ("car", "pedestrian", "cyclist")
# The full HDL-64E scans of ../shared/data (folders under it) the realism report compares with
REAL_SCAN_FOLDERS = (
    "kitti_raw",
    "kitti_pcd/data_1",
    "kitti_pcd/data_2",
    "kitti_object/testing",
    "kitti_object/training",
    "kitti_object_more/training",
    "semantickitti",
)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, so in [0, 1]) of two histograms (normalised here)."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    p, q = p / max(p.sum(), 1e-300), q / max(q.sum(), 1e-300)
    m = 0.5 * (p + q)

    def kl(a):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def local_shape(points: np.ndarray, samples: int, rng: np.random.Generator, k: int = SHAPE_K) -> np.ndarray:
    """(S, 3) linearity, planarity, scattering of the ``k``-nearest-neighbour patches around ``samples``
    random points of the scan (eigenvalues l1 >= l2 >= l3 of each patch's covariance:
    (l1 - l2) / l1, (l2 - l3) / l1, l3 / l1; the three sum to 1)."""
    from scipy.spatial import cKDTree

    xyz = np.ascontiguousarray(points[:, :3], np.float64)
    if len(xyz) <= k:
        return np.zeros((0, 3))
    pick = rng.choice(len(xyz), size=min(samples, len(xyz)), replace=False)
    _, nn = cKDTree(xyz).query(xyz[pick], k=k)
    patch = xyz[nn]  # (S, k, 3)
    patch -= patch.mean(axis=1, keepdims=True)
    cov = np.einsum("ski,skj->sij", patch, patch) / k
    ev = np.linalg.eigvalsh(cov)[:, ::-1]  # descending
    ev = np.maximum(ev, 0.0)
    l1 = np.maximum(ev[:, 0], 1e-12)
    return np.stack([(ev[:, 0] - ev[:, 1]) / l1, (ev[:, 1] - ev[:, 2]) / l1, ev[:, 2] / l1], axis=1)


def _hist(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in ``edges``; values beyond either end count in the end bins."""
    v = np.clip(np.asarray(values, np.float64), edges[0], np.nextafter(edges[-1], -np.inf))
    return np.histogram(v, edges)[0].astype(np.float64)


class ScanHistograms:
    """Accumulates the report's per-point histograms over scans: range, height, intensity, local shape
    (on a random subsample of ``shape_samples`` points a scan) and returns per laser ring (rows of the
    sensor's elevation table, so real scans without a ring channel and simulated ones are binned alike)."""

    def __init__(self, sensor: str = "hdl64e", shape_samples: int = 2000, seed: int = 0):
        from squeezeseg.projection import SphericalProjection

        self.projection = SphericalProjection.from_sensor(sensor, width=2048, fov_deg=360.0, rows="table")
        self.beams = self.projection.height
        self.shape_samples = shape_samples
        self.rng = np.random.default_rng(seed)
        self.counts = {name: np.zeros(len(e) - 1) for name, e in HIST_EDGES.items()}
        self.counts["ring"] = np.zeros(self.beams)
        self.scans = 0
        self.points = 0

    def add(self, points: np.ndarray) -> None:
        pts = np.asarray(points, np.float32)
        pts = pts[np.all(np.isfinite(pts[:, :4]), axis=1)]
        r = np.linalg.norm(pts[:, :3], axis=1)
        pts = pts[r > 0.5]
        r = r[r > 0.5]
        self.scans += 1
        self.points += len(pts)
        self.counts["range"] += _hist(r, HIST_EDGES["range"])
        self.counts["height"] += _hist(pts[:, 2], HIST_EDGES["height"])
        self.counts["intensity"] += _hist(pts[:, 3], HIST_EDGES["intensity"])
        shape = local_shape(pts, self.shape_samples, self.rng)
        for j, name in enumerate(("linearity", "planarity", "scattering")):
            self.counts[name] += _hist(shape[:, j], HIST_EDGES[name])
        rows = np.array(self.projection.project(pts[:, :4]).rows, copy=True)
        self.counts["ring"] += np.bincount(rows[rows >= 0], minlength=self.beams)[: self.beams]

    def divergences(self, other: ScanHistograms) -> dict[str, float]:
        return {name: js_divergence(c, other.counts[name]) for name, c in self.counts.items()}

    def quantiles(self, name: str, qs=(0.1, 0.5, 0.9)) -> list[float]:
        """Quantiles of a histogram (linear inside a bin)."""
        edges = HIST_EDGES[name]
        cdf = np.cumsum(self.counts[name]) / max(self.counts[name].sum(), 1e-300)
        return [float(np.interp(q, np.r_[0.0, cdf], edges)) for q in qs]


class ObjectStats:
    """Objects per scan by coarse class (car, pedestrian, cyclist; KITTI types through
    ``squeezeseg.classes``) and the histogram of their ground distances, from lists of boxes."""

    def __init__(self):
        self.frames = 0
        self.count = {c: 0 for c in OBJECT_CLASSES}
        self.ranges = {c: np.zeros(len(OBJECT_RANGE_EDGES) - 1) for c in OBJECT_CLASSES}

    def add(self, boxes) -> None:
        from squeezeseg.classes import KITTI_TYPE_TO_COARSE

        self.frames += 1
        for b in boxes:
            c = KITTI_TYPE_TO_COARSE.get(b.label)
            if c is None:
                continue
            self.count[c] += 1
            self.ranges[c] += _hist([np.hypot(b.center[0], b.center[1])], OBJECT_RANGE_EDGES)

    def per_scan(self, c: str) -> float:
        return self.count[c] / max(self.frames, 1)


class ClassShares:
    """Share of points of each coarse class (from per-point SemanticKITTI ids)."""

    def __init__(self):
        self.points = 0
        self.count = {c: 0 for c in OBJECT_CLASSES}

    def add(self, semantickitti_ids: np.ndarray) -> None:
        from squeezeseg.classes import coarse_of_semantickitti

        ids, n = np.unique(np.asarray(semantickitti_ids) & 0xFFFF, return_counts=True)
        self.points += int(n.sum())
        for i, k in zip(ids, n):
            c = coarse_of_semantickitti(int(i))
            if c in self.count:
                self.count[c] += int(k)

    def share(self, c: str) -> float:
        return self.count[c] / max(self.points, 1)
