"""Labelled frames of a simulated driving sequence: one scene, the ego vehicle and the agents moving
at the sensor rate, each frame a LiDAR scan (points, fine classes, instances, boxes with track ids)
and optionally a camera image with its KITTI calibration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulation.camera import IMAGE_SIZE, CameraSimulator, kitti_calibration
from simulation.classes import COARSE_OF, SEMANTICKITTI_OF
from simulation.dropout import DropoutMap
from simulation.lidar import LidarSimulator
from simulation.raycast import FrameGeometry
from simulation.scene import Scene, generate_scene
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError
from squeezeseg.sensors import SensorConfig, load_sensor

LABEL_RANGE = 80.0  # boxes are exported for objects this close to the sensor (KITTI labels reach ~80 m)


@dataclass
class Frame:
    """One simulated frame in the LiDAR frame of that moment (x forward, y left, z up)."""

    sequence: int
    index: int
    time: float
    points: np.ndarray  # (N, 4) float32 x, y, z, intensity
    classes: np.ndarray  # (N,) uint8 fine classes (simulation.classes.CLASSES)
    instances: np.ndarray  # (N,) uint16 instance = track id, 0 for scenery
    rows: np.ndarray  # (N,) beam (row 0 = top beam)
    cols: np.ndarray  # (N,) azimuth step of the full revolution
    boxes: list[Box3D]  # objects with points within LABEL_RANGE; point_indices set
    calib: KittiCalib
    pose: np.ndarray  # (4, 4) LiDAR -> world
    image: np.ndarray | None = None  # (375, 1242, 3) uint8 when the camera is on
    extra: dict = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        """(N,) uint8 papers' classes: 0 unknown/background, 1 car, 2 pedestrian, 3 cyclist."""
        return COARSE_OF[self.classes]

    @property
    def semantickitti(self) -> np.ndarray:
        """(N,) uint16 SemanticKITTI class ids."""
        return SEMANTICKITTI_OF[self.classes]


def _check(frames: int, sensor: SensorConfig) -> None:
    if int(frames) != frames or frames <= 0:
        raise InputError(f"frames must be a positive integer, got {frames}")
    if sensor.rate_hz <= 0:
        raise InputError(f"sensor '{sensor.name}' has a non-positive rate_hz {sensor.rate_hz}")


class SequenceSimulator:
    """Simulates frame k of sequence ``sequence`` for a ``seed``; frames are independent of each
    other and of the order they are asked in (so workers can share a sequence and runs resume)."""

    def __init__(
        self,
        sensor: str | SensorConfig = "hdl64e",
        frames: int = 10,
        seed: int = 0,
        sequence: int = 0,
        camera: bool = False,
        intensity: bool = True,
        noise: bool = True,
        dropout: DropoutMap | None = None,
        density: float = 1.0,
    ):
        self.sensor = load_sensor(sensor) if isinstance(sensor, str) else sensor
        _check(frames, self.sensor)
        if density <= 0:
            raise InputError(f"density must be positive, got {density}")
        self.frames, self.seed, self.sequence = int(frames), int(seed), int(sequence)
        self.lidar = LidarSimulator(self.sensor, intensity=intensity, noise=noise)
        self.calib = kitti_calibration(IMAGE_SIZE)
        self.camera = CameraSimulator(self.calib) if camera else None
        self.dropout = dropout
        duration = max(frames - 1, 1) / self.sensor.rate_hz
        self.scene: Scene = generate_scene(self.seed, self.sequence, duration, self.sensor.rate_hz, density)

    @staticmethod
    def default_calib() -> KittiCalib:
        """The camera-LiDAR calibration every frame uses."""
        return kitti_calibration(IMAGE_SIZE)

    def sensor_pose(self, t: float) -> tuple[np.ndarray, float]:
        """World position of the LiDAR origin and its heading at time ``t`` (the frame is kept level)."""
        x, y, yaw = self.scene.ego.pose(t)
        z = float(self.scene.ground_z(x, y)) + self.sensor.mounting_height
        return np.array([x, y, z], np.float32), yaw

    def frame(self, k: int) -> Frame:
        """Frame ``k`` (0-based) of the sequence."""
        if not 0 <= k < self.frames:
            raise InputError(f"frame {k} outside 0..{self.frames - 1}")
        t = k / self.sensor.rate_hz
        geometry = FrameGeometry(self.scene, t)
        pos, yaw = self.sensor_pose(t)
        rng = np.random.default_rng([self.seed, self.sequence, k, 1])
        scan = self.lidar.scan(geometry, pos, yaw, rng)
        keep = None
        if self.dropout is not None:
            keep = self.dropout.keep_points(
                scan.rows,
                scan.cols,
                self.lidar.sensor,
                np.random.default_rng([self.seed, self.sequence, k, 2]),
            )
        pts, cls, inst, rows, cols = scan.points, scan.classes, scan.instances, scan.rows, scan.cols
        if keep is not None:
            pts, cls, inst, rows, cols = pts[keep], cls[keep], inst[keep], rows[keep], cols[keep]
        image = self.camera.render(geometry, pos, yaw) if self.camera is not None else None
        pose = np.eye(4)
        c, s = np.cos(yaw), np.sin(yaw)
        pose[:2, :2] = [[c, -s], [s, c]]
        pose[:3, 3] = pos
        boxes = self.boxes(t, pose, inst, geometry)
        extra = {}
        if scan.features is not None:
            extra["returns"] = {n: v if keep is None else v[keep] for n, v in scan.features.items()}
        return Frame(self.sequence, k, t, pts, cls, inst, rows, cols, boxes, self.calib, pose, image, extra)

    def boxes(
        self, t: float, pose: np.ndarray, instances: np.ndarray, geometry: FrameGeometry | None = None
    ) -> list[Box3D]:
        """Boxes (LiDAR frame) of the agents hit by at least one ray and within LABEL_RANGE. With the
        frame's ``geometry``, ``occluded`` is set KITTI-style from the share of the LiDAR rays that
        reach the object: 0 (>= 80% visible), 1 (>= 40%), 2 (less)."""
        order = np.argsort(instances, kind="stable")
        sorted_inst = instances[order]
        inv = np.linalg.inv(pose)
        yaw_e = float(np.arctan2(pose[1, 0], pose[0, 0]))
        out = []
        for agent in self.scene.agents:
            lo, hi = np.searchsorted(sorted_inst, [agent.instance, agent.instance + 1])
            if hi == lo:
                continue
            wb = self.scene.box(agent, t)
            c = inv[:3, :3] @ np.asarray(wb.center) + inv[:3, 3]
            if np.hypot(c[0], c[1]) > LABEL_RANGE:
                continue
            yaw = float((wb.yaw - yaw_e + np.pi) % (2 * np.pi) - np.pi)
            out.append(
                Box3D(c, wb.size, yaw, wb.label, track_id=agent.instance, point_indices=np.sort(order[lo:hi]))
            )
        if geometry is not None:
            seen = self.lidar.visible_fractions(geometry, out, pose[:3, 3], yaw_e)
            out = [b.replace(occluded=_occlusion_level(seen[b.track_id])) for b in out]
        return out


def _occlusion_level(visible: float) -> int:
    """KITTI's occlusion field from the visible share: 0 fully visible, 1 partly, 2 largely occluded."""
    return 0 if visible >= 0.8 else 1 if visible >= 0.4 else 2


def simulate_sequence(
    sensor: str = "hdl64e",
    frames: int = 10,
    seed: int = 0,
    sequence: int = 0,
    camera: bool = False,
    intensity: bool = True,
    noise: bool = True,
    dropout: DropoutMap | str | None = None,
    density: float = 1.0,
) -> list[Frame]:
    """All frames of one simulated sequence, in memory (see :class:`Frame`).

    ``dropout`` is a :class:`DropoutMap`, a path to a saved one, or a number in [0, 1) (uniform rate).
    """
    from simulation.dropout import resolve_dropout

    sensor_cfg = load_sensor(sensor) if isinstance(sensor, str) else sensor
    sim = SequenceSimulator(
        sensor_cfg,
        frames,
        seed,
        sequence,
        camera,
        intensity,
        noise,
        resolve_dropout(dropout, sensor_cfg),
        density,
    )
    return [sim.frame(k) for k in range(sim.frames)]
