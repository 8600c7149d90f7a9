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
