"""Ego-motion by scan registration: synthetic scenes with a known sensor motion, the real KITTI raw drive."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.ego_motion import EgoMotion, scaled_motion, transform_box
from latte.core.synthetic import scan_scene
from latte.core.synthetic_drive import drive_scan, street_boxes
from latte.core.synthetic_drive import pose_matrix as _pose
from squeezeseg.boxes import Box3D

H = 1.73


def _scan(pose: np.ndarray, extra: list[Box3D] = ()) -> np.ndarray:
    return drive_scan(pose, extra, seed=int(pose[0, 3] * 10) % 7)


def test_registration_recovers_a_known_motion_despite_a_moving_car():
    pose = _pose(1.2, 0.15, 3.0)
    # A car that moves 2 m with the sensor (a lead vehicle) must not pull the registration along.
    lead0 = Box3D((8.0, 0.0, 0.75 - H), (4.5, 1.9, 1.6), 0.0, "Car")
    lead1 = lead0.replace(center=(8.8, -0.1, 0.75 - H))
    scans = [_scan(np.eye(4), [lead0]), _scan(pose, [lead1])]
    ego = EgoMotion(lambda i: scans[i])
    step = ego.step(1)
    assert step.registered and step.fitness > 0.5
    np.testing.assert_allclose(step.T[:2, 3], pose[:2, 3], atol=0.05)
    yaw = np.degrees(np.arctan2(step.T[1, 0], step.T[0, 0]))
    assert yaw == pytest.approx(3.0, abs=0.3)
    # transform(0, 1) maps frame-0 coordinates into frame 1: a static box lands where frame 1 sees it.
    car = street_boxes()[5]
    seen = transform_box(car, np.linalg.inv(pose))
    moved = transform_box(car, ego.transform(0, 1))
    assert np.hypot(*(np.asarray(moved.center[:2]) - seen.center[:2])) < 0.08
    np.testing.assert_allclose(ego.transform(1, 0) @ ego.transform(0, 1), np.eye(4), atol=1e-9)


def test_constant_velocity_prior_and_unregistrable_frames():
    T = _pose(1.0, 0.0, 2.0)
    half = scaled_motion(T, 0.5)
    assert half[0, 3] == pytest.approx(0.5)
    assert np.degrees(np.arctan2(half[1, 0], half[0, 0])) == pytest.approx(1.0)
    # Frames with (almost) no non-ground points cannot be registered: the prior is used and said so.
    empty = scan_scene([], beams=16, azimuth_steps=256)
    ego = EgoMotion(lambda i: empty)
    step = ego.step(1)
    assert not step.registered and np.allclose(step.T, np.eye(4))
    with pytest.raises(ValueError, match="no previous frame"):
        ego.step(0)


def test_real_kitti_raw_drive_steps_are_consistent(shared_data):
    from latte.core.sequence import open_sequence

    drive = shared_data / "kitti_raw"
    if not drive.is_dir():
        pytest.skip(f"{drive} not found")
    seq = open_sequence(drive)
    ego = EgoMotion(seq.points)
    steps = [ego.step(i) for i in (1, 2, 3)]
    assert all(s.registered and s.fitness > 0.8 for s in steps)
    # The car drives forward slowly and straight (about 2 m/s): each step 0.1-0.4 m forward, < 1 degree.
    for s in steps:
        assert 0.1 < s.T[0, 3] < 0.4 and abs(s.T[1, 3]) < 0.1
        assert abs(np.degrees(np.arctan2(s.T[1, 0], s.T[0, 0]))) < 1.0
    # Registering frame 3 onto frame 1 directly agrees with the two composed steps (a few cm).
    from latte.core.ego_motion import register, registration_cloud

    direct, fitness = register(
        registration_cloud(seq.points(3), None, ego.config),
        registration_cloud(seq.points(1), None, ego.config),
        steps[1].T @ steps[2].T,
        ego.config,
    )
    np.testing.assert_allclose(direct[:3, 3], ego.transform(3, 1)[:3, 3], atol=0.05)
