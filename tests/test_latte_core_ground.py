"""Ground planes: synthetic flat and sloped ground, objects kept, bad input; the real KITTI frames."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.config import GroundConfig
from latte.core.ground import fit_ground, ground_mask
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D


@pytest.fixture(scope="module")
def scene():
    boxes = [
        Box3D((12.0, 2.0, -0.98), (4.2, 1.8, 1.5), 0.7, "Car"),
        Box3D((8.0, -4.0, -0.85), (0.7, 0.6, 1.75), 0.0, "Pedestrian"),
    ]
    return scan_scene(boxes, beams=48, azimuth_steps=1024), boxes


def test_flat_ground_is_ground_and_objects_are_not(scene):
    pts, boxes = scene
    m = ground_mask(pts)
    in_obj = np.zeros(len(pts), bool)
    for b in boxes:
        in_obj |= b.contains(pts)
    road = ~in_obj & (np.abs(pts[:, 2] + 1.73) < 0.05)
    assert m[road].mean() > 0.99
    above = in_obj & (pts[:, 2] > -1.73 + 0.3)
    assert not m[above].any()


def test_sloped_ground_follows_the_slope():
    # A 6% ramp: a single flat plane at the sensor height would call the far road an obstacle.
    pts = scan_scene([], beams=48, azimuth_steps=1024, ground_slope=0.06)
    model = fit_ground(pts)
    m = ground_mask(pts, model=model)
    far = np.hypot(pts[:, 0], pts[:, 1]) > 20
    assert m[far].mean() > 0.97
    assert model.ground_z(30.0, 0.0) == pytest.approx(-1.73 + 0.06 * 30.0, abs=0.1)


def test_plane_normals_are_unit_and_upward(scene):
    model = fit_ground(scene[0])
    assert np.allclose(np.linalg.norm(model.normals, axis=1), 1.0)
    assert (model.normals[:, 2] > np.cos(np.radians(15))).all()


def test_nan_points_and_tiny_clouds_do_not_crash(scene):
    pts = scene[0].copy()
    pts[::50, :3] = np.nan
    m = ground_mask(pts)
    assert m.shape == (len(pts),)
    assert m[::50].all()  # NaN rows are never obstacles
    assert ground_mask(np.array([[5.0, 0.0, -1.73, 0.0]], np.float32)).tolist() == [True]
    assert ground_mask(np.zeros((0, 4), np.float32)).shape == (0,)


def test_config_rejects_bad_bands():
    with pytest.raises(ValueError):
        GroundConfig(range_bands=(0.0, 10.0, 5.0))


def test_real_kitti_ground(kitti_object):
    from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points

    pts = read_points(kitti_object / "velodyne" / "000000.bin")
    m = ground_mask(pts)
    assert 0.3 < m.mean() < 0.8
    boxes = read_kitti_labels(
        kitti_object / "label_2" / "000000.txt", read_kitti_calib(kitti_object / "calib" / "000000.txt")
    )
    ped = next(b for b in boxes if b.label == "Pedestrian")
    inside = ped.contains(pts)
    upper = inside & (pts[:, 2] > ped.center[2])
    assert upper.sum() > 50 and not m[upper].any()


def test_curb_and_sidewalk_are_ground_but_a_pedestrian_on_it_is_not():
    # A 15 cm kerb: the sidewalk beside the road (y 4-9 m) is within the distance threshold of the
    # road plane, so it is ground; the curb must not tilt the planes so that the person on it sinks.
    sidewalk = Box3D((0.0, 6.5, -1.73 + 0.075), (60.0, 5.0, 0.15), 0.0, "Misc")
    person = Box3D((10.0, 6.0, -1.73 + 0.15 + 0.88), (0.7, 0.6, 1.75), 0.0, "Pedestrian")
    pts = scan_scene([sidewalk, person], beams=48, azimuth_steps=1024)
    m = ground_mask(pts)
    top = sidewalk.contains(pts, margin=0.02) & ~person.contains(pts, margin=0.1)
    assert top.sum() > 500 and m[top].mean() > 0.98
    body = person.contains(pts) & (pts[:, 2] > -1.73 + 0.15 + 0.3)
    assert body.sum() > 30 and not m[body].any()


def test_float64_input_and_float32_input_give_the_same_mask(scene):
    pts = scene[0]
    assert np.array_equal(ground_mask(pts), ground_mask(pts.astype(np.float64)))
    with pytest.raises(ValueError):
        ground_mask(np.zeros((5, 2), np.float32))
