"""The edit geometry shared by the 3D view, the side/rear views and the resize keys (no Qt): faces
move with the opposite face fixed, resizes keep the centre (height: the bottom), and the screen
projection used to turn mouse drags into metres inverts back to the same world points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latte.app import box_edit
from squeezeseg.boxes import Box3D

BOX = Box3D(center=(10.0, -3.0, -0.9), size=(4.0, 1.8, 1.5), yaw=math.radians(30), label="Car", track_id=4)


def _faces(box: Box3D) -> np.ndarray:
    return box_edit.face_centers(box)


@pytest.mark.parametrize("face", range(6))
def test_moving_a_face_keeps_the_opposite_face(face):
    axis, sign = box_edit.FACES[face]
    opposite = next(i for i, f in enumerate(box_edit.FACES) if f == (axis, -sign))
    new = box_edit.move_face(BOX, axis, sign, 0.7)
    assert new.size[axis] == pytest.approx(BOX.size[axis] + 0.7)
    assert np.allclose(_faces(new)[opposite], _faces(BOX)[opposite])
    # The moved face went 0.7 m outwards along its own normal.
    normal = box_edit.axis_direction(BOX, axis) * sign
    assert np.allclose(_faces(new)[face] - _faces(BOX)[face], 0.7 * normal)
    assert new.yaw == BOX.yaw and new.label == "Car" and new.track_id == 4


def test_a_face_dragged_past_the_other_gives_a_thin_box_not_a_negative_one():
    new = box_edit.move_face(BOX, 0, 1, -10.0)
    assert new.size[0] == pytest.approx(box_edit.MIN_SIZE_M)


def test_resize_keeps_the_centre_and_height_grows_upwards():
    longer = box_edit.resize(BOX, 0, 0.2)
    assert longer.size[0] == pytest.approx(4.2) and np.allclose(longer.center, BOX.center)
    taller = box_edit.resize(BOX, 2, 0.3)
    bottom = BOX.center[2] - BOX.size[2] / 2
    assert taller.size[2] == pytest.approx(1.8)
    assert taller.center[2] - taller.size[2] / 2 == pytest.approx(bottom)


def test_set_extent_moves_along_the_box_axis_not_the_lidar_axis():
    moved = box_edit.set_extent(BOX, 0, -1.0, 3.0)   # same length, 1 m forward along the heading
    d = np.subtract(moved.center, BOX.center)
    assert np.allclose(d, [math.cos(BOX.yaw), math.sin(BOX.yaw), 0.0])
    assert moved.size == BOX.size


def test_local_to_world_inverts_to_local():
    pts = np.random.default_rng(0).normal(size=(20, 3)) * 3 + np.asarray(BOX.center)
    assert np.allclose(box_edit.local_to_world(BOX, BOX.to_local(pts)), pts)


def test_turn_and_closest_heading():
    assert box_edit.turn(BOX, math.pi).yaw == pytest.approx(BOX.yaw - math.pi)
    assert box_edit.closest_heading(BOX.yaw + math.pi + 0.05, BOX.yaw) == pytest.approx(BOX.yaw + 0.05)
    assert box_edit.closest_heading(BOX.yaw - 0.05, BOX.yaw) == pytest.approx(BOX.yaw - 0.05)


def _camera(width=800, height=600) -> np.ndarray:
    """A perspective camera 30 m behind and 15 m above the origin looking at it (OpenGL conventions)."""
    eye, target, up = np.array([-30.0, 0.0, 15.0]), np.zeros(3), np.array([0.0, 0.0, 1.0])
    f = (target - eye) / np.linalg.norm(target - eye)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = s, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    near, far, fov = 0.1, 1000.0, math.radians(60)
    t = near * math.tan(fov / 2)
    r = t * width / height
    proj = np.array([[near / r, 0, 0, 0], [0, near / t, 0, 0],
                     [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0]])
    return proj @ view


def test_projection_and_pixel_ray_agree():
    mvp = _camera()
    pts = np.array([[0.0, 0.0, 0.0], [12.0, -4.0, -1.0], [5.0, 6.0, 2.0]])
    px, front = box_edit.project(mvp, pts, 800, 600)
    assert front.all()
    assert np.allclose(px[0], [400, 300], atol=1e-6)          # the target is in the middle
    for p, q in zip(pts, px):
        origin, direction = box_edit.pixel_ray(mvp, q, 800, 600)
        hit = box_edit.ray_plane_z(origin, direction, p[2])
        assert np.allclose(hit, p, atol=1e-6)


def test_a_screen_drag_along_an_axis_is_metres_along_it():
    mvp = _camera()
    anchor, direction = np.array([2.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    ends, _ = box_edit.project(mvp, np.vstack([anchor, anchor + 1.5 * direction]), 800, 600)
    metres = box_edit.screen_drag_along(mvp, anchor, direction, ends[1] - ends[0], 800, 600)
    assert metres == pytest.approx(1.5, rel=0.05)
    # A drag across the axis's image means nothing along it.
    step = ends[1] - ends[0]
    across = np.array([-step[1], step[0]])
    assert box_edit.screen_drag_along(mvp, anchor, direction, across, 800, 600) == pytest.approx(0, abs=1e-6)
