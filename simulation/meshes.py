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
VEHICLE_SIZES = {  # (length, width, height) bounds in metres
    "sedan": ((3.3, 4.9), (1.5, 1.9), (1.35, 1.75)),
    "van": ((4.2, 6.2), (1.75, 2.1), (1.8, 2.6)),
    "truck": ((7.5, 12.5), (2.4, 2.7), (2.9, 3.6)),
}
# Spread of the sizes around the KITTI means (squeezeseg.classes.KITTI_TYPES): the standard
# deviations of the box sizes in the KITTI tracking labels (sequences 0000, 0002, 0003, 0005).
VEHICLE_SIZE_STD = {"sedan": (0.45, 0.1, 0.1), "van": (0.6, 0.1, 0.2), "truck": (1.4, 0.09, 0.15)}
_KITTI_NAME = {"sedan": "Car", "van": "Van", "truck": "Truck"}


def vehicle_size(kind: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """(length, width, height) of a vehicle: normal around the KITTI mean size of its type, clipped
    to :data:`VEHICLE_SIZES`."""
    from squeezeseg.classes import KITTI_TYPE as SIZES

    mean = SIZES[_KITTI_NAME[kind]].size
    out = []
    for m, s, (lo, hi) in zip(mean, VEHICLE_SIZE_STD[kind], VEHICLE_SIZES[kind]):
        out.append(float(np.clip(rng.normal(m, s), lo, hi)))
    return out[0], out[1], out[2]


# Side silhouettes of the body types: (share of the length from the front, share of the height) of
# the roof line, and where the glass is: (windshield from, to), (rear window from, to) as shares of the
# length; side windows run between them above the belt line.
BODY_TYPES = {
    "sedan": (
        [
            (0, 0.52),
            (0.04, 0.64),
            (0.30, 0.70),
            (0.47, 0.98),
            (0.50, 1),
            (0.72, 1),
            (0.78, 0.96),
            (0.88, 0.74),
            (1, 0.68),
        ],
        (0.30, 0.47),
        (0.76, 0.88),
    ),
    "hatchback": (
        [(0, 0.52), (0.04, 0.63), (0.27, 0.70), (0.45, 0.98), (0.48, 1), (0.84, 1), (0.92, 0.96), (1, 0.70)],
        (0.27, 0.45),
        (0.88, 1.0),
    ),
    "wagon": (
        [(0, 0.52), (0.04, 0.63), (0.27, 0.70), (0.44, 0.98), (0.47, 1), (0.93, 1), (0.97, 0.97), (1, 0.70)],
        (0.27, 0.44),
        (0.96, 1.0),
    ),
    "suv": (
        [(0, 0.58), (0.03, 0.70), (0.22, 0.75), (0.36, 0.98), (0.39, 1), (0.90, 1), (0.95, 0.98), (1, 0.72)],
        (0.22, 0.36),
        (0.95, 1.0),
    ),
    "van": (
        [(0, 0.45), (0.04, 0.55), (0.12, 0.62), (0.25, 0.97), (0.28, 1), (0.97, 1), (1, 0.95)],
        (0.12, 0.25),
        (1.0, 1.0),
    ),
}
CAR_BODIES = (("sedan", 0.4), ("hatchback", 0.3), ("wagon", 0.15), ("suv", 0.15))


def _section(w: float, w_roof: float, z_bot: float, z_belt: float, z_top: float) -> np.ndarray:
    """(12, 2) y, z of a body cross-section, a closed ring: bottom centre, the right side up (rounded
    sill, flank to the belt line, tumblehome to a rounded roof edge), top centre, the left side down."""
    z_belt = min(z_belt, z_top - 0.04)
    right = [
        (w * 0.85, z_bot),
        (w, z_bot + min(0.12, (z_belt - z_bot) * 0.3)),
        (w, z_belt),
        (max(w_roof, 0.3), z_top - min(0.1, (z_top - z_belt) * 0.5)),
        (max(w_roof, 0.3) * 0.6, z_top),
    ]
    ring = [(0.0, z_bot)] + right + [(0.0, z_top)] + [(-y, z) for y, z in right[::-1]]
    return np.array(ring)


def _loft(sections: np.ndarray, xs: np.ndarray, glass: np.ndarray, cls: str) -> Mesh:
    """A closed body through cross-sections (S, 12, 2) at ``xs``: quads between neighbouring
    sections, fans closing both ends; ``glass`` (S - 1, 12) marks the quads made of glass."""
    S, M = sections.shape[:2]
    v = np.concatenate([np.broadcast_to(xs[:, None, None], (S, M, 1)), sections], axis=2).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(S - 1), np.arange(M), indexing="ij")
    a, b = i * M + j, i * M + (j + 1) % M
    c, d = a + M, b + M
    tris = np.concatenate([np.stack([a, c, d], -1), np.stack([a, d, b], -1)], axis=-1).reshape(-1, 3)
    mats = np.repeat(np.where(glass, MATERIAL_ID["glass"], MATERIAL_ID["paint"]).ravel(), 2)
    caps, cap_mats = [], []
    for k, flip in ((0, True), (S - 1, False)):  # end caps: fans around each end's centroid
        centre = len(v) + len(caps) // M
        ring = k * M + np.arange(M)
        fan = np.stack([np.full(M, centre), ring, np.roll(ring, -1)], axis=1)
        caps.append(fan[:, ::-1] if flip else fan)
        cap_mats.append(np.full(M, MATERIAL_ID["paint"]))
    centroids = np.array([v[k * M : (k + 1) * M].mean(axis=0) for k in (0, S - 1)])
    v = np.concatenate([v, centroids])
    tris = np.concatenate([tris] + caps).astype(np.int32)
    mats = np.concatenate([mats] + cap_mats).astype(np.uint8)
    return Mesh(v.astype(np.float32), tris, np.full(len(tris), CLASS_ID[cls], np.uint8), mats)


def curved_body(
    body: str, L: float, W: float, H: float, clear: float, r_wheel: float, axle: float, cls: str
) -> Mesh:
    """A car or van body of type ``body`` (:data:`BODY_TYPES`) lofted through cross-sections: curved
    hood, sloped windshield and rear window, rounded roof and corners, wheel arches over the wheels at
    +-``axle``; glass (windshield, side and rear windows) as its own material."""
    profile, shield, rear = BODY_TYPES[body]
    f = np.concatenate(
        [np.linspace(0, 1, 11), [p[0] for p in profile], [shield[0], shield[1], rear[0], rear[1]]]
    )
    f = np.unique(np.clip(f, 0, 1))
    xs = L / 2 - f * L
    z_top = np.interp(f, [p[0] for p in profile], [p[1] for p in profile]) * H
    belt = (
        np.interp(f, [0, shield[1], 1], [0.62, 0.6, 0.6]) * H if body != "suv" else np.full_like(f, 0.62 * H)
    )
    corner = min(0.45, 0.12 * L)  # rounded corners seen from above
    end = np.clip((np.abs(xs) - (L / 2 - corner)) / corner, 0.0, 1.0)
    w = W / 2 * np.sqrt(1.0 - 0.45 * end**2)
    z_bot = np.full_like(xs, clear)
    for ax in (axle, -axle):  # wheel arches: the sill rises over each wheel
        arch = np.clip(1 - ((xs - ax) / (r_wheel + 0.1)) ** 2, 0, None)
        z_bot = np.maximum(z_bot, clear + np.sqrt(arch) * (2 * r_wheel + 0.04 - clear))
    roof_w = w * np.where(z_top > belt + 0.2, 0.8, 0.95)
    sections = np.stack([_section(w[k], roof_w[k], z_bot[k], belt[k], z_top[k]) for k in range(len(xs))])
    mid = (f[:-1] + f[1:]) / 2
    in_shield = (mid > shield[0]) & (mid < shield[1])
    in_rear = (mid > rear[0]) & (mid < rear[1])
    in_cabin = (mid > shield[1]) & (mid < rear[0])
    if body == "van":
        in_cabin &= mid < 0.45  # only the cab has side windows
    glass = np.zeros((len(xs) - 1, 12), bool)
    upper = np.r_[4, 5, 6, 7]  # ring quads above the roof edge: windshield, roof, rear window
    glass[np.ix_(in_shield | in_rear, upper)] = True
    glass[np.ix_(in_shield | in_rear | in_cabin, [3, 8])] = True  # belt to roof edge: the side glass
    return _loft(sections, xs, glass, cls)


def vehicle(kind: str, rng: np.random.Generator, size: tuple[float, float, float] | None = None) -> Mesh:
    """A car (sedan, hatchback, wagon or SUV body), van or truck of class car/van/truck: cars and vans
    with curved lofted bodies (:func:`curved_body`) and mirrors, trucks a cab and a cargo box; glass
    that returns few points; four wheels in wheel arches. ``size`` (l, w, h), e.g. a KITTI label's,
    is clipped to :data:`VEHICLE_SIZES`; None draws one (:func:`vehicle_size`)."""
    if size is None:
        L, W, H = vehicle_size(kind, rng)
    else:
        L, W, H = (float(np.clip(v, lo, hi)) for v, (lo, hi) in zip(size, VEHICLE_SIZES[kind]))
    cls = {"sedan": "car", "van": "van", "truck": "truck"}[kind]
    r = 0.31 if kind == "sedan" else 0.36 if kind == "van" else 0.5
    clear = 0.2 if kind == "sedan" else 0.25
    axle = L / 2 - max(0.7, 0.18 * L)
    parts = []
    if kind in ("sedan", "van"):
        names = [b for b, _ in CAR_BODIES]
        body = str(rng.choice(names, p=[p for _, p in CAR_BODIES])) if kind == "sedan" else "van"
        wb = W - 0.12  # the mirrors reach the box's width
        parts.append(curved_body(body, L, wb, H, clear, r, axle, cls))
        shield_front, shield_back = BODY_TYPES[body][1]
        rear_front = BODY_TYPES[body][2][0] if kind == "sedan" else 0.45
        x0, x1 = L / 2 - (shield_front + shield_back) / 2 * L, L / 2 - rear_front * L
        z0, z1 = 0.6 * H - 0.2, 0.93 * H  # from below the belt line to under the roof
        parts.append(  # the cabin behind the glass: seats, headrests, dashboard (the laser sees them)
            box(((x0 + x1) / 2, 0, (z0 + z1) / 2), (max(x0 - x1, 0.3), wb - 0.3, z1 - z0), cls, "cloth")
        )
        mx = L / 2 - (shield_front + 0.04) * L
        zm = 0.64 * H if kind == "sedan" else 0.6 * H
        for side in (-1, 1):
            parts.append(box((mx, side * (wb / 2 + 0.03), zm), (0.12, 0.06, 0.1), cls, "paint"))
        wheel_y = wb / 2 - 0.13
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
        wheel_y = W / 2 - 0.15
    for x in (axle, -axle):
        for y in (wheel_y, -wheel_y):
            parts.append(cylinder((x, y, r), r, 0.24, cls, "tyre", axis="y", resolution=10))
    return centered(merge(parts))


def _limb(pivot, size, pitch: float, cls: str, material: str) -> Mesh:
    """A box of ``size`` (x, y, length) hanging down from ``pivot`` (hip, shoulder), swung by ``pitch``
    rad about the y axis (positive: the far end forward, +x)."""
    m = box((0, 0, -size[2] / 2), size, cls, material)
    x, z = m.vertices[:, 0].copy(), m.vertices[:, 2].copy()
    c, s_ = np.cos(pitch), np.sin(pitch)
    m.vertices[:, 0] = x * c - z * s_
    m.vertices[:, 2] = x * s_ + z * c
    m.vertices += np.asarray(pivot, np.float32)
    return m


def pedestrian(rng: np.random.Generator) -> Mesh:
    """A person 1.5-1.95 m tall in a random pose: standing or mid-stride (legs and arms swung in
    opposite phase, torso leaning a little), some with a backpack or a bag in one hand."""
    H = rng.uniform(1.5, 1.95)
    leg, torso, head = 0.47 * H, 0.30 * H, 0.13 * H
    hip = 0.17 * H
    walking = rng.random() < 0.75
    swing = rng.uniform(0.2, 0.45) * rng.uniform(-1.0, 1.0) if walking else rng.normal(0.0, 0.05)
    lean = rng.uniform(0.0, 0.12) if walking else 0.0
    cls = "pedestrian"
    shoulder = leg + torso * 0.95
    parts = [
        _limb((0, 0.08, leg), (0.15, 0.13, leg), swing, cls, "cloth"),
        _limb((0, -0.08, leg), (0.15, 0.13, leg), -swing, cls, "cloth"),
        _limb((lean * torso / 2, 0, leg + torso), (0.22, 2 * hip, torso), lean, cls, "cloth"),
        _limb((lean * torso, hip + 0.05, shoulder), (0.1, 0.09, torso * 0.95), -0.7 * swing, cls, "cloth"),
        _limb((lean * torso, -hip - 0.05, shoulder), (0.1, 0.09, torso * 0.95), 0.7 * swing, cls, "cloth"),
        sphere(
            (lean * (torso + head / 2), 0, H - head / 2 - 0.01), head / 2, cls, "skin", scale=(0.85, 0.8, 1.1)
        ),
    ]
    bag = rng.random()
    if bag < 0.3:  # a backpack
        parts.append(box((-0.18 + lean * torso / 2, 0, leg + torso * 0.6), (0.16, 0.3, 0.4), cls, "cloth"))
    elif bag < 0.5:  # a bag carried in one hand
        hand = leg + torso * 0.95 - torso * 0.95 * np.cos(0.7 * swing)
        parts.append(box((0.0, hip + 0.12, hand - 0.15), (0.3, 0.1, 0.3), cls, "cloth"))
    return centered(merge(parts))


def cyclist(rng: np.random.Generator) -> Mesh:
    """A bicycle (two wheels, frame, crank, class bicycle) with a rider (class bicyclist) pedalling:
    the feet on the pedals at a random crank angle (thigh and shin of each leg follow it), the torso
    leaning forward to the handlebar, some with a backpack."""
    r = rng.uniform(0.32, 0.36)
    base = rng.uniform(1.0, 1.1)
    crank_x, crank_z, crank = -0.05, r + 0.02, 0.17
    parts = [
        cylinder((base / 2, 0, r), r, 0.05, "bicycle", "tyre", axis="y", resolution=14),
        cylinder((-base / 2, 0, r), r, 0.05, "bicycle", "tyre", axis="y", resolution=14),
        box((0, 0, r + 0.25), (base * 0.8, 0.05, 0.08), "bicycle", "metal"),
        box((-0.1, 0, r + 0.15), (0.06, 0.05, 0.35), "bicycle", "metal"),
        box((base / 2 - 0.05, 0, r + 0.3), (0.05, 0.5, 0.05), "bicycle", "metal"),
    ]
    H = rng.uniform(1.6, 1.85)
    seat = r + 0.5
    hip = np.array([-0.12, 0.0, seat + 0.05])
    thigh, shin = 0.245 * H, 0.25 * H
    phase = rng.uniform(0, 2 * np.pi)
    for side, ph in ((1, phase), (-1, phase + np.pi)):  # each foot on its pedal; the knee bends forward
        foot = np.array([crank_x + crank * np.cos(ph), 0.0, crank_z + crank * np.sin(ph)])
        d = foot - hip
        dist = float(np.clip(np.hypot(d[0], d[2]), 0.2, thigh + shin - 1e-3))
        down = np.arctan2(d[0], -d[2])  # angle of the hip-to-foot line from straight down
        bend = np.arccos(np.clip((thigh**2 + dist**2 - shin**2) / (2 * thigh * dist), -1.0, 1.0))
        a_thigh = down + bend  # the thigh swings forward of the hip-foot line
        knee = hip + thigh * np.array([np.sin(a_thigh), 0.0, -np.cos(a_thigh)])
        a_shin = np.arctan2(foot[0] - knee[0], -(foot[2] - knee[2]))
        y = side * 0.1
        parts.append(_limb((hip[0], y, hip[2]), (0.13, 0.12, thigh), a_thigh, "bicyclist", "cloth"))
        parts.append(_limb((knee[0], y, knee[2]), (0.1, 0.1, shin), a_shin, "bicyclist", "cloth"))
    lean = rng.uniform(0.3, 0.7)  # rad forward
    torso = 0.3 * H
    shoulder = hip + torso * np.array([np.sin(lean), 0.0, np.cos(lean)])
    parts.append(_limb(shoulder, (0.22, 0.36, torso), -lean, "bicyclist", "cloth"))  # down to the hip
    bar = np.array([base / 2 - 0.05, 0.0, r + 0.32])
    arm = np.arctan2(bar[0] - shoulder[0], -(bar[2] - shoulder[2]))
    reach = float(np.hypot(bar[0] - shoulder[0], bar[2] - shoulder[2]))
    for side in (1, -1):
        parts.append(
            _limb((shoulder[0], side * 0.2, shoulder[2]), (0.08, 0.08, reach), arm, "bicyclist", "skin")
        )
    head = 0.12
    parts.append(sphere(shoulder + np.array([0.08, 0.0, 0.2]), head, "bicyclist", "skin"))
    if rng.random() < 0.3:  # a backpack on the leaning back
        back = hip + 0.6 * (shoulder - hip) + np.array([-0.12, 0.0, 0.08])
        parts.append(_limb(back + np.array([0, 0, 0.2]), (0.14, 0.3, 0.38), lean, "bicyclist", "cloth"))
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


# ---- porous and detailed scenery (simulator v2) ---------------------------------------------------
def leaf_cloud(
    rng: np.random.Generator,
    center,
    radii,
    count: int,
    leaf: tuple[float, float] = (0.15, 0.4),
    cls: str = "vegetation",
    material: str = "leaves",
    shape: str = "ellipsoid",
) -> Mesh:
    """``count`` small randomly oriented triangles (leaf clumps, edge ``leaf`` m) scattered through an
    ellipsoid (or a box, ``shape="box"``) of semi-axes ``radii`` around ``center``. Rays partly pass
    through such a volume and return from scattered depths, as from real crowns and hedges; the share
    that passes is about exp(-count * mean area / (2 * volume) * chord)."""
    c = np.asarray(center, np.float64)
    r = np.asarray(radii, np.float64)
    if shape == "box":
        p = rng.uniform(-1.0, 1.0, (count, 3))
    else:  # uniform in the unit ball, denser towards the surface as crowns are
        d = rng.normal(size=(count, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = d * rng.uniform(0.0, 1.0, (count, 1)) ** (1.0 / 4.0)
    p = p * r + c
    size = rng.uniform(leaf[0], leaf[1], (count, 1, 1))
    corner = rng.normal(size=(count, 3, 3))
    corner /= np.linalg.norm(corner, axis=2, keepdims=True)
    v = (p[:, None, :] + size * 0.6 * corner).reshape(-1, 3).astype(np.float32)
    tris = np.arange(3 * count, dtype=np.int32).reshape(count, 3)
    return Mesh(
        v, tris, np.full(count, CLASS_ID[cls], np.uint8), np.full(count, MATERIAL_ID[material], np.uint8)
    )


def porous_tree(rng: np.random.Generator, scale: float = 1.0, low: bool = False) -> Mesh:
    """A street tree: trunk (class trunk), a few branches, and a crown of leaf clumps (class
    vegetation) that rays partly pass through. ``scale`` grows the whole tree; a street tree's crown
    starts 2.6 m or more above the ground (traffic passes under it), a ``low`` (garden) one at 0.6-2 m."""
    kind = rng.choice(["round", "tall", "wide"], p=[0.5, 0.25, 0.25])
    h = rng.uniform(0.6, 2.0) if low else rng.uniform(2.6, 3.6) * scale  # crown base
    cr = rng.uniform(1.4, 2.8) * scale
    sz = {"round": 1.0, "tall": 1.7, "wide": 0.75}[kind]
    sxy = {"round": 1.0, "tall": 0.7, "wide": 1.3}[kind]
    radii = (cr * sxy * rng.uniform(0.85, 1.15), cr * sxy * rng.uniform(0.85, 1.15), cr * sz)
    trunk_r = rng.uniform(0.1, 0.22) * np.sqrt(scale)
    parts = [
        cylinder((0, 0, (h + radii[2] * 0.6) / 2), trunk_r, h + radii[2] * 0.6, "trunk", "bark", resolution=8)
    ]
    for _ in range(int(rng.integers(2, 5))):  # branches into the crown
        a = rng.uniform(0, 2 * np.pi)
        ln = cr * rng.uniform(0.6, 0.9)
        b = box((0, 0, 0), (ln, 0.08, 0.08), "trunk", "bark", yaw=a)
        b.vertices[:, 2] += (b.vertices[:, 0] * np.cos(a) + b.vertices[:, 1] * np.sin(a)) * 0.6
        b.vertices += np.array(
            [np.cos(a) * ln / 2, np.sin(a) * ln / 2, h + rng.uniform(0.2, 1.0)], np.float32
        )
        parts.append(b)
    volume = 4.0 / 3.0 * np.pi * np.prod(radii)
    leaf = (0.2, 0.45)
    area = 0.6**2 * np.mean(leaf) ** 2 * 0.65  # mean area of a clump triangle
    tau = rng.uniform(1.2, 2.5)  # optical depth through the crown's centre
    count = int(np.clip(tau * 2 * volume / (2 * radii[0] * area), 150, 1400))
    parts.append(leaf_cloud(rng, (0, 0, h + radii[2]), radii, count, leaf))
    return merge(parts)


def bush(rng: np.random.Generator, length: float, depth: float, height: float, dense: float = 3.0) -> Mesh:
    """A hedge or a row of bushes (class vegetation): leaf clumps in lumpy ellipsoids along x, with an
    optical depth ``dense`` across the hedge, so a share of the rays passes and returns are scattered."""
    n = max(1, int(round(length / max(depth, 0.8))))
    step = length / n
    parts = []
    for k in range(n):
        x = -length / 2 + (k + 0.5) * step + rng.normal(0, 0.1 * step)
        hk = height * rng.uniform(0.8, 1.1)
        radii = (step * rng.uniform(0.55, 0.75), depth / 2 * rng.uniform(0.8, 1.1), hk / 2)
        volume = 4.0 / 3.0 * np.pi * np.prod(radii)
        area = 0.6**2 * 0.3**2 * 0.65
        count = int(np.clip(dense * 2 * volume / (2 * radii[1] * area), 30, 900))
        parts.append(leaf_cloud(rng, (x, 0, hk / 2), radii, count, (0.15, 0.45)))
    return merge(parts)


def fence(rng: np.random.Generator, length: float, height: float) -> Mesh:
    """A fence (class fence): posts every 2-3 m, two rails and, for some, vertical pickets or a mesh
    panel of bars, so rays pass between the parts."""
    kind = rng.choice(["rails", "pickets", "panel"], p=[0.3, 0.4, 0.3])
    parts = []
    n_posts = max(2, int(length / rng.uniform(2.0, 3.0)) + 1)
    for x in np.linspace(-length / 2, length / 2, n_posts):
        parts.append(box((x, 0, height / 2), (0.08, 0.08, height), "fence", "metal"))
    for z in (height * 0.3, height * 0.9):
        parts.append(box((0, 0, z), (length, 0.04, 0.06), "fence", "metal"))
    if kind == "pickets":
        gap = rng.uniform(0.12, 0.25)
        for x in np.arange(-length / 2 + gap, length / 2, gap):
            parts.append(box((x, 0, height * 0.5), (0.03, 0.03, height * 0.85), "fence", "metal"))
    elif kind == "panel":
        parts.append(box((0, 0, height * 0.55), (length, 0.02, height * 0.8), "fence", "concrete"))
    return merge(parts)


def bicycle_parked(rng: np.random.Generator) -> Mesh:
    """A parked bicycle (class parked-bicycle: not a cyclist): two wheels, a frame and handlebars."""
    r = rng.uniform(0.32, 0.36)
    base = rng.uniform(1.0, 1.1)
    return centered(
        merge(
            [
                cylinder((base / 2, 0, r), r, 0.05, "parked-bicycle", "tyre", axis="y", resolution=14),
                cylinder((-base / 2, 0, r), r, 0.05, "parked-bicycle", "tyre", axis="y", resolution=14),
                box((0, 0, r + 0.25), (base * 0.8, 0.05, 0.08), "parked-bicycle", "metal"),
                box((-0.1, 0, r + 0.15), (0.06, 0.05, 0.35), "parked-bicycle", "metal"),
                box((base / 2 - 0.05, 0, r + 0.45), (0.05, 0.5, 0.05), "parked-bicycle", "metal"),
            ]
        )
    )


def street_clutter(rng: np.random.Generator) -> Mesh:
    """One piece of street furniture (class other-object), origin at its bottom centre, x along the
    kerb: a waste bin, a utility cabinet, a row of bollards, a bench, or a planter with a shrub."""
    kind = rng.choice(["bin", "cabinet", "bollards", "bench", "planter"], p=[0.3, 0.2, 0.2, 0.15, 0.15])
    cls = "other-object"
    if kind == "bin":
        return cylinder((0, 0, 0.5), rng.uniform(0.25, 0.35), 1.0, cls, "metal", resolution=10)
    if kind == "cabinet":
        h = rng.uniform(1.0, 1.6)
        return box((0, 0, h / 2), (rng.uniform(0.6, 1.2), rng.uniform(0.3, 0.5), h), cls, "metal")
    if kind == "bollards":
        n = int(rng.integers(3, 7))
        return merge(
            [
                cylinder((k * 1.5 - (n - 1) * 0.75, 0, 0.45), 0.08, 0.9, cls, "metal", resolution=8)
                for k in range(n)
            ]
        )
    if kind == "bench":
        ln = rng.uniform(1.5, 2.2)
        return merge(
            [
                box((0, 0, 0.45), (ln, 0.45, 0.05), cls, "bark"),
                box((0, 0.2, 0.75), (ln, 0.05, 0.4), cls, "bark"),
                box((-ln / 2 + 0.1, 0, 0.22), (0.06, 0.4, 0.44), cls, "metal"),
                box((ln / 2 - 0.1, 0, 0.22), (0.06, 0.4, 0.44), cls, "metal"),
            ]
        )
    side = rng.uniform(0.8, 1.4)
    return merge(
        [
            box((0, 0, 0.3), (side, side, 0.6), cls, "concrete"),
            leaf_cloud(
                rng, (0, 0, 0.6 + side * 0.4), (side * 0.5, side * 0.5, side * 0.45), 120, (0.12, 0.3)
            ),
        ]
    )


def _grid_wall(xs: np.ndarray, zs: np.ndarray, keep: np.ndarray, y: float, cls: str, material: str) -> Mesh:
    """Quads of a vertical wall in the plane y = ``y`` between the breakpoints ``xs`` x ``zs``; cell
    (i, j) is there where ``keep[i, j]``."""
    X, Z = np.meshgrid(xs, zs, indexing="ij")
    v = np.stack([X, np.full_like(X, y), Z], axis=-1).reshape(-1, 3).astype(np.float32)
    m = len(zs)
    i, j = np.nonzero(keep)
    a = i * m + j
    b, c, d = a + m, a + m + 1, a + 1
    tris = np.concatenate([np.c_[a, b, c], np.c_[a, c, d]]).astype(np.int32)
    f = len(tris)
    return Mesh(v, tris, np.full(f, CLASS_ID[cls], np.uint8), np.full(f, MATERIAL_ID[material], np.uint8))


def detailed_building(
    rng: np.random.Generator, length: float, depth: float, height: float, material: str = "facade"
) -> Mesh:
    """A building (class building) whose street front (the -y face) has windows that are holes onto
    rooms 1.5-4 m deep (few returns from the window plane, scattered ones from inside; some windows
    glazed: glass returns weakly), recessed doors or shop fronts on the ground floor, balconies on
    some storeys, a setback top storey on some, and window reveals."""
    floor_h = rng.uniform(2.8, 3.4)
    floors = max(1, int(height / floor_h))
    height = floors * floor_h
    bay = rng.uniform(2.4, 3.6)
    bays = max(1, int(length / bay))
    length = bays * bay
    win_w, win_h = bay * rng.uniform(0.35, 0.6), floor_h * rng.uniform(0.4, 0.6)
    sill = floor_h * rng.uniform(0.25, 0.35)
    shop = rng.random() < 0.4
    front = -depth / 2
    room = rng.uniform(1.5, 4.0)
    # wall breakpoints: every bay split at its window edges; every floor at sill and lintel
    xs = np.concatenate(
        [
            [-length / 2 + k * bay + o for o in (0.0, (bay - win_w) / 2, (bay + win_w) / 2)]
            for k in range(bays)
        ]
        + [[length / 2]]
    )
    zs = np.concatenate(
        [[f * floor_h + o for o in (0.0, sill, sill + win_h)] for f in range(floors)] + [[height]]
    )
    keep = np.ones((len(xs) - 1, len(zs) - 1), bool)
    keep[1::3, 1::3] = False  # windows
    if shop:  # ground floor: large shop windows across most of every bay
        keep[:, 0:3] = True
        keep[1::3, 0] = keep[1::3, 1] = False
        keep[0::3, 1] = False
    parts = [_grid_wall(xs, zs, keep, front, "building", material)]
    # rooms behind the openings: a back wall and floor slab, one per storey
    parts.append(box((0, front + room, height / 2), (length, 0.1, height), "building", "concrete"))
    for f in range(floors):
        parts.append(
            box((0, front + room / 2, f * floor_h + 0.02), (length, room, 0.04), "building", "concrete")
        )
    # window reveals (sides) and some glazing
    for i in range(1, len(xs) - 1, 3):
        for j in range(1, len(zs) - 1, 3):
            if keep[i, j]:
                continue
            x0, x1, z0, z1 = xs[i], xs[i + 1], zs[j], zs[j + 1]
            parts.append(box(((x0 + x1) / 2, front + 0.1, z0), (x1 - x0, 0.2, 0.04), "building", material))
            if rng.random() < 0.35:
                parts.append(
                    box(
                        ((x0 + x1) / 2, front + 0.18, (z0 + z1) / 2),
                        (x1 - x0, 0.02, z1 - z0),
                        "building",
                        "glass",
                    )
                )
    if shop and floors > 1:
        parts.append(
            box((0, front - 0.6, floor_h * 0.95), (length, 1.2, 0.08), "building", "metal")
        )  # awning
    if floors > 1 and rng.random() < 0.5:  # balconies on every second bay of the upper storeys
        for f in range(1, floors):
            for k in range(0, bays, 2):
                x = -length / 2 + (k + 0.5) * bay
                parts.append(
                    box((x, front - 0.6, f * floor_h), (bay * 0.8, 1.2, 0.12), "building", "concrete")
                )
                parts.append(
                    box((x, front - 1.18, f * floor_h + 0.5), (bay * 0.8, 0.04, 0.9), "building", "metal")
                )
    # the block behind the rooms, with a setback top storey on some buildings
    body = depth - room
    top = height
    if floors > 2 and rng.random() < 0.3:
        top = height - floor_h
        parts.append(
            box(
                (0, depth / 2 - body / 2 + 0.8, height - floor_h / 2),
                (length * 0.9, body - 1.6, floor_h),
                "building",
                material,
            )
        )
    parts.append(box((0, depth / 2 - body / 2, top / 2), (length, body, top), "building", material))
    # side walls closing the rooms
    for sx in (-1, 1):
        parts.append(
            box((sx * length / 2, front + room / 2, height / 2), (0.1, room, height), "building", material)
        )
    return merge(parts)


def rough_strip(
    rng: np.random.Generator,
    xs: np.ndarray,
    y0: float,
    y1: float,
    z: np.ndarray,
    cell: float,
    roughness: float,
    cls: str = "terrain",
    material: str = "grass",
) -> Mesh:
    """A ground strip like scene._strip but with ``cell``-metre cells whose vertices are lifted by
    random bumps of ``roughness`` m (grass and rough terrain); ``z`` is the height at each ``xs``, or
    a function ``z(x, y)`` of the ground's height."""
    xf = np.arange(xs[0], xs[-1] + 1e-6, cell)
    m = int(np.ceil(abs(y1 - y0) / cell)) + 1
    ys = np.linspace(y0, y1, m)
    X, Y = np.meshgrid(xf, ys, indexing="ij")
    Z = z(X, Y) if callable(z) else np.broadcast_to(np.interp(xf, xs, z)[:, None], X.shape)
    dz = np.abs(rng.normal(0.0, roughness, (len(xf), m)))
    dz[:, 0] = 0.0  # the edge meets the sidewalk
    return grid_mesh(np.stack([X, Y, Z + dz], axis=-1), cls, material)


def grid_mesh(v: np.ndarray, cls: str, material: str) -> Mesh:
    """Two triangles per cell of a (n, m, 3) grid of vertices (ground strips, curbs)."""
    n, m = v.shape[:2]
    i, j = np.meshgrid(np.arange(n - 1), np.arange(m - 1), indexing="ij")
    a = (i * m + j).ravel()
    b, c, d = a + m, a + m + 1, a + 1
    tris = np.concatenate([np.c_[a, b, c], np.c_[a, c, d]]).astype(np.int32)
    f = len(tris)
    return Mesh(
        v.reshape(-1, 3).astype(np.float32),
        tris,
        np.full(f, CLASS_ID[cls], np.uint8),
        np.full(f, MATERIAL_ID[material], np.uint8),
    )
