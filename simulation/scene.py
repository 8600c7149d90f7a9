"""Procedural, seeded driving scenes: a straight road with gentle slopes, parking strips, curbs,
sidewalks, terrain, buildings, walls, trees, poles and signs (static), and agents (parked and
moving cars, vans, trucks, pedestrians, cyclists, and the ego vehicle) with trajectories.

World frame: the road runs along +x, y left, z up. Right-hand traffic: lanes with y < 0 drive +x.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from simulation import meshes
from simulation.classes import KITTI_TYPE
from simulation.meshes import Mesh
from simulation.tracking_layouts import load_layouts
from squeezeseg.boxes import Box3D

LANE_WIDTH = 3.5
PARKING_WIDTH = 2.3
BIKE_WIDTH = 1.6
CURB_HEIGHT = 0.15
EGO_SIZE = (4.5, 1.8, 1.6)
# Traffic comes from the KITTI tracking labels (simulation/tracking_layouts.py: counts per frame,
# positions, headings, sizes), placed on the street's cross-section by _add_traffic.
# Slow dense city traffic (queues at lights, stop-and-go; the KITTI raw city drive): a share of the
# scenes, two lanes per direction, the ego's direction queued bumper to bumper, moving with the ego,
# up to a head ahead of it, with more vans and trucks in the mix (vehicles alongside the ego). Each
# such scene puts 11-30% of its scans on vehicles. One drive of the 13 or so that the real KITTI scans of
# ../shared/data come from is queued (the raw drive: 30 of the realism report's 88 real scans; none
# of the 828 tracking frames), so one sequence in every JAM_PERIOD of a seed is (at a phase set by
# the seed), spread evenly rather than drawn independently: two queued scenes among 12 would double
# a small dataset's share of car points, none would leave its range histogram without the vehicles
# a few metres away that real scans have (docs/simulation.md).
JAM_PERIOD, JAM_MIX, JAM_GAP = 12, (0.6, 0.2, 0.2), (1.5, 6.0)
EGO_CLEAR = 14.0  # m kept free ahead of and behind the ego in its lane (outside queues)
LANE_HEADWAY = (2.0, 12.0)  # m from bumper to bumper at least, between vehicles of one lane
PARKED_SPACING = (0.7, 2.5)  # m between the bumpers of neighbouring parked cars
GROUP_SIZES, GROUP_P = (1, 2, 3), (0.6, 0.3, 0.1)  # pedestrians walk alone or in groups
ROUGH_WIDTH, ROUGH_CELL = 14.0, 1.0  # rough terrain (1 m cells with bumps) beside the sidewalks
BOX_PADDING = 0.01  # m added on every side of an exported box, so points on the mesh faces are inside


@dataclass(frozen=True)
class CrossSection:
    """The street's cross-section: the road falls ``camber`` (m/m) from its crown at y = 0 to the
    curbs (drainage crossfall, 1-2.5% on real streets), the sidewalks rise ``walk_fall`` towards the
    buildings from the curb top, and beyond the sidewalk edge ``edge`` the ground slopes by
    ``side_slope`` (right, left; embankments and cuttings, m/m, negative = falling away)."""

    camber: float = 0.0
    walk_fall: float = 0.0
    edge: float = 1e9
    side_slope: tuple[float, float] = (0.0, 0.0)
    bank: float = 0.0  # width (m) of the sloping ground beyond the sidewalk edge; flat after it


@dataclass
class Agent:
    """A movable object: local mesh, instance id (also the track id), KITTI type and trajectory.

    ``track`` holds (T, 3) poses x, y, yaw sampled every ``dt`` seconds from t = 0.
    """

    kind: str
    mesh: Mesh | None
    instance: int
    track: np.ndarray
    dt: float
    size: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def pose(self, t: float) -> tuple[float, float, float]:
        """(x, y, yaw) at time ``t`` (linear interpolation between samples)."""
        k = t / self.dt
        i = int(np.clip(np.floor(k), 0, len(self.track) - 2))
        a = float(np.clip(k - i, 0.0, 1.0))
        p0, p1 = self.track[i], self.track[i + 1]
        dyaw = (p1[2] - p0[2] + np.pi) % (2 * np.pi) - np.pi
        return float(p0[0] + a * (p1[0] - p0[0])), float(p0[1] + a * (p1[1] - p0[1])), float(p0[2] + a * dyaw)

    @property
    def label(self) -> str:
        return KITTI_TYPE.get(self.kind, "Misc")


@dataclass
class Scene:
    """Static geometry, agents and the road layout of one sequence."""

    seed: int
    static: Mesh
    agents: list[Agent]
    ego: Agent
    slope: float
    bump: tuple[float, float]  # amplitude (m), wavelength (m) of the road's rolling profile
    road_half_width: float
    lane_lines: list[tuple[float, bool]]  # (y, dashed)
    duration: float
    meta: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # e.g. the static ray-casting scene
    profile: CrossSection | None = None  # camber, sidewalk and roadside slopes (None: flat + curbs)

    def ground_z(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray | float:
        """Height of the ground surface (road, or curb-raised sidewalk and terrain) at (x, y)."""
        return ground_height(x, y, self.slope, self.bump, self.road_half_width, self.profile)

    def agent_z(self, x: float, y: float) -> float:
        return float(self.ground_z(x, y))

    def marking(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of road-marking paint at world (x, y) on the road surface."""
        out = np.zeros(np.shape(x), bool)
        for ly, dashed in self.lane_lines:
            on = np.abs(y - ly) < 0.075
            if dashed:
                on &= np.mod(x, 9.0) < 3.0
            out |= on
        return out & (np.abs(y) < self.road_half_width)

    def box(self, agent: Agent, t: float) -> Box3D:
        """The world-frame 3D box of ``agent`` at time ``t``: its mesh's extent plus BOX_PADDING."""
        x, y, yaw = agent.pose(t)
        l, w, h = (v + 2 * BOX_PADDING for v in agent.size)
        z = self.agent_z(x, y) + agent.size[2] / 2
        return Box3D((x, y, z), (l, w, h), yaw, agent.label, track_id=agent.instance)


def ground_height(
    x, y, slope: float, bump: tuple[float, float], road_half: float, profile: CrossSection | None = None
):
    """The road's profile (a gentle slope plus a rolling wave along x), cambered across, curb-raised
    beside the road, the ground beyond the sidewalks sloping (``profile``; flat when None)."""
    x = np.asarray(x, dtype=np.float64)
    ay = np.abs(np.asarray(y, dtype=np.float64))
    z = slope * x + bump[0] * np.sin(2 * np.pi * x / bump[1])
    if profile is None:
        return z + CURB_HEIGHT * (ay > road_half)
    p = profile
    walk = np.clip(ay - road_half, 0.0, p.edge - road_half)
    side = np.where(np.asarray(y) < 0, p.side_slope[0], p.side_slope[1])
    beyond = np.clip(ay - p.edge, 0.0, p.bank)
    off = (ay > road_half) * (CURB_HEIGHT + p.walk_fall * walk + side * beyond)
    return z - p.camber * np.minimum(ay, road_half) + off


# ---- trajectories -----------------------------------------------------------------------
def _trajectory(
    x0: float, y0: float, yaw0: float, speed: np.ndarray, yaw_rate: np.ndarray, dt: float
) -> np.ndarray:
    """Integrate speed and yaw-rate samples into (T, 3) poses."""
    yaw = yaw0 + np.concatenate([[0.0], np.cumsum(yaw_rate[:-1] * dt)])
    x = x0 + np.concatenate([[0.0], np.cumsum(speed[:-1] * np.cos(yaw[:-1]) * dt)])
    y = y0 + np.concatenate([[0.0], np.cumsum(speed[:-1] * np.sin(yaw[:-1]) * dt)])
    return np.stack([x, y, yaw], axis=1)


def _speed_profile(t: np.ndarray, v0: float, stop: tuple[float, float] | None, accel: float) -> np.ndarray:
    """Constant speed ``v0``; with ``stop`` = (t_stop, t_go) brake to 0 at t_stop and pull away at t_go."""
    v = np.full_like(t, v0)
    if stop is not None and v0 > 0:
        t_stop, t_go = stop
        braking = np.clip(v0 - accel * (t - t_stop), 0.0, v0)
        going = np.clip(accel * (t - t_go), 0.0, v0)
        v = np.where(t < t_stop, v0, np.where(t < t_go, braking, np.maximum(braking, going)))
    return v


def _stop_event(rng: np.random.Generator, duration: float) -> tuple[float, float]:
    """(t_stop, t_go): brake at a random moment of the sequence, pull away 1-10 s later."""
    t_stop = float(rng.uniform(0, 1) * duration)
    return t_stop, t_stop + float(rng.uniform(1.0, 10.0))


# ---- scene generation ----------------------------------------------------------------------
class _Builder:
    def __init__(self, seed: int, sequence: int, duration: float, rate_hz: float):
        self.rng = np.random.default_rng([seed, sequence, 7])
        self.seed = seed
        self.duration = duration
        self.dt = 1.0 / (4 * rate_hz)
        self.t = np.arange(0.0, duration + 2 * self.dt, self.dt)
        self.parts: list[Mesh] = []
        self.agents: list[Agent] = []
        self.next_instance = 1
        self.obstacles: list[tuple[float, float, float]] = []  # (x, y, half size) of trunks and poles
        self.profile: CrossSection | None = None
        self.fronts: dict[int, float] = {-1: 1e9, 1: 1e9}  # |y| of the building line per side (-1 right)

    def add_static(self, mesh: Mesh, x: float, y: float, yaw: float = 0.0, z: float | None = None) -> None:
        self.parts.append(mesh.transformed(yaw, (x, y, self.ground(x, y) if z is None else z)))

    def ground(self, x: float, y: float) -> float:
        return float(ground_height(x, y, self.slope, self.bump, self.road_half, self.profile))

    def add_agent(
        self, kind: str, x: float, y: float, yaw: float, speed: np.ndarray, yaw_rate=None, size=None
    ) -> None:
        """An agent starting at (x, y, yaw); ``size`` (l, w, h) for vehicles, e.g. a KITTI label's."""
        rng = self.rng
        if kind in meshes.VEHICLE_SIZES:
            mesh = meshes.vehicle(kind, rng, size)
        elif kind == "pedestrian":
            mesh = meshes.pedestrian(rng)
        else:
            mesh = meshes.cyclist(rng)
        lo, hi = mesh.extent
        size = tuple(float(v) for v in (hi - lo))
        yr = np.zeros_like(self.t) if yaw_rate is None else yaw_rate
        track = _trajectory(x, y, yaw, speed, yr, self.dt)
        self.agents.append(Agent(kind, mesh, self.next_instance, track, self.dt, size))
        self.next_instance += 1


def _strip(xs: np.ndarray, y0: float, y1: float, zfun, cls: str, mat: str) -> Mesh:
    """A grid of quads (cells at most 4 m) over ``xs`` x [y0, y1] at the heights ``zfun(x, y)``.
    Small cells keep Open3D's BVH efficient; long thin triangles make every ray test many of them."""
    m = int(np.ceil(abs(y1 - y0) / 4.0)) + 1
    ys = np.linspace(y0, y1, m)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    return meshes.grid_mesh(np.stack([X, Y, zfun(X, Y)], axis=-1), cls, mat)


def _curb(xs: np.ndarray, y: float, zfun) -> Mesh:
    """The vertical curb face at ``y`` (the road's edge) from the road up to the sidewalk."""
    inner = y - np.sign(y) * 1e-3
    outer = y + np.sign(y) * 1e-3
    bottom = np.stack([xs, np.full_like(xs, y), zfun(xs, np.full_like(xs, inner))], axis=-1)
    top = np.stack([xs, np.full_like(xs, y), zfun(xs, np.full_like(xs, outer))], axis=-1)
    return meshes.grid_mesh(np.stack([bottom, top], axis=1), "sidewalk", "curb")


def is_queued(seed: int, sequence: int) -> bool:
    """Whether sequence ``sequence`` of ``seed`` is a queued-traffic scene: one in every JAM_PERIOD
    consecutive sequences, at a phase drawn from the seed."""
    phase = int(np.random.default_rng([seed, JAM_PERIOD]).integers(JAM_PERIOD))
    return (sequence + phase) % JAM_PERIOD == 0


def generate_scene(
    seed: int, sequence: int = 0, duration: float = 10.0, rate_hz: float = 10.0, density: float = 1.0
) -> Scene:
    """A random street scene with agents moving for ``duration`` seconds; same arguments, same scene."""
    b = _Builder(seed, sequence, duration, rate_hz)
    rng = b.rng
    rng.random()  # the old per-scene queue draw, kept so that a seed's streets stay those of before
    jam = is_queued(seed, sequence)
    two_way_lanes = 2 if jam else int(rng.choice([1, 2], p=[0.8, 0.2]))  # driving lanes per direction
    parking = (rng.random() < 0.6, rng.random() < 0.6)  # right (y<0), left (y>0)
    bike = (rng.random() < 0.35, rng.random() < 0.35)  # bike lanes between traffic and parking
    drive_half = two_way_lanes * LANE_WIDTH
    right_edge = -drive_half - BIKE_WIDTH * bike[0] - PARKING_WIDTH * parking[0]
    left_edge = drive_half + BIKE_WIDTH * bike[1] + PARKING_WIDTH * parking[1]
    b.road_half = road_half = max(-right_edge, left_edge)
    b.slope = float(rng.uniform(-0.03, 0.03))
    b.bump = (float(rng.uniform(0.0, 0.4)), float(rng.uniform(80.0, 200.0)))
    ego_speed = float(rng.choice([0.0, rng.uniform(4.0, 12.0)], p=[0.15, 0.85]))
    if jam:
        ego_speed = float(rng.choice([0.0, rng.uniform(1.0, 4.0)]))
    travel = ego_speed * duration
    x_lo, x_hi = -110.0, travel + 110.0

    # ground: road, curbs, sidewalks, terrain (strips along x following the road profile and the
    # cross-section: cambered road, sidewalks rising to the buildings, banks beyond)
    xs = np.arange(x_lo - 20, x_hi + 20.1, 4.0)
    walk = float(rng.uniform(2.0, 4.0))
    edge = road_half + walk
    banks = [float(rng.choice([0.0, rng.uniform(-0.25, 0.3)], p=[0.4, 0.6])) for _ in range(2)]
    b.profile = CrossSection(
        camber=float(rng.uniform(0.01, 0.025)),
        walk_fall=float(rng.uniform(0.0, 0.03)),
        edge=edge,
        side_slope=(banks[0], banks[1]),
        bank=float(rng.uniform(4.0, 15.0)),
    )
    near, far = edge + ROUGH_WIDTH, edge + 70.0

    def zfun(x, y):
        return ground_height(x, y, b.slope, b.bump, road_half, b.profile)

    rough = float(rng.uniform(0.02, 0.07))  # grass and rough terrain: random bumps of a few cm
    b.parts += [
        _strip(xs, -road_half, 0.0, zfun, "road", "asphalt"),
        _strip(xs, 0.0, road_half, zfun, "road", "asphalt"),
        _curb(xs, road_half, zfun),
        _curb(xs, -road_half, zfun),
        _strip(xs, road_half + 1e-4, edge, zfun, "sidewalk", "concrete"),
        _strip(xs, -edge, -road_half - 1e-4, zfun, "sidewalk", "concrete"),
        meshes.rough_strip(rng, xs, edge, near, zfun, ROUGH_CELL, rough),
        meshes.rough_strip(rng, xs, -edge, -near, zfun, ROUGH_CELL, rough),
        _strip(xs, near, far, zfun, "terrain", "grass"),
        _strip(xs, -far, -near, zfun, "terrain", "grass"),
    ]
    lines = [(0.0, False)] + [(s * k * LANE_WIDTH, True) for k in range(1, two_way_lanes) for s in (-1, 1)]
    lines += [(-drive_half, False), (drive_half, False)]
    lines += [(side * (drive_half + BIKE_WIDTH), False) for side, has in zip((-1, 1), bike) if has]

    _add_roadside(b, x_lo, x_hi, road_half, edge, density)
    ego = _add_traffic(b, two_way_lanes, parking, bike, road_half, edge, ego_speed, x_lo, x_hi, density, jam)

    static = meshes.merge(b.parts)
    riders_first = sorted(b.agents, key=lambda a: a.kind != "cyclist")  # drop the car, not the cyclist
    agents = _remove_collisions(riders_first, [ego, *_obstacle_agents(b)], 4)
    return Scene(
        seed,
        static,
        agents,
        ego,
        b.slope,
        b.bump,
        road_half,
        lines,
        duration,
        meta={"sequence": sequence, "lanes_per_direction": two_way_lanes, "jam": jam},
        profile=b.profile,
    )


def _add_roadside(
    b: _Builder, x_lo: float, x_hi: float, road_half: float, edge: float, density: float
) -> None:
    """Beyond each sidewalk: detailed buildings (windows onto rooms, shop fronts, balconies) or walls
    and fences, front gardens with hedges, bushes and trees; along the sidewalk street trees with
    porous crowns, street lights, sign poles and parked bicycles."""
    rng = b.rng
    for side in (-1, 1):
        green = float(rng.uniform(0.3, 1.0))  # how leafy this side of the street is
        x = x_lo + rng.uniform(0, 10)
        # city blocks: fronts at or near the sidewalk; residential: front gardens
        setback = float(rng.choice([rng.uniform(0.0, 1.5), rng.uniform(1.5, 6.0)], p=[0.5, 0.5]))
        b.fronts[side] = edge + setback
        while x < x_hi:
            length = rng.uniform(8.0, 35.0)
            gap = rng.exponential(6.0)
            if rng.random() < 0.8:
                depth, height = rng.uniform(10, 16), rng.uniform(4.0, 18.0)
                mat = "facade" if rng.random() < 0.7 else "brick"
                front = edge + setback + rng.uniform(0, 1.0)
                y = side * (front + depth / 2)
                yaw = 0.0 if side > 0 else np.pi  # the detailed front faces the street
                xc = x + length / 2
                z = min(b.ground(xc, side * front), b.ground(xc, side * (front + depth))) - 0.05
                b.add_static(meshes.detailed_building(rng, length, depth, height, mat), xc, y, yaw, z)
            else:
                y = side * (edge + rng.uniform(0.2, setback + 0.3))
                if rng.random() < 0.5:
                    b.add_static(meshes.wall(length, rng.uniform(1.0, 2.5)), x + length / 2, y)
                else:
                    b.add_static(meshes.fence(rng, length, rng.uniform(1.0, 2.0)), x + length / 2, y)
            if setback > 1.2 and rng.random() < 0.5 * green + 0.5:  # front garden: hedge or bushes
                depth = min(rng.uniform(0.8, 2.0), setback - 0.4)
                y = side * (edge + rng.uniform(0.2, setback - depth - 0.1) + depth / 2)
                hl = length + gap * rng.uniform(0.5, 1.0)
                b.add_static(meshes.bush(rng, hl, depth, rng.uniform(0.8, 2.6)), x + hl / 2, y)
            for _ in (
                range(int(rng.poisson(green * length / 8.0))) if setback > 3.0 else ()
            ):  # garden trees, shrubs
                y = side * (edge + rng.uniform(1.5, setback - 0.5))
                tree = meshes.porous_tree(rng, rng.uniform(0.7, 1.6), low=True)
                b.add_static(tree, x + rng.uniform(0, length), y)
            x += length + gap
        x = x_lo + rng.uniform(0, 10)
        while x < x_hi:  # street trees at the kerb side of the sidewalk
            if rng.random() < 0.4 + 0.5 * green:
                y = side * (road_half + rng.uniform(0.7, 1.0))
                b.add_static(meshes.porous_tree(rng, rng.uniform(0.9, 1.6)), x, y)
                b.obstacles.append((x, y, 0.6))
            x += rng.uniform(7.0, 16.0) / density
        x = x_lo + rng.uniform(0, 30)
        while x < x_hi:
            sign = rng.random() < 0.4
            yaw = 0.0 if side < 0 else np.pi
            px = x + rng.uniform(-1.0, 1.0)
            b.add_static(meshes.pole(rng, sign), px, side * (road_half + 0.4), yaw=yaw)
            b.obstacles.append((px, side * (road_half + 0.4), 0.5))
            x += rng.uniform(15.0, 35.0)
        x = x_lo + rng.uniform(0, 20)
        while x < x_hi:  # street furniture on the sidewalk: bins, cabinets, bollards, benches, planters
            y = side * (
                road_half + rng.uniform(0.5, 0.9) if rng.random() < 0.5 else edge - rng.uniform(0.4, 0.8)
            )
            item = meshes.street_clutter(rng)
            lo, hi = item.extent
            b.add_static(item, x, y, yaw=0.0 if side < 0 else np.pi)
            b.obstacles.append((x, y, float(max(hi[0] - lo[0], hi[1] - lo[1])) / 2 + 0.1))
            x += rng.exponential(18.0) + 4.0
        x = x_lo + rng.uniform(0, 60)
        while x < x_hi:  # parked bicycles against the building side of the sidewalk
            for k in range(int(rng.integers(1, 4))):
                bx = x + 0.7 * k
                y = side * (edge - rng.uniform(0.3, 0.5))
                b.add_static(meshes.bicycle_parked(rng), bx, y, yaw=np.pi / 2 + rng.normal(0, 0.1))
                b.obstacles.append((bx, y, 0.6))
            x += rng.exponential(120.0) + 10.0


def _add_traffic(
    b: _Builder,
    lanes: int,
    parking: tuple[bool, bool],
    bike: tuple[bool, bool],
    road_half: float,
    edge: float,
    ego_speed: float,
    x_lo: float,
    x_hi: float,
    density: float,
    jam: bool = False,
) -> Agent:
    """The ego vehicle, then the objects of the KITTI tracking layouts (:mod:`simulation.tracking_layouts`:
    a traffic level per class: that of one labelled drive, positions slid along the road,
    headings and sizes from the labels) placed on this street's cross-section, with the ego's lateral
    offset as in the labels: vehicles go to the lanes or the parking strips (:func:`_vehicle_zone`;
    one speed per lane, so no rear-end collisions; some change lanes; parked ones in rows); pedestrians
    on their side's sidewalk, cyclists in the bike lane or at the outer lane's edge of the side their
    heading drives on. In jam scenes the ego's direction is a queue. Returns the ego agent."""
    rng, t, dur = b.rng, b.t, b.duration
    ego_lane_y = -LANE_WIDTH / 2 - LANE_WIDTH * int(rng.integers(0, lanes))
    ego_stop = (float(rng.uniform(0, 1) * dur), dur + 10.0) if rng.random() < 0.2 else None
    ego_v = _speed_profile(t, ego_speed, ego_stop, 3.0)
    ego_track = _trajectory(0.0, ego_lane_y, 0.0, ego_v, np.zeros_like(t), b.dt)
    ego = Agent("ego", None, 0, ego_track, b.dt, EGO_SIZE)

    layouts = load_layouts()
    level = {c: v * density for c, v in layouts.draw_levels(rng).items()}
    motion = {}  # (lane index, side) -> (speed m/s, speed profile): one per lane
    for k in range(lanes):
        for side in (-1, 1):
            if side * (LANE_WIDTH / 2 + k * LANE_WIDTH) == ego_lane_y or (jam and side < 0):
                v, stop = ego_speed, ego_stop  # a queue, or the ego's lane, moves as the ego does
            else:
                v = float(rng.uniform(5.0, 14.0)) if rng.random() < 0.85 else 0.0
                stop = _stop_event(rng, dur) if rng.random() < 0.3 else None
            motion[(k, side)] = (v, _speed_profile(t, v, stop, 3.0))
    queue_front = float(rng.uniform(8.0, 45.0)) if jam else -np.inf  # the queue's head, ahead of the ego
    if jam:
        _add_queue(b, lanes, ego_lane_y, queue_front, motion, x_lo)

    in_lane: dict[tuple[int, int], list] = {key: [] for key in motion}
    parked: dict[int, list] = {-1: [], 1: []}
    for name, kind in (("Car", "sedan"), ("Van", "van"), ("Truck", "truck")):
        for x, yk, heading, l, w, h in layouts[name].place(rng, x_lo, x_hi, level[name]):
            y = ego_lane_y + yk
            zone = _vehicle_zone(y, heading, lanes, parking, kind, b.fronts[-1 if y < 0 else 1])
            if zone is None:
                continue
            if zone[0] == "parked":
                parked[zone[1]].append((x, kind, (l, w, h), heading))
            elif not (jam and zone[2] < 0 and x < queue_front):
                in_lane[zone[1:]].append((x, kind, (l, w, h)))
    for (k, side), row in in_lane.items():
        _add_lane(b, k, side, sorted(row), motion[(k, side)], lanes, ego_lane_y, jam and side < 0)
    for side, row in parked.items():
        _add_parked(b, side * (road_half - PARKING_WIDTH / 2), sorted(row))
    _add_pedestrians(
        b,
        layouts["Pedestrian"].place(rng, x_lo, x_hi, level["Pedestrian"] / np.dot(GROUP_SIZES, GROUP_P)),
        ego_lane_y,
        road_half,
        edge,
    )
    _add_cyclists(b, layouts["Cyclist"].place(rng, x_lo, x_hi, level["Cyclist"]), lanes, bike)
    return ego


def _vehicle_zone(y: float, heading: float, lanes: int, parking: tuple[bool, bool], kind: str, front: float):
    """Where a labelled vehicle at lateral offset ``y`` (world, m) with ``heading`` goes on this street:
    ("lane", k, side) for lane ``k`` of ``side`` (-1 right, 1 left) when ``y`` falls in the driving
    lanes; None beyond the building line ``front`` (|y|, m) of its side: where KITTI's streets had open
    lots, side streets or a far carriageway, this one has buildings, and pulling those vehicles onto
    the street would put them several times nearer than the labels do. Between the lanes and the
    buildings ("parked", side) in a parking strip, its side's, else the other side's (cars and vans);
    on a street without strips, vehicles heading along the road drive in the outer lane of the side
    their heading drives on; None for the rest."""
    side = -1 if y < 0 else 1
    if abs(y) < lanes * LANE_WIDTH:
        return ("lane", min(int(abs(y) // LANE_WIDTH), lanes - 1), side)
    if abs(y) > front:
        return None
    if kind != "truck" and (parking[side > 0] or parking[side < 0]):
        return ("parked", side if parking[side > 0] else -side)
    if abs(np.cos(heading)) >= 0.7:
        return ("lane", lanes - 1, -1 if np.cos(heading) > 0 else 1)
    return None


def _add_queue(b: _Builder, lanes: int, ego_lane_y: float, front: float, motion: dict, x_lo: float) -> None:
    """Queued traffic in the ego's direction: bumper to bumper from ``x_lo`` to the queue's ``front``,
    a few metres free ahead of the ego, more vans and trucks than in free traffic."""
    rng = b.rng
    for k in range(lanes):
        y = -(LANE_WIDTH / 2 + k * LANE_WIDTH)
        x = x_lo + rng.uniform(0, 15)
        while x < front:
            if y == ego_lane_y and abs(x) < 6.0:
                x = 6.0 + rng.uniform(*JAM_GAP) - 1.5
                continue
            kind = str(rng.choice(["sedan", "van", "truck"], p=JAM_MIX))
            b.add_agent(kind, x, y + rng.normal(0, 0.3), 0.0, motion[(k, -1)][1])
            x += b.agents[-1].size[0] + rng.uniform(*JAM_GAP)


def _add_lane(
    b: _Builder, k: int, side: int, row: list, motion: tuple, lanes: int, ego_lane_y: float, queued: bool
) -> None:
    """The vehicles (x, kind, size) of lane ``k`` of ``side`` in order along x, each at least a headway
    behind the one before; none within EGO_CLEAR of the ego in its own lane; 15% change lanes."""
    rng, t, dur = b.rng, b.t, b.duration
    y = side * (LANE_WIDTH / 2 + k * LANE_WIDTH)
    yaw = 0.0 if side < 0 else np.pi
    v, speed = motion
    free = -np.inf  # the first x the next vehicle's centre may take
    for x, kind, size in row:
        x = max(x, free)
        if y == ego_lane_y and not queued and abs(x) < EGO_CLEAR:
            continue
        yaw_rate = None
        if rng.random() < 0.15 and v > 3 and lanes > 1 and not queued:  # lane change: left, right
            t0, T = float(rng.uniform(0, 1) * max(dur - 3, 0.0)), 1.5
            w = LANE_WIDTH / (v * T * T) * (-1 if abs(y) < LANE_WIDTH else 1)  # < 0: outward
            yaw_rate = np.where((t >= t0) & (t < t0 + T), w, 0.0) - np.where(
                (t >= t0 + T) & (t < t0 + 2 * T), w, 0.0
            )
        b.add_agent(kind, x, y + rng.normal(0, 0.15), yaw, speed, yaw_rate, size)
        free = x + b.agents[-1].size[0] + rng.uniform(*LANE_HEADWAY)


def _add_parked(b: _Builder, y: float, row: list) -> None:
    """Parked vehicles (x, kind, size, KITTI heading) in the parking strip at ``y``, in order along x:
    where the labels put them close together they form rows with small gaps between bumpers. They
    face the way their label does (along the road, either way)."""
    rng = b.rng
    still = np.zeros_like(b.t)
    free = -np.inf
    for x, kind, size, heading in row:
        x = max(x, free)
        yaw = (0.0 if np.cos(heading) >= 0 else np.pi) + rng.normal(0, 0.04)
        b.add_agent(kind, x, y + rng.normal(0, 0.12), yaw, still, None, size)
        free = x + b.agents[-1].size[0] + rng.uniform(*PARKED_SPACING)


def _add_pedestrians(
    b: _Builder, groups: np.ndarray, ego_lane_y: float, road_half: float, edge: float
) -> None:
    """Pedestrians, alone or in groups, on the sidewalk of the side of their label's lateral offset:
    those the labels show walking along the street walk (and stop, and weave), those facing across it
    mostly stand, facing that way."""
    rng, t, dur = b.rng, b.t, b.duration
    for x0, yk, heading, *_ in groups:
        y_w = ego_lane_y + yk
        side = -1 if y_w < 0 else 1
        y0 = side * float(np.clip(abs(y_w), road_half + 0.5, edge - 0.4))
        along = abs(np.cos(heading)) >= 0.5
        yaw = (0.0 if np.cos(heading) >= 0 else np.pi) + rng.normal(0, 0.1) if along else float(heading)
        v = float(rng.uniform(0.8, 1.8)) if rng.random() < (0.8 if along else 0.2) else 0.0
        stop = _stop_event(rng, dur) if rng.random() < 0.3 else None
        for k in range(int(rng.choice(GROUP_SIZES, p=GROUP_P))):
            a, period = rng.uniform(0.0, 0.12), rng.uniform(3.0, 8.0)
            yaw_rate = a * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
            y = float(np.clip(y0 + side * 0.7 * k, -edge + 0.4, edge - 0.4))
            speed = _speed_profile(t, v, stop, 1.0)
            b.add_agent("pedestrian", x0 + rng.normal(0, 0.3), y, yaw, speed, yaw_rate)


def _add_cyclists(b: _Builder, riders: np.ndarray, lanes: int, bike: tuple[bool, bool]) -> None:
    """Cyclists on the side their label's heading drives on (right-hand traffic): in the bike lane,
    else at the edge of the outer lane; one speed per side, weaving gently (those that would run
    into a vehicle are removed later)."""
    rng, t, dur = b.rng, b.t, b.duration
    for side, has in zip((-1, 1), bike):
        y = side * (lanes * LANE_WIDTH + BIKE_WIDTH / 2 if has else lanes * LANE_WIDTH - 0.6)
        yaw = 0.0 if side < 0 else np.pi
        v = float(rng.uniform(3.0, 7.0))
        stop = _stop_event(rng, dur) if rng.random() < 0.2 else None
        speed = _speed_profile(t, v, stop, 2.0)
        for x, _, heading, *_ in riders:
            if (np.cos(heading) >= 0) != (side < 0):
                continue
            a, period = rng.uniform(0.0, 0.03), rng.uniform(3.0, 6.0)  # sway of at most ~0.2 m
            yaw_rate = a * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
            b.add_agent("cyclist", float(x), y, yaw, speed, yaw_rate)


def _obstacle_agents(b: _Builder) -> list[Agent]:
    """Trunks and poles as motionless footprints, so that no agent walks or drives through them."""
    track = np.zeros((len(b.t), 3))
    out = []
    for x, y, half in b.obstacles:
        tr = track.copy()
        tr[:, 0], tr[:, 1] = x, y
        out.append(Agent("static", None, 0, tr, b.dt, (2 * half, 2 * half, 1.0)))
    return out


# along-road shifts (m) tried, in this order, for a pedestrian or cyclist whose spot is taken: the
# sidewalks hold a pole, trunk, bench, bin or parked bicycle every few metres, and removing the people
# who touch one left a third of the labels' pedestrians (docs/simulation.md)
_STEP = {"pedestrian": 1.0, "cyclist": 3.0}
_REACH = {"pedestrian": 30.0, "cyclist": 60.0}


def _shifts(kind: str) -> np.ndarray:
    """0, then +s, -s, +2s, -2s, ... up to the kind's reach (none for other kinds)."""
    if kind not in _STEP:
        return np.zeros(1)
    k = np.arange(1, int(_REACH[kind] / _STEP[kind]) + 1) * _STEP[kind]
    return np.r_[0.0, np.c_[k, -k].ravel()]


def _remove_collisions(agents: list[Agent], fixed: list[Agent], stride: int) -> list[Agent]:
    """Drop agents whose footprint (grown by 0.3 m) overlaps a ``fixed`` one (the ego, obstacles) or
    an earlier kept agent at any frame time; a pedestrian or cyclist is first moved along the road
    (its sidewalk or lane, :func:`_shifts`, the nearest free spot) and dropped only when none is free.
    Vehicles skip the obstacles (trunks, poles, street furniture stand beyond the curb, which vehicles
    on the road never cross; their footprints are sized for the people walking past them, and would
    clear the parking strips of parked cars)."""
    all_agents = [*fixed, *agents]
    poses = np.array([a.track[::stride] for a in all_agents])  # (A, T, 3) at the frame times
    radius = np.array([np.hypot(a.size[0], a.size[1]) / 2 + 0.3 for a in all_agents])
    kept: list[Agent] = []
    accepted = list(range(len(fixed)))
    for i in range(len(fixed), len(all_agents)):
        agent = all_agents[i]
        vehicle = agent.kind in meshes.VEHICLE_SIZES
        cand = np.array([j for j in accepted if not (vehicle and all_agents[j].kind == "static")], int)
        for dx in _shifts(agent.kind):
            pose = poses[i] + (dx, 0.0, 0.0)
            if not _clashes(agent, pose, [all_agents[j] for j in cand], poses[cand], radius[cand], radius[i]):
                break
        else:
            continue
        if dx:
            track = agent.track.copy()
            track[:, 0] += dx
            agent = replace(agent, track=track)
            poses[i] = pose
        all_agents[i] = agent
        accepted.append(i)
        kept.append(agent)
    return kept


def _clashes(
    agent: Agent,
    pose: np.ndarray,
    others: list[Agent],
    other_poses: np.ndarray,
    radii: np.ndarray,
    radius: float,
) -> bool:
    """Whether ``agent`` at poses ``pose`` (T, 3) overlaps (grown footprints, BEV) any of ``others``
    at ``other_poses`` (K, T, 3) at any of the T times; ``radii`` bound the footprints for a fast test."""
    if not others:
        return False
    d = np.linalg.norm(other_poses[:, :, :2] - pose[None, :, :2], axis=-1)  # (K, T)
    near_k, near_t = np.nonzero(d < (radii[:, None] + radius))
    pairs = np.unique(
        np.c_[near_k, np.round(pose[near_t], 2), np.round(other_poses[near_k, near_t], 2)], axis=0
    )
    return any(
        _grown_box(agent, row[1:4]).bev_iou(_grown_box(others[int(row[0])], row[4:7])) > 0 for row in pairs
    )


def _grown_box(agent: Agent, pose: np.ndarray) -> Box3D:
    l, w, h = agent.size
    return Box3D((pose[0], pose[1], 0.0), (l + 0.6, w + 0.6, max(h, 0.1)), float(pose[2]))
