"""One-click annotation: synthetic scenes (near, far and adjacent objects, empty clicks, bad clouds)
and the real KITTI frames."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.oneclick import OneClickAnnotator
from latte.core.synthetic import demo_scene, scan_scene
from squeezeseg.boxes import Box3D

H = 1.73


@pytest.fixture(scope="module")
def demo():
    pts, boxes = demo_scene()
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    return ann, pts, boxes


def test_click_on_each_object_gives_its_box(demo):
    ann, pts, boxes = demo
    for gt in boxes:
        box = ann.click(gt.center[0], gt.center[1], gt.label)
        assert box is not None, gt.label
        assert box.bev_iou(gt) > 0.7, (gt.label, box)
        assert box.label == gt.label
        assert gt.contains(pts[box.point_indices], margin=0.3).mean() > 0.95


def test_unlabelled_click_guesses_a_class(demo):
    ann, _, boxes = demo
    car = boxes[0]
    assert ann.click(car.center[0], car.center[1]).label == "Car"


def test_click_on_empty_space_or_ground_is_no_object(demo):
    ann, _, _ = demo
    assert ann.click(40.0, 30.0) is None  # nothing there
    assert ann.click(5.0, 0.5) is None  # bare road in front of the car
    assert ann.click(float("nan"), 0.0) is None


def test_far_sparse_object_is_found():
    car = Box3D((55.0, 8.0, -H + 0.75), (4.2, 1.8, 1.5), 0.6, "Car")
    pts = scan_scene([car], beams=64, azimuth_steps=2048)
    n = int(car.contains(pts).sum())
    assert 10 <= n <= 150  # tens of points, as in KITTI at this range
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    box = ann.click(car.center[0], car.center[1], "Car")
    assert box is not None and box.bev_iou(car) > 0.5


def test_adjacent_near_objects_do_not_merge():
    a = Box3D((10.0, 1.2, -H + 0.75), (4.2, 1.8, 1.5), 0.0, "Car")
    b = Box3D((10.0, -1.2, -H + 0.75), (4.2, 1.8, 1.5), 0.0, "Car")  # 0.6 m gap beside a
    pts = scan_scene([a, b], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    box = ann.click(a.center[0], a.center[1])
    assert box is not None
    idx = box.point_indices
    assert a.contains(pts[idx], margin=0.2).all()
    assert not b.contains(pts[idx], margin=0.1).any()


def test_nan_points_single_point_and_no_frame(demo):
    ann = OneClickAnnotator()
    with pytest.raises(RuntimeError):
        ann.click(1.0, 1.0)
    _, pts, boxes = demo
    pts = pts.copy()
    pts[::7, :3] = np.nan
    ann.set_frame(pts)
    box = ann.click(boxes[0].center[0], boxes[0].center[1], "Car")
    assert box is not None and np.isfinite(box.center).all()
    assert not np.isnan(pts[box.point_indices, :3]).any()
    ann.set_frame(np.array([[10.0, 0.0, -1.0, 0.0]], np.float32))
    assert ann.click(10.0, 0.0) is None
    with pytest.raises(ValueError):
        ann.set_frame(np.zeros((5, 2), np.float32))


def test_radius_grows_with_range():
    ann = OneClickAnnotator()
    assert ann.radius_at(5.0) < ann.radius_at(40.0) < ann.radius_at(70.0) <= ann.config.oneclick.max_radius


def test_real_kitti_objects_all_get_a_box(kitti_object):
    """Every labelled object with >= 30 points gets a box from a click at its nearest non-ground
    point; the BEV IoU figures are printed by scripts/bench_latte_oneclick.py."""
    from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points

    ann = OneClickAnnotator()
    ious = []
    for fid in ("000000", "000001", "000002"):
        pts = read_points(kitti_object / "velodyne" / f"{fid}.bin")
        calib = read_kitti_calib(kitti_object / "calib" / f"{fid}.txt")
        ann.set_frame(pts)
        for gt in read_kitti_labels(kitti_object / "label_2" / f"{fid}.txt", calib):
            inside = gt.contains(pts)
            if inside.sum() < 30:
                continue
            cand = np.flatnonzero(inside & ~ann.is_ground)
            p = pts[cand[np.argmin(np.hypot(*(pts[cand, :2] - gt.center[:2]).T))]]
            box = ann.click(float(p[0]), float(p[1]), gt.label)
            assert box is not None, (fid, gt.label)
            ious.append(box.bev_iou(gt))
    assert len(ious) == 4
    assert np.median(ious) > 0.6
