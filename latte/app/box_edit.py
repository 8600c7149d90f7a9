"""Geometry of box edits made in the views (no Qt): the one place where a drag of a face, a resize
key, a move in the ground plane or a turn becomes a new :class:`Box3D`.

The 3D view, the side/rear views and the resize keys all call these functions, so a face dragged in
any view and a key press move the same face the same way. Axes are the box frame's: 0 = length
(along the heading), 1 = width, 2 = height.
"""

from __future__ import annotations

import math

import numpy as np

from squeezeseg.boxes import Box3D, wrap_angle

MIN_SIZE_M = 0.1   # no edit makes a box thinner than this along any axis

# Faces of a box as (axis, sign): front, rear, left, right, top, bottom.
FACES: tuple[tuple[int, int], ...] = ((0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1))


def local_to_world(box: Box3D, local: np.ndarray) -> np.ndarray:
    """(N, 3) points of the box frame (``box.to_local``'s output) back in the LiDAR frame."""
    p = np.atleast_2d(np.asarray(local, dtype=np.float64))
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    x = p[:, 0] * c - p[:, 1] * s
    y = p[:, 0] * s + p[:, 1] * c
    return np.c_[x, y, p[:, 2]] + np.asarray(box.center, dtype=np.float64)


def axis_direction(box: Box3D, axis: int) -> np.ndarray:
    """Unit vector (3,) of box axis ``axis`` in the LiDAR frame."""
    unit = np.zeros((1, 3))
    unit[0, axis] = 1.0
    return local_to_world(box, unit)[0] - np.asarray(box.center, dtype=np.float64)


def face_centers(box: Box3D) -> np.ndarray:
    """(6, 3) LiDAR-frame centres of the faces in :data:`FACES` order (where the handles are drawn)."""
    half = np.asarray(box.size, dtype=np.float64) / 2
    local = np.zeros((len(FACES), 3))
    for i, (axis, sign) in enumerate(FACES):
        local[i, axis] = sign * half[axis]
    return local_to_world(box, local)


def set_extent(box: Box3D, axis: int, lo: float, hi: float) -> Box3D:
    """``box`` spanning [lo, hi] along its ``axis`` (box-frame offsets from the current centre); the
    other axes are unchanged. A span thinner than :data:`MIN_SIZE_M` is widened about its middle."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if hi - lo < MIN_SIZE_M:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_SIZE_M / 2, mid + MIN_SIZE_M / 2
    shift = np.zeros(3)
    shift[axis] = (lo + hi) / 2
    size = list(box.size)
    size[axis] = hi - lo
    center = local_to_world(box, shift)[0]
    return box.replace(center=tuple(float(v) for v in center), size=tuple(float(v) for v in size))


def move_face(box: Box3D, axis: int, sign: int, delta: float) -> Box3D:
    """Move one face (``axis``, ``sign``) outwards by ``delta`` metres (negative: inwards); the
    opposite face stays where it is, and the face stops :data:`MIN_SIZE_M` short of it."""
    half = box.size[axis] / 2
    lo, hi = -half, half
    if sign > 0:
        hi = max(hi + delta, lo + MIN_SIZE_M)
    else:
        lo = min(lo - delta, hi - MIN_SIZE_M)
    return set_extent(box, axis, lo, hi)


def resize(box: Box3D, axis: int, delta: float) -> Box3D:
    """Grow (or shrink) ``box`` by ``delta`` metres along ``axis``: length and width about the centre,
    height upwards from the bottom (the box keeps standing on the ground)."""
    half = box.size[axis] / 2
    if axis == 2:
        return set_extent(box, axis, -half, half + delta)
    return set_extent(box, axis, -half - delta / 2, half + delta / 2)


def translate(box: Box3D, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> Box3D:
    """``box`` moved by (dx, dy, dz) metres in the LiDAR frame."""
    c = box.center
    return box.replace(center=(float(c[0] + dx), float(c[1] + dy), float(c[2] + dz)))


def turn(box: Box3D, radians: float) -> Box3D:
    """``box`` turned by ``radians`` (counter-clockwise seen from above) about its centre."""
    return box.replace(yaw=float(wrap_angle(box.yaw + radians)))


def closest_heading(yaw: float, reference: float) -> float:
    """``yaw`` or ``yaw + pi``, whichever is closer to ``reference`` (a refit keeps the box's front)."""
    flipped = float(wrap_angle(yaw + math.pi))
    keep = abs(float(wrap_angle(yaw - reference))) <= abs(float(wrap_angle(flipped - reference)))
    return float(wrap_angle(yaw)) if keep else flipped


# ---- screen projection (the 3D view's camera as plain matrices) ------------------------------
def project(mvp: np.ndarray, points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Widget pixels (N, 2) of world ``points`` (N, 3) under the 4x4 model-view-projection ``mvp``,
    and (N,) bool: in front of the camera."""
    p = np.c_[np.atleast_2d(points)[:, :3], np.ones(len(np.atleast_2d(points)))] @ np.asarray(mvp).T
    w = p[:, 3]
    front = w > 1e-9
    w = np.where(front, w, 1.0)
    ndc = p[:, :2] / w[:, None]
    px = np.c_[(ndc[:, 0] + 1) * 0.5 * width, (1 - ndc[:, 1]) * 0.5 * height]
    return px, front


def pixel_ray(mvp: np.ndarray, px: tuple[float, float], width: int,
              height: int) -> tuple[np.ndarray, np.ndarray]:
    """(origin (3,), unit direction (3,)) of the world ray through widget pixel ``px``."""
    nx = 2.0 * px[0] / max(width, 1) - 1.0
    ny = 1.0 - 2.0 * px[1] / max(height, 1)
    inv = np.linalg.inv(np.asarray(mvp, dtype=np.float64))
    near = inv @ np.array([nx, ny, -1.0, 1.0])
    far = inv @ np.array([nx, ny, 1.0, 1.0])
    a, b = near[:3] / near[3], far[:3] / far[3]
    d = b - a
    return a, d / max(np.linalg.norm(d), 1e-12)


def ray_plane_z(origin: np.ndarray, direction: np.ndarray, z: float) -> np.ndarray | None:
    """Where the ray meets the horizontal plane at height ``z`` (None: parallel or behind)."""
    if abs(direction[2]) < 1e-9:
        return None
    t = (z - origin[2]) / direction[2]
    return None if t <= 0 else origin + t * direction


def screen_drag_along(mvp: np.ndarray, anchor: np.ndarray, direction: np.ndarray, drag_px: np.ndarray,
                      width: int, height: int) -> float:
    """Metres along world ``direction`` (unit) that a mouse drag of ``drag_px`` (dx, dy) pixels means
    at ``anchor``: the drag projected onto the direction's image on screen."""
    ends, _ = project(mvp, np.vstack([anchor, anchor + direction]), width, height)
    step = ends[1] - ends[0]            # pixels per metre along the direction
    norm2 = float(step @ step)
    if norm2 < 1e-6:                    # seen end-on: the axis has no length on screen
        return 0.0
    return float(np.asarray(drag_px, dtype=np.float64) @ step) / norm2
