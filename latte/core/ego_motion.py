"""Ego-motion between consecutive scans by scan registration (what KISS-ICP does, with Open3D's ICP).

Each scan is reduced to its non-ground points in a range band, voxel-downsampled, with normals; the
current scan is registered onto the previous one by point-to-plane ICP with a robust (Tukey) kernel,
so moving cars and pedestrians count less than the static scene. Registration starts from the
previous step's motion scaled to this step's interval (KISS-ICP's constant-velocity prior), which
keeps ICP in the right basin on a fast drive. A registration whose fitness falls below
``ego_motion.min_fitness`` is not trusted: the prior is used instead (and said so in ``Step``).

Convention: ``transform(a, b)`` is the 4x4 matrix that maps coordinates of frame ``a`` into frame
``b`` (``p_b = T @ p_a``); a box seen in frame ``a`` is where ``T`` puts it in frame ``b`` if it did
not move (:func:`transform_box`). The tracker adds the object's own motion on top
(:mod:`latte.core.tracking`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latte.core.config import LatteConfig, load_latte_config
from squeezeseg.boxes import Box3D, wrap_angle


@dataclass(frozen=True)
class Step:
    """Registration of frame ``i`` onto frame ``i - 1``: ``T`` maps frame-``i`` coordinates into
    frame ``i - 1``; ``fitness`` is the share of points with a correspondence; ``registered`` is
    False when the prior was used instead (too few points, or fitness below the threshold)."""

    T: np.ndarray
    fitness: float
    registered: bool
    seconds: float


def registration_cloud(points: np.ndarray, ground: np.ndarray | None, config: LatteConfig):
    """Open3D cloud of the non-ground points of ``points`` within the range band, voxel-downsampled,
    with normals (what point-to-plane ICP needs). ``ground`` (N,) bool, or None to fit it here."""
    import open3d as o3d

    from latte.core.ground import ground_mask

    c = config.ego_motion
    pts = np.asarray(points)
    if ground is None:
        ground = ground_mask(pts, config.ground)
    xyz = pts[~np.asarray(ground, bool), :3].astype(np.float64)
    xyz = xyz[np.isfinite(xyz).all(axis=1)]
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    xyz = xyz[(r >= c.min_range) & (r <= c.max_range)]
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
    cloud = cloud.voxel_down_sample(c.voxel_size)
    if len(cloud.points) >= 3:
        cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=3 * c.voxel_size, max_nn=20))
    return cloud


def register(source, target, init: np.ndarray, config: LatteConfig) -> tuple[np.ndarray, float]:
    """(T mapping ``source`` coordinates into ``target``'s, fitness) by robust point-to-plane ICP
    started at ``init``."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    c = config.ego_motion
    estimation = reg.TransformationEstimationPointToPlane(reg.TukeyLoss(k=c.robust_k))
    result = reg.registration_icp(
        source, target, c.max_correspondence, np.asarray(init, np.float64), estimation,
        reg.ICPConvergenceCriteria(max_iteration=c.max_iterations),
    )
    return np.asarray(result.transformation), float(result.fitness)


def scaled_motion(T: np.ndarray, factor: float) -> np.ndarray:
    """``T`` (a rigid motion over one interval) stretched to ``factor`` intervals: translation times
    ``factor``, yaw times ``factor`` (roll and pitch kept): the constant-velocity prior for a step
    whose interval differs from the last one's."""
    yaw = np.arctan2(T[1, 0], T[0, 0]) * factor
    out = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    out[:2, :2] = [[c, -s], [s, c]]
    out[:3, 3] = T[:3, 3] * factor
    return out


def transform_box(box: Box3D, T: np.ndarray) -> Box3D:
    """``box`` moved by the rigid transform ``T`` (4x4): centre mapped, yaw turned by T's yaw."""
    c = T[:3, :3] @ np.asarray(box.center) + T[:3, 3]
    yaw = float(wrap_angle(box.yaw + np.arctan2(T[1, 0], T[0, 0])))
    return box.replace(center=tuple(c), yaw=yaw, point_indices=None)


class EgoMotion:
    """Motion of the sensor between the frames of one sequence, registered lazily and cached.

    ``points_of(i)`` gives frame ``i``'s points; ``time_of(i)`` its time in seconds (for the
    constant-velocity prior when frames are not evenly spaced). Registration clouds of the last few
    frames are kept, so stepping forward registers one new scan per frame.
    """

    def __init__(
        self,
        points_of: Callable[[int], np.ndarray],
        config: LatteConfig | str | None = None,
        time_of: Callable[[int], float] | None = None,
        keep_clouds: int = 4,
    ):
        self.config = load_latte_config(config)
        self.points_of = points_of
        self.time_of = time_of or (lambda i: i * self.config.tracking.dt)
        self._clouds: OrderedDict[int, object] = OrderedDict()
        self._keep = keep_clouds
        self.steps: dict[int, Step] = {}

    def provide(self, i: int, points: np.ndarray, ground: np.ndarray | None = None) -> None:
        """Hand over frame ``i``'s points (and ground mask) already in memory, so they are not read
        or fitted again."""
        if i not in self._clouds:
            self._remember(i, registration_cloud(points, ground, self.config))

    def _remember(self, i: int, cloud) -> None:
        self._clouds[i] = cloud
        self._clouds.move_to_end(i)
        while len(self._clouds) > self._keep:
            self._clouds.popitem(last=False)

    def _cloud(self, i: int):
        if i not in self._clouds:
            self._remember(i, registration_cloud(self.points_of(i), None, self.config))
        return self._clouds[i]

    def _prior(self, i: int) -> np.ndarray:
        """The previous step's motion, scaled to this step's interval (identity at the start)."""
        last = self.steps.get(i - 1)
        if last is None:
            return np.eye(4)
        span_last = self.time_of(i - 1) - self.time_of(i - 2)
        span = self.time_of(i) - self.time_of(i - 1)
        return scaled_motion(last.T, span / span_last) if span_last > 0 else last.T

    def step(self, i: int) -> Step:
        """Registration of frame ``i`` onto frame ``i - 1`` (computed once)."""
        import time

        if i in self.steps:
            return self.steps[i]
        if i <= 0:
            raise ValueError(f"frame {i} has no previous frame to register onto")
        t0 = time.perf_counter()
        prior = self._prior(i)
        source, target = self._cloud(i), self._cloud(i - 1)
        c = self.config.ego_motion
        T, fitness, ok = prior, 0.0, False
        if min(len(source.points), len(target.points)) >= c.min_points:
            T, fitness = register(source, target, prior, self.config)
            ok = fitness >= c.min_fitness
            if not ok:
                T = prior
        self.steps[i] = Step(T, fitness, ok, time.perf_counter() - t0)
        return self.steps[i]

    def transform(self, a: int, b: int) -> np.ndarray:
        """4x4 matrix mapping frame-``a`` coordinates into frame ``b`` (registering the steps between)."""
        T = np.eye(4)
        if a < b:  # forward: p_b = inv(T_b) ... inv(T_a+1) p_a
            for i in range(a + 1, b + 1):
                T = np.linalg.inv(self.step(i).T) @ T
        else:
            for i in range(a, b, -1):
                T = self.step(i).T @ T
        return T
