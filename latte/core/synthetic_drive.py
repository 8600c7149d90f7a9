"""A small synthetic drive for testing ego-motion and tracking: a static street (building fronts at
different angles, parked cars, poles) scanned from known sensor poses, with moving objects added in
each scan's own coordinates. Scans come from :func:`latte.core.synthetic.scan_scene`."""

from __future__ import annotations

import numpy as np

from latte.core.ego_motion import transform_box
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D

SENSOR_HEIGHT = 1.73


def pose_matrix(dx: float, dy: float, yaw_deg: float) -> np.ndarray:
    """4x4 pose of a sensor at (dx, dy) turned ``yaw_deg`` degrees, in the street's coordinates."""
    a = np.radians(yaw_deg)
    T = np.eye(4)
    T[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    T[:2, 3] = dx, dy
    return T


def street_boxes(h: float = SENSOR_HEIGHT) -> list[Box3D]:
    """The static street in its own coordinates (the first sensor pose is the origin)."""
    boxes = [
        Box3D((20.0, 12.0, 2.0 - h), (30.0, 4.0, 8.0), 0.05, "Misc"),
        Box3D((15.0, -11.0, 2.0 - h), (25.0, 3.0, 8.0), -0.1, "Misc"),
        Box3D((-15.0, 10.0, 2.0 - h), (12.0, 6.0, 8.0), 0.6, "Misc"),
        Box3D((40.0, 0.0, 2.0 - h), (3.0, 20.0, 6.0), 0.0, "Misc"),
    ]
    boxes += [Box3D((x, 6.5, 0.75 - h), (4.2, 1.8, 1.5), 0.0, "Car") for x in (-8.0, 2.0, 9.0)]
    boxes += [Box3D((x, -6.0, 2.0 - h), (0.3, 0.3, 4.0), 0.0, "Misc") for x in (-5.0, 5.0, 12.0, 25.0)]
    return boxes


def drive_scan(pose: np.ndarray, moving: list[Box3D] = (), beams: int = 32, azimuth_steps: int = 1024,
               seed: int = 0) -> np.ndarray:
    """(N, 4) scan of the street from a sensor at ``pose``, plus ``moving`` boxes given in the
    scan's own coordinates."""
    inv = np.linalg.inv(pose)
    boxes = [transform_box(b, inv) for b in street_boxes()] + list(moving)
    return scan_scene(boxes, beams=beams, azimuth_steps=azimuth_steps, seed=seed)
