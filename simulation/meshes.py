"""Triangle meshes of scene parts: primitives from Open3D, labelled per triangle, and the
procedural shapes of vehicles, people, cyclists, trees, poles and signs.

Every object mesh is built in its own frame: origin at the bottom centre of its bounding box,
x along the heading, so its 3D box is exactly the mesh's extent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from simulation.classes import CLASS_ID, MATERIAL_ID


@dataclass
class Mesh:
    """Vertices (V, 3) float32, triangles (F, 3) int32, per-triangle class and material ids."""

    vertices: np.ndarray
    triangles: np.ndarray
    tri_class: np.ndarray
    tri_material: np.ndarray

    @property
    def extent(self) -> tuple[np.ndarray, np.ndarray]:
        """(min corner, max corner) of the vertices."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def transformed(self, yaw: float = 0.0, translation=(0.0, 0.0, 0.0)) -> Mesh:
        """The mesh rotated by ``yaw`` about z, then translated."""
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=np.float64)
        v = self.vertices.astype(np.float64) @ R.T + np.asarray(translation, dtype=np.float64)
        return Mesh(v.astype(np.float32), self.triangles, self.tri_class, self.tri_material)


def merge(parts: list[Mesh]) -> Mesh:
    """One mesh holding all ``parts`` (triangle indices shifted)."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return Mesh(
        np.concatenate([p.vertices for p in parts]).astype(np.float32),
        np.concatenate([p.triangles + o for p, o in zip(parts, offsets)]).astype(np.int32),
        np.concatenate([p.tri_class for p in parts]).astype(np.uint8),
        np.concatenate([p.tri_material for p in parts]).astype(np.uint8),
    )


def _from_legacy(m: o3d.geometry.TriangleMesh, cls: str, material: str) -> Mesh:
    tris = np.asarray(m.triangles, dtype=np.int32)
    return Mesh(
        np.asarray(m.vertices, dtype=np.float32),
        tris,
        np.full(len(tris), CLASS_ID[cls], np.uint8),
        np.full(len(tris), MATERIAL_ID[material], np.uint8),
    )


def box(center, size, cls: str, material: str, yaw: float = 0.0) -> Mesh:
    """Axis-aligned box of ``size`` (x, y, z) around ``center``, optionally turned by ``yaw``."""
    sx, sy, sz = (float(v) for v in size)
    m = o3d.geometry.TriangleMesh.create_box(sx, sy, sz)
    mesh = _from_legacy(m, cls, material)
    mesh.vertices -= np.array([sx / 2, sy / 2, sz / 2], np.float32)
    return mesh.transformed(yaw, center)


def cylinder(
    center, radius: float, height: float, cls: str, material: str, axis: str = "z", resolution: int = 12
) -> Mesh:
    """Closed cylinder around ``center`` with its axis along x, y or z."""
    m = o3d.geometry.TriangleMesh.create_cylinder(radius, height, resolution, 1)
    mesh = _from_legacy(m, cls, material)
    if axis == "y":
        mesh.vertices = mesh.vertices[:, [0, 2, 1]].copy()
        mesh.triangles = mesh.triangles[:, ::-1].copy()  # the swap mirrors: keep normals outward
    elif axis == "x":
        mesh.vertices = mesh.vertices[:, [2, 1, 0]].copy()
        mesh.triangles = mesh.triangles[:, ::-1].copy()
    mesh.vertices += np.asarray(center, np.float32)
    return mesh


def sphere(
    center, radius: float, cls: str, material: str, resolution: int = 6, scale=(1.0, 1.0, 1.0)
) -> Mesh:
    """Sphere (or ellipsoid with ``scale``) around ``center``."""
    m = o3d.geometry.TriangleMesh.create_sphere(radius, resolution)
    mesh = _from_legacy(m, cls, material)
    mesh.vertices = mesh.vertices * np.asarray(scale, np.float32) + np.asarray(center, np.float32)
    return mesh


def centered(mesh: Mesh) -> Mesh:
    """Shift ``mesh`` so that its bounding box has its bottom centre at the origin."""
    lo, hi = mesh.extent
    shift = -np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]], np.float32)
    return Mesh(mesh.vertices + shift, mesh.triangles, mesh.tri_class, mesh.tri_material)


# ---- vehicles -------------------------------------------------------------------------------
VEHICLE_SIZES = {  # (length, width, height) ranges in metres
    "sedan": ((3.8, 4.9), (1.65, 1.9), (1.40, 1.60)),
    "van": ((4.6, 5.6), (1.9, 2.1), (1.9, 2.4)),
    "truck": ((7.0, 10.0), (2.4, 2.55), (3.0, 3.6)),
}


def vehicle(kind: str, rng: np.random.Generator) -> Mesh:
    """A sedan, van or truck: body, cabin with glass, four wheels; class car/van/truck."""
    (l0, l1), (w0, w1), (h0, h1) = VEHICLE_SIZES[kind]
    L, W, H = rng.uniform(l0, l1), rng.uniform(w0, w1), rng.uniform(h0, h1)
    cls = {"sedan": "car", "van": "van", "truck": "truck"}[kind]
    r = 0.33 if kind == "sedan" else 0.38 if kind == "van" else 0.5
    clear = 0.25 if kind == "sedan" else 0.3
    parts = []
    if kind == "sedan":
        belt = rng.uniform(0.55, 0.62) * H
        parts.append(box((0, 0, (clear + belt) / 2), (L, W, belt - clear), cls, "paint"))
        cl = L * rng.uniform(0.45, 0.55)
        cab_x = -L * rng.uniform(0.0, 0.08)
        parts.append(box((cab_x, 0, (belt + H) / 2), (cl, W * 0.88, H - belt), cls, "glass"))
        parts.append(box((cab_x, 0, H), (cl * 0.85, W * 0.86, 0.06), cls, "paint"))  # roof, above the glass
    elif kind == "van":
        parts.append(box((0, 0, (clear + H * 0.55) / 2), (L, W, H * 0.55 - clear), cls, "paint"))
        parts.append(box((-0.05 * L, 0, H * 0.775), (L * 0.9, W * 0.95, H * 0.45), cls, "paint"))
        parts.append(box((0.4 * L + 0.02, 0, H * 0.72), (0.06, W * 0.85, H * 0.25), cls, "glass"))
    else:
        cab = rng.uniform(1.8, 2.3)
        parts.append(
            box((L / 2 - cab / 2, 0, (clear + H * 0.85) / 2), (cab, W, H * 0.85 - clear), cls, "paint")
        )
        parts.append(box((L / 2 + 0.02, 0, H * 0.65), (0.06, W * 0.85, H * 0.22), cls, "glass"))
        cargo = L - cab - 0.2
        parts.append(
            box((-L / 2 + cargo / 2, 0, (clear + H) / 2 + 0.1), (cargo, W, H - clear - 0.2), cls, "metal")
        )
    axle = L / 2 - max(0.7, 0.18 * L)
    for x in (axle, -axle):
        for y in (W / 2 - 0.15, -W / 2 + 0.15):
            parts.append(cylinder((x, y, r), r, 0.26, cls, "tyre", axis="y", resolution=10))
    return centered(merge(parts))


def pedestrian(rng: np.random.Generator) -> Mesh:
    """A person 1.5-1.95 m tall: legs, torso, arms, head."""
    H = rng.uniform(1.5, 1.95)
    leg, torso, head = 0.47 * H, 0.30 * H, 0.13 * H
    hip = 0.17 * H
    stride = rng.uniform(-0.15, 0.15)
    parts = [
        box((stride, 0.07, leg / 2), (0.14, 0.13, leg), "pedestrian", "cloth"),
        box((-stride, -0.07, leg / 2), (0.14, 0.13, leg), "pedestrian", "cloth"),
        box((0, 0, leg + torso / 2), (0.22, 2 * hip, torso), "pedestrian", "cloth"),
        box((0, hip + 0.05, leg + torso * 0.45), (0.1, 0.09, torso * 0.95), "pedestrian", "cloth"),
        box((0, -hip - 0.05, leg + torso * 0.45), (0.1, 0.09, torso * 0.95), "pedestrian", "cloth"),
        sphere((0, 0, H - head / 2 - 0.01), head / 2, "pedestrian", "skin", scale=(0.85, 0.8, 1.1)),
    ]
    return centered(merge(parts))


def cyclist(rng: np.random.Generator) -> Mesh:
    """A bicycle (two wheels and a frame, class bicycle) with a rider (class bicyclist)."""
    r = rng.uniform(0.32, 0.36)
    base = rng.uniform(1.0, 1.1)
    parts = [
        cylinder((base / 2, 0, r), r, 0.05, "bicycle", "tyre", axis="y", resolution=14),
        cylinder((-base / 2, 0, r), r, 0.05, "bicycle", "tyre", axis="y", resolution=14),
        box((0, 0, r + 0.25), (base * 0.8, 0.05, 0.08), "bicycle", "metal"),
        box((-0.1, 0, r + 0.15), (0.06, 0.05, 0.35), "bicycle", "metal"),
        box((base / 2 - 0.05, 0, r + 0.3), (0.05, 0.5, 0.05), "bicycle", "metal"),
    ]
    H = rng.uniform(1.6, 1.85)
    seat = r + 0.5
    parts += [
        box((-0.05, 0.1, seat - 0.25), (0.25, 0.12, 0.5), "bicyclist", "cloth"),
        box((-0.05, -0.1, seat - 0.25), (0.25, 0.12, 0.5), "bicyclist", "cloth"),
        box((0.05, 0, seat + 0.3), (0.3, 0.36, 0.6), "bicyclist", "cloth", yaw=0.0),
        box((base / 4, 0.2, seat + 0.35), (0.45, 0.08, 0.08), "bicyclist", "skin"),
        box((base / 4, -0.2, seat + 0.35), (0.45, 0.08, 0.08), "bicyclist", "skin"),
        sphere((0.12, 0, min(H, seat + 0.9) - 0.12), 0.12, "bicyclist", "skin"),
    ]
    return centered(merge(parts))


# ---- static things ------------------------------------------------------------------------------
def tree(rng: np.random.Generator) -> Mesh:
    """Trunk (class trunk) and an ellipsoid crown (class vegetation)."""
    h = rng.uniform(2.8, 4.0)
    cr = rng.uniform(1.0, 2.0)
    # crown bottom at h - 0.12 cr (>= 2.5 m): above people, cyclists, cars and vans passing under it
    return merge(
        [
            cylinder((0, 0, h / 2), rng.uniform(0.12, 0.25), h, "trunk", "bark", resolution=8),
            sphere((0, 0, h + cr * 1.08), cr, "vegetation", "leaves", resolution=5, scale=(1.0, 1.0, 1.2)),
        ]
    )


def pole(rng: np.random.Generator, sign: bool) -> Mesh:
    """A street-light or sign pole; with ``sign`` a plate (class traffic-sign) on top."""
    h = rng.uniform(2.5, 3.2) if sign else rng.uniform(5.0, 8.0)
    parts = [cylinder((0, 0, h / 2), 0.06 if sign else 0.1, h, "pole", "metal", resolution=8)]
    if sign:
        parts.append(box((0.05, 0, h + 0.3), (0.04, 0.7, 0.6), "traffic-sign", "sign"))
    return merge(parts)


def building(length: float, depth: float, height: float, material: str = "facade") -> Mesh:
    """A block building of class building."""
    return box((0, 0, height / 2), (length, depth, height), "building", material)


def wall(length: float, height: float) -> Mesh:
    """A thin wall or fence of class fence."""
    return box((0, 0, height / 2), (length, 0.2, height), "fence", "brick")


def hedge(length: float, height: float, rng: np.random.Generator) -> Mesh:
    """A hedge or row of bushes of class vegetation: overlapping ellipsoids along x."""
    n = max(1, int(length / 1.5))
    xs = np.linspace(-length / 2 + 0.75, length / 2 - 0.75, n) if n > 1 else np.zeros(1)
    parts = [
        sphere(
            (x, 0, height / 2),
            0.5,
            "vegetation",
            "leaves",
            resolution=4,
            scale=(rng.uniform(1.4, 1.9), rng.uniform(1.2, 1.8), height * rng.uniform(0.9, 1.1)),
        )
        for x in xs
    ]
    return merge(parts)
