"""The one 3D box type of the toolkit (LiDAR frame), with geometry helpers used by every package."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from squeezeseg.calib import KittiCalib


def wrap_angle(a: float | np.ndarray) -> float | np.ndarray:
    """Wrap radians to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi if isinstance(a, np.ndarray) else (
        (a + np.pi) % (2 * np.pi) - np.pi
    )


def heading_error_deg(yaw: float, other: float) -> float:
    """Degrees between two headings modulo 180 (0-90): a box's length axis against another's, since
    its front and back look alike from the points."""
    return float(np.degrees(abs(np.angle(np.exp(2j * (yaw - other))))) / 2)


@dataclass(frozen=True, eq=False)
class Box3D:
    """An oriented 3D box in the LiDAR frame (x forward, y left, z up; metres, radians).

    ``center`` is the middle of the box, ``size`` is (length along the heading, width, height),
    ``yaw`` is counter-clockwise from +x. ``point_indices`` optionally names the points of the
    cloud the box was fitted to. ``score`` is a detector's confidence where one exists.
    ``truncated``, ``occluded`` and ``box2d`` (left, top, right, bottom in image pixels) carry the
    KITTI label fields when a box was read from a label file; they take no part in equality.
    """

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    label: str = "Car"
    track_id: int | None = None
    point_indices: np.ndarray | None = field(default=None, repr=False)
    score: float | None = None
    truncated: float | None = None
    occluded: int | None = None
    box2d: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        c = tuple(float(v) for v in np.asarray(self.center, dtype=np.float64).ravel())
        s = tuple(float(v) for v in np.asarray(self.size, dtype=np.float64).ravel())
        if len(c) != 3 or len(s) != 3:
            raise ValueError(f"Box3D needs 3 center and 3 size values, got {len(c)} and {len(s)}")
        if not all(np.isfinite(c + s)) or not np.isfinite(self.yaw):
            raise ValueError("Box3D center, size and yaw must be finite")
        if min(s) < 0:
            raise ValueError(f"Box3D size must be non-negative, got {s}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "size", s)
        object.__setattr__(self, "yaw", float(self.yaw))
        if self.track_id is not None:
            object.__setattr__(self, "track_id", int(self.track_id))
        if self.point_indices is not None:
            idx = np.asarray(self.point_indices, dtype=np.int64).ravel().copy()
            idx.setflags(write=False)
            object.__setattr__(self, "point_indices", idx)
        if self.score is not None:
            object.__setattr__(self, "score", float(self.score))
        if self.truncated is not None:
            object.__setattr__(self, "truncated", float(self.truncated))
        if self.occluded is not None:
            object.__setattr__(self, "occluded", int(self.occluded))
        if self.box2d is not None:
            b2 = tuple(float(v) for v in np.asarray(self.box2d, dtype=np.float64).ravel())
            if len(b2) != 4:
                raise ValueError(f"Box3D box2d needs 4 values (left, top, right, bottom), got {len(b2)}")
            object.__setattr__(self, "box2d", b2)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Box3D):
            return NotImplemented
        return (
            self.center == other.center and self.size == other.size and self.yaw == other.yaw
            and self.label == other.label and self.track_id == other.track_id and self.score == other.score
        )

    __hash__ = None  # type: ignore[assignment]

    def replace(self, **changes) -> Box3D:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    # ---- geometry -------------------------------------------------------------------------
    @property
    def rotation(self) -> np.ndarray:
        """2x2 rotation of the heading in the ground plane."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s], [s, c]])

    def bev_corners(self) -> np.ndarray:
        """(4, 2) corners in the x-y plane, counter-clockwise, starting front-left."""
        l, w, _ = self.size
        local = np.array([[l / 2, w / 2], [-l / 2, w / 2], [-l / 2, -w / 2], [l / 2, -w / 2]])
        return local @ self.rotation.T + np.asarray(self.center[:2])

    def corners(self) -> np.ndarray:
        """(8, 3) corners: the 4 bottom ones (as :meth:`bev_corners`), then the 4 top ones."""
        bev = self.bev_corners()
        z0 = self.center[2] - self.size[2] / 2
        z1 = self.center[2] + self.size[2] / 2
        return np.vstack([np.c_[bev, np.full(4, z0)], np.c_[bev, np.full(4, z1)]])

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points expressed in the box frame (origin at the centre, x along the heading)."""
        p = np.asarray(points, dtype=np.float64)[:, :3] - np.asarray(self.center)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.c_[p[:, 0] * c + p[:, 1] * s, -p[:, 0] * s + p[:, 1] * c, p[:, 2]]

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Boolean mask of the points inside the box (grown by ``margin`` metres on every side)."""
        local = self.to_local(points)
        half = np.asarray(self.size) / 2 + margin
        return np.all(np.abs(local) <= half, axis=1)

    def volume(self) -> float:
        return float(np.prod(self.size))

    def bev_iou(self, other: Box3D) -> float:
        """Intersection over union of the two boxes seen from above."""
        inter = convex_polygon_area(clip_convex_polygon(self.bev_corners(), other.bev_corners()))
        union = self.size[0] * self.size[1] + other.size[0] * other.size[1] - inter
        return float(inter / union) if union > 0 else 0.0

    def iou3d(self, other: Box3D) -> float:
        """3D intersection over union (boxes are upright, so BEV overlap times height overlap)."""
        inter_bev = convex_polygon_area(clip_convex_polygon(self.bev_corners(), other.bev_corners()))
        z0 = max(self.center[2] - self.size[2] / 2, other.center[2] - other.size[2] / 2)
        z1 = min(self.center[2] + self.size[2] / 2, other.center[2] + other.size[2] / 2)
        inter = inter_bev * max(0.0, z1 - z0)
        union = self.volume() + other.volume() - inter
        return float(inter / union) if union > 0 else 0.0

    # ---- KITTI camera frame -------------------------------------------------------------------
    @classmethod
    def from_kitti_camera(
        cls, location: np.ndarray, dimensions_hwl: np.ndarray, rotation_y: float, calib: KittiCalib,
        label: str = "Car", track_id: int | None = None, score: float | None = None, **fields,
    ) -> Box3D:
        """Box from a KITTI label: bottom-centre ``location`` in the rectified camera frame,
        dimensions (h, w, l), ``rotation_y`` about the camera y axis; ``fields`` sets the optional
        label fields (``truncated``, ``occluded``, ``box2d``)."""
        h, w, l = (float(v) for v in dimensions_hwl)
        bottom = np.asarray(location, dtype=np.float64).reshape(1, 3)
        center_cam = bottom - np.array([[0.0, h / 2, 0.0]])  # camera y points down
        center = calib.cam_to_velo(center_cam)[0]
        yaw = _yaw_from_rotation_y(float(rotation_y), calib)
        return cls(
            center=center, size=(l, w, h), yaw=yaw, label=label, track_id=track_id, score=score, **fields
        )

    def to_kitti_camera(self, calib: KittiCalib) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(location (3,), dimensions (h, w, l), rotation_y, alpha) in KITTI camera conventions."""
        l, w, h = self.size
        center_cam = calib.velo_to_cam(np.asarray([self.center]))[0]
        location = center_cam + np.array([0.0, h / 2, 0.0])
        heading = np.array([[np.cos(self.yaw), np.sin(self.yaw), 0.0]]) @ calib.velo_to_rect[:3, :3].T
        rotation_y = float(wrap_angle(np.arctan2(-heading[0, 2], heading[0, 0])))
        alpha = float(wrap_angle(rotation_y - np.arctan2(location[0], location[2])))
        return location, np.array([h, w, l]), rotation_y, alpha

    def image_box(self, calib: KittiCalib, image_size: tuple[int, int] | None = None) -> np.ndarray | None:
        """2D box (left, top, right, bottom) of the projected corners, clipped to ``image_size``
        (width, height) when given; None when the box is behind the camera."""
        uv, depth = calib.velo_to_image(self.corners())
        if np.any(depth <= 0.1):
            return None
        box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
        if image_size is not None:
            W, H = image_size
            box = np.clip(box, [0, 0, 0, 0], [W - 1, H - 1, W - 1, H - 1])
        return box


def _yaw_from_rotation_y(rotation_y: float, calib: KittiCalib) -> float:
    """The LiDAR yaw whose heading, seen in the rectified camera's x-z plane, has angle ``rotation_y``.

    The exact inverse of :meth:`Box3D.to_kitti_camera`: the two frames are tilted slightly, so
    mapping the camera heading (cos ry, 0, -sin ry) into the LiDAR frame and dropping its z would
    not come back to the same yaw (off by ~1e-4 rad on KITTI).
    """
    M = calib.velo_to_rect[:3, :2]  # rect-frame image of the LiDAR ground-plane axes
    c, s = np.cos(rotation_y), np.sin(rotation_y)
    a = np.array([s, 0.0, c]) @ M  # headings with h_x sin(ry) + h_z cos(ry) = 0 are perpendicular to a
    d = np.array([-a[1], a[0]])
    if np.array([c, 0.0, -s]) @ M @ d < 0:  # and point along (cos ry, -sin ry), not against it
        d = -d
    return float(np.arctan2(d[1], d[0]))


def clip_convex_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman intersection of two convex counter-clockwise polygons ((N, 2) arrays)."""
    output = [tuple(p) for p in subject]
    n = len(clip)
    for i in range(n):
        a, b = clip[i], clip[(i + 1) % n]
        inp, output = output, []
        if not inp:
            break
        ex, ey = b[0] - a[0], b[1] - a[1]

        def inside(p, a=a, ex=ex, ey=ey):
            return ex * (p[1] - a[1]) - ey * (p[0] - a[0]) >= -1e-12

        def cross(p, q, a=a, b=b):
            x1, y1, x2, y2 = p[0], p[1], q[0], q[1]
            x3, y3, x4, y4 = a[0], a[1], b[0], b[1]
            den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
            if abs(den) < 1e-15:
                return q
            t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
            return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))

        prev = inp[-1]
        for cur in inp:
            if inside(cur):
                if not inside(prev):
                    output.append(cross(prev, cur))
                output.append(cur)
            elif inside(prev):
                output.append(cross(prev, cur))
            prev = cur
    return np.array(output, dtype=np.float64).reshape(-1, 2)


def convex_polygon_area(poly: np.ndarray) -> float:
    """Area of a simple polygon by the shoelace formula."""
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def bev_iou_matrix(boxes_a: list[Box3D], boxes_b: list[Box3D]) -> np.ndarray:
    """(len(a), len(b)) matrix of bird's-eye-view IoUs."""
    out = np.zeros((len(boxes_a), len(boxes_b)))
    for i, a in enumerate(boxes_a):
        ca = np.asarray(a.center[:2])
        ra = np.hypot(*a.size[:2]) / 2
        for j, b in enumerate(boxes_b):
            if np.hypot(*(ca - np.asarray(b.center[:2]))) > ra + np.hypot(*b.size[:2]) / 2:
                continue
            out[i, j] = a.bev_iou(b)
    return out


def points_in_boxes(points: np.ndarray, boxes: list[Box3D], margin: float = 0.0) -> np.ndarray:
    """Index of the box each point lies in (-1 for none; the smallest box wins where boxes overlap)."""
    out = np.full(len(points), -1, dtype=np.int64)
    best_vol = np.full(len(points), np.inf)
    for i, box in enumerate(boxes):
        r = np.hypot(*box.size[:2]) / 2 + margin
        near = np.flatnonzero(
            (np.abs(points[:, 0] - box.center[0]) <= r) & (np.abs(points[:, 1] - box.center[1]) <= r)
        )
        if len(near) == 0:
            continue
        inside = near[box.contains(points[near], margin)]
        vol = box.volume()
        take = inside[vol < best_vol[inside]]
        out[take] = i
        best_vol[take] = vol
    return out
