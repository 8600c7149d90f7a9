"""Box3D geometry: corners, inside test, IoUs (checked against Monte Carlo), KITTI camera conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from squeezeseg.boxes import Box3D, bev_iou_matrix, points_in_boxes, wrap_angle


def _mc_iou(a: Box3D, b: Box3D, n: int = 200_000, bev: bool = True) -> float:
    """IoU by uniform sampling: an estimate independent of the polygon clipping."""
    rng = np.random.default_rng(1)
    both = np.vstack([a.corners(), b.corners()])
    pts = rng.uniform(both.min(axis=0), both.max(axis=0), size=(n, 3))

    def inside(box: Box3D) -> np.ndarray:
        local = np.abs(box.to_local(pts)) <= np.asarray(box.size) / 2
        return np.all(local[:, :2] if bev else local, axis=1)

    ia, ib = inside(a), inside(b)
    return np.count_nonzero(ia & ib) / max(1, np.count_nonzero(ia | ib))


def test_corners_and_contains_follow_the_heading():
    box = Box3D((10.0, 5.0, 1.0), (4.0, 2.0, 1.5), yaw=np.pi / 2)
    c = box.corners()
    assert c.shape == (8, 3)
    # yaw 90 degrees: the length runs along +y, front-left corner is at (x - w/2, y + l/2)
    np.testing.assert_allclose(c[0], [9.0, 7.0, 0.25], atol=1e-12)
    np.testing.assert_allclose(c[4], [9.0, 7.0, 1.75], atol=1e-12)
    np.testing.assert_allclose(c.mean(axis=0), box.center, atol=1e-12)
    pts = np.array([[10, 6.9, 1], [10, 7.1, 1], [10.9, 5, 1], [11.1, 5, 1], [10, 5, 1.8], [10, 5, 0.3]])
    np.testing.assert_array_equal(box.contains(pts), [True, False, True, False, False, True])
    np.testing.assert_array_equal(box.contains(pts, margin=0.2), [True] * 6)
    local = box.to_local(np.array([[10.0, 7.0, 1.0]]))
    np.testing.assert_allclose(local, [[2.0, 0.0, 0.0]], atol=1e-12)  # the front face centre


def test_bev_corners_are_counter_clockwise():
    for yaw in np.linspace(-np.pi, np.pi, 7):
        p = Box3D((1, 2, 0), (3, 1, 1), yaw=yaw).bev_corners()
        signed = np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))
        assert signed > 0


def test_bev_iou_exact_cases():
    a = Box3D((0, 0, 0), (2, 2, 1))
    assert a.bev_iou(a) == pytest.approx(1.0)
    assert a.bev_iou(a.replace(center=(1, 0, 0))) == pytest.approx(1 / 3)
    assert a.bev_iou(a.replace(center=(5, 0, 0))) == 0.0
    # a square and the same square turned 45 degrees: the overlap is a regular octagon
    octagon = 8 * (np.sqrt(2) - 1)  # area for a 2 m square
    assert a.bev_iou(a.replace(yaw=np.pi / 4)) == pytest.approx(octagon / (8 - octagon))
    # yaw and yaw + pi describe the same footprint
    b = Box3D((0.3, 0.1, 0), (4, 1.6, 1.5), yaw=0.4)
    assert b.bev_iou(b.replace(yaw=0.4 + np.pi)) == pytest.approx(1.0)
    # degenerate boxes do not divide by zero
    assert Box3D((0, 0, 0), (0, 0, 0)).bev_iou(Box3D((0, 0, 0), (0, 0, 0))) == 0.0


def test_bev_and_3d_iou_agree_with_sampling():
    rng = np.random.default_rng(7)
    for _ in range(6):
        a = Box3D(rng.uniform(-1, 1, 3), rng.uniform(1, 4, 3), yaw=rng.uniform(-np.pi, np.pi))
        b = Box3D(
            np.asarray(a.center) + rng.uniform(-1, 1, 3), rng.uniform(1, 4, 3), yaw=rng.uniform(-np.pi, np.pi)
        )
        assert a.bev_iou(b) == pytest.approx(_mc_iou(a, b), abs=0.01)
        assert a.iou3d(b) == pytest.approx(_mc_iou(a, b, bev=False), abs=0.01)
        assert a.bev_iou(b) == pytest.approx(b.bev_iou(a))


def test_bev_iou_matrix_matches_pairwise():
    rng = np.random.default_rng(3)
    boxes = [
        Box3D((*rng.uniform(0, 6, 2), 0), (*rng.uniform(1, 4, 2), 1.5), yaw=rng.uniform(-3, 3))
        for _ in range(6)
    ]
    m = bev_iou_matrix(boxes, boxes[::-1])
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[::-1]):
            assert m[i, j] == pytest.approx(a.bev_iou(b))
    np.testing.assert_allclose(np.diag(bev_iou_matrix(boxes, boxes)), 1.0)


def test_points_in_boxes_smallest_wins():
    big = Box3D((0, 0, 0), (10, 10, 4))
    small = Box3D((2, 2, 0), (1, 1, 1), yaw=0.3)
    pts = np.array([[2, 2, 0], [-3, -3, 1], [20, 0, 0], [np.nan, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(points_in_boxes(pts, [big, small]), [1, 0, -1, -1])
    np.testing.assert_array_equal(points_in_boxes(pts, [small, big]), [0, 1, -1, -1])
    np.testing.assert_array_equal(points_in_boxes(pts, []), [-1] * 4)
    assert points_in_boxes(np.zeros((0, 4), np.float32), [big]).shape == (0,)


def test_wrap_angle():
    np.testing.assert_allclose(
        wrap_angle(np.array([0, np.pi, -np.pi, 3 * np.pi / 2, 7.0])),
        [0, -np.pi, -np.pi, -np.pi / 2, 7.0 - 2 * np.pi],
    )
    assert wrap_angle(-3 * np.pi / 2) == pytest.approx(np.pi / 2)


def test_box_validation_and_equality():
    with pytest.raises(ValueError, match="3 center"):
        Box3D((0, 0), (1, 1, 1))
    with pytest.raises(ValueError, match="finite"):
        Box3D((0, np.nan, 0), (1, 1, 1))
    with pytest.raises(ValueError, match="non-negative"):
        Box3D((0, 0, 0), (1, -1, 1))
    with pytest.raises(ValueError, match="box2d"):
        Box3D((0, 0, 0), (1, 1, 1), box2d=(1, 2, 3))
    a = Box3D(np.array([1, 2, 3]), [4, 5, 6], yaw=np.float32(0.5), track_id=np.int64(3), truncated=0.5)
    assert a.center == (1.0, 2.0, 3.0) and isinstance(a.yaw, float) and a.track_id == 3
    assert a == a.replace(truncated=None, box2d=(0, 0, 1, 1))  # label extras take no part in equality
    assert a != a.replace(track_id=4)
    idx = Box3D((0, 0, 0), (1, 1, 1), point_indices=[3, 1]).point_indices
    assert not idx.flags.writeable


# ---- KITTI camera frame on the real calibration -------------------------------------------------
@pytest.fixture(scope="module")
def calib(kitti_object: Path):
    from squeezeseg.calib import read_kitti_calib

    return read_kitti_calib(kitti_object / "calib" / "000000.txt")


def test_kitti_camera_round_trip(calib):
    rng = np.random.default_rng(5)
    for _ in range(20):
        box = Box3D(
            (*rng.uniform([5, -20], [60, 20]), rng.uniform(-2, 0)),
            rng.uniform(0.5, 5, 3),
            yaw=rng.uniform(-np.pi, np.pi),
        )
        loc, hwl, ry, alpha = box.to_kitti_camera(calib)
        np.testing.assert_allclose(hwl, box.size[::-1])
        assert -np.pi <= ry < np.pi and -np.pi <= alpha < np.pi
        # alpha is the rotation seen from the camera: rotation_y minus the ray's azimuth
        assert wrap_angle(ry - alpha - np.arctan2(loc[0], loc[2])) == pytest.approx(0, abs=1e-9)
        back = Box3D.from_kitti_camera(loc, hwl, ry, calib)
        np.testing.assert_allclose(back.center, box.center, atol=1e-9)
        assert wrap_angle(back.yaw - box.yaw) == pytest.approx(0, abs=1e-9)


def test_kitti_location_is_the_bottom_centre(calib):
    box = Box3D((20.0, 0.0, -1.0), (4.0, 1.6, 1.5))
    loc, *_ = box.to_kitti_camera(calib)
    bottom_cam = calib.velo_to_cam(np.array([[20.0, 0.0, -1.75]]))[0]
    # camera y points down: the label's location is the bottom face, 0.75 m below the centre
    assert loc[1] - calib.velo_to_cam(np.array([box.center]))[0][1] == pytest.approx(0.75)
    np.testing.assert_allclose(loc, bottom_cam, atol=0.02)  # the frames are nearly aligned in height


def test_image_box_contains_projected_corners(calib):
    box = Box3D((15.0, 2.0, -0.8), (4.0, 1.7, 1.5), yaw=0.7)
    uv, depth = calib.velo_to_image(box.corners())
    ib = box.image_box(calib)
    np.testing.assert_allclose(ib, [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    assert np.all(depth > 0)
    near_edge = Box3D((6.0, 5.0, -0.8), (4.0, 1.7, 1.5))
    full, clipped = near_edge.image_box(calib), near_edge.image_box(calib, (1242, 375))
    assert full[0] < 0 and clipped[0] == 0 and clipped[2] == full[2]
    assert Box3D((-10.0, 0, 0), (4, 2, 1.5)).image_box(calib) is None  # behind the camera


def test_heading_error_is_modulo_180_degrees():
    from squeezeseg.boxes import heading_error_deg

    assert heading_error_deg(0.0, np.pi) == pytest.approx(0.0, abs=1e-9)  # front and back alike
    assert heading_error_deg(np.radians(10), np.radians(-10)) == pytest.approx(20.0)
    assert heading_error_deg(np.radians(100), 0.0) == pytest.approx(80.0)
    assert heading_error_deg(np.radians(90), 0.0) == pytest.approx(90.0)
