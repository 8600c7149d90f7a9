"""Spinning-LiDAR simulation: rays from the shared sensor description (beam elevation table,
azimuth resolution, range limits, mounting height, range noise) cast into a frame's geometry,
returning labelled points with synthetic intensity. The sensor's imperfections: per-laser range
noise and offsets that grow as the signal weakens, beam divergence (mixed returns at depth edges),
glass that the pulse passes through, weak returns lost (:class:`RangeModel`, :func:`mixed_returns`,
:func:`through_glass`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from simulation.classes import MATERIAL_ID
from simulation.intensity import FITTED, IntensityModel
from simulation.raycast import MARKING, FrameGeometry, rotate_z
from squeezeseg.sensors import SensorConfig, load_sensor

VISIBILITY_RAYS = 600  # rays per object, at most, to estimate how much of it is hidden
WEAK_RETURN_S0 = 0.1 / 50.0**2 / np.log(2.0)  # 10% reflectivity at 50 m returns with probability 1/2
GLASS_SPECULAR_COS = 0.999  # glass returns the pulse itself only at near-normal incidence (specular)
_GLASS = MATERIAL_ID["glass"]


@dataclass(frozen=True)
class RangeModel:
    """Range errors of a spinning multi-laser unit (defaults: an HDL-64E as in KITTI).

    Every laser has its own noise and a residual range offset left by the factory calibration (a few
    cm, the same in every scan of one unit): ``noise_spread`` and ``bias_std`` draw them, once per
    beam count, from a fixed stream. The noise of a return grows as its signal weakens (far, dark,
    grazing: the pulse's timing jitters more at low signal-to-noise): ``std = laser std *
    clip((S_ref / S)^(1/4), 0.5, 3)``, with S the weak-return model's signal and S_ref that of a
    25%-reflective target at 15 m. The laser std's median is ``noise_scale`` x the sensor YAML's
    ``range_noise_std``.

    Beam divergence: a beam's footprint is ``divergence`` (horizontal, vertical) rad wide; Velodyne
    documents 3.0 and 1.5 mrad for its VLS-128 (manual, table F-1), the HDL-64E's is not published in
    the sources at hand and taken alike: about one azimuth step and a fifth to a third of the beam
    spacing. A beam that straddles a depth edge receives light from both surfaces. Where the two lie
    closer than ``mix_depth`` (the pulse's length: the echoes merge) the sensor reports one range
    between them, weighted by the share of the footprint on each (the mixed "edge" points real scans
    hold between an object and what is behind it); farther apart, the stronger (own) echo wins and
    the range is kept.
    """

    noise_scale: float = 0.75
    noise_spread: float = 0.35  # log std of the lasers' noise around their median
    bias_std: float = 0.015  # m, per-laser residual range offset
    divergence: tuple[float, float] = (3.0e-3, 1.5e-3)  # rad, horizontal and vertical
    mix_depth: float = 1.2  # m
    mix_min: float = 0.05  # m: below this the two ranges count as one surface

    def laser_noise(self, beams: int, base_std: float) -> tuple[np.ndarray, np.ndarray]:
        """(std (beams,), bias (beams,)) in metres, fixed per beam count."""
        g = np.random.default_rng(54321).normal(0.0, 1.0, (2, beams))
        std = base_std * self.noise_scale * np.exp(self.noise_spread * np.clip(g[0], -2.0, 2.0))
        bias = self.bias_std * np.clip(g[1], -2.5, 2.5)
        return std.astype(np.float32), bias.astype(np.float32)


RANGE_MODEL = RangeModel()
_S_REF = 0.25 / 15.0**2


def neighbour_pairs(
    shape: tuple[int, int], wrap: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat ray indices of neighbouring rays in a (beams, columns) grid: (left, right) along each
    beam (the last column wraps to the first for a 360-degree sensor), then (upper, lower)."""
    B, C = shape
    grid = np.arange(B * C).reshape(B, C)
    left = grid if wrap else grid[:, :-1]
    right = (left % C + 1) % C + (left // C) * C
    return left.ravel(), right.ravel(), grid[:-1].ravel(), grid[1:].ravel()


def mixed_returns(
    t: np.ndarray,
    normals: np.ndarray,
    directions: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    frac: tuple[float, float],
    model: RangeModel,
    rng: np.random.Generator,
) -> np.ndarray:
    """Ranges ``t`` (R,, inf = no hit) after beam-divergence mixing at depth edges.

    ``pairs``: :func:`neighbour_pairs`; ``frac`` = the footprint's width in column and beam steps. A
    pair of neighbouring rays straddles a depth edge when the second ray's range is not where the
    first ray's surface (its plane, from ``normals`` and ``directions``) would put it, by ``mix_min``
    to ``mix_depth``. The edge lies at a uniform random place between the two rays; a ray whose
    footprint reaches over it by a share s of its width reports (1 - s) * own + s * neighbour's range.
    On one continuous surface nothing changes (the footprint's mean range is its centre's)."""
    out = t.copy()
    for (lo, hi), f in (((pairs[0], pairs[1]), frac[0]), ((pairs[2], pairs[3]), frac[1])):
        f = float(min(f, 1.0))
        if f <= 0:
            continue
        with np.errstate(invalid="ignore"):  # inf - inf where neither ray hits
            d = np.abs(t[hi] - t[lo])
            cand = np.flatnonzero((d > model.mix_min) & (d < model.mix_depth))
        # where the edge would lie between the two ray centres; only a footprint reaching over it
        # (e < f / 2 for ray a, e > 1 - f / 2 for ray b) can mix, so the plane test runs on those
        e = rng.random(len(cand), dtype=np.float32)
        reach = np.flatnonzero((e < f / 2) | (e > 1 - f / 2))
        a, b, e = lo[cand[reach]], hi[cand[reach]], e[reach]
        n_a = normals[a]
        nd_a = np.einsum("ij,ij->i", n_a, directions[a])
        nd_b = np.einsum("ij,ij->i", n_a, directions[b])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            off = np.abs(t[b] - t[a] * nd_a / nd_b)  # b's range against a's plane
        edge = ~(off <= model.mix_min)
        a, b, e = a[edge], b[edge], e[edge]
        if not len(a):
            continue
        s_a = np.clip((f / 2 - e) / f, 0.0, 0.5)  # share of ray a's footprint beyond the edge
        s_b = np.clip((e - 1 + f / 2) / f, 0.0, 0.5)
        gap = t[b] - t[a]
        out[a] += s_a * gap  # each ray is the first (and the second) ray of one pair per axis
        out[b] -= s_b * gap
    return out


@dataclass
class LidarScan:
    """Returned points in the LiDAR frame and their labels (all arrays have N rows)."""

    points: np.ndarray  # (N, 4) float32 x, y, z, intensity
    classes: np.ndarray  # (N,) uint8 fine class ids (simulation.classes.CLASSES)
    instances: np.ndarray  # (N,) uint16, 0 for scenery
    rows: np.ndarray  # (N,) beam index, 0 = top beam
    cols: np.ndarray  # (N,) azimuth step index
    features: dict | None = None  # with keep_features: reflectivity, cos incidence, range, beam


def through_glass(
    geometry: FrameGeometry, origins: np.ndarray, directions: np.ndarray, hits, passes: int = 1
):
    """``hits`` after letting rays pass through glass (car windows, glazed shop and house windows):
    a pulse that meets glass away from normal incidence goes on and returns from what lies behind
    (a car's seats, a room), as the laser does in real scans; within 2.6 degrees of normal incidence
    (``GLASS_SPECULAR_COS``) the glass reflects it back itself. ``passes`` panes (one: behind a
    car's window lies its cabin, behind a house's its room)."""
    for _ in range(passes):
        glass = np.flatnonzero(hits.hit & (hits.material == _GLASS))
        if not len(glass):
            break
        cos = np.abs(np.einsum("ij,ij->i", hits.normal[glass], directions[glass]))
        glass = glass[cos < GLASS_SPECULAR_COS]
        if not len(glass):
            break
        step = hits.t[glass] + np.float32(0.01)
        o = origins[glass] + directions[glass] * step[:, None]
        behind = geometry.cast(o, directions[glass])
        hits.t[glass] = step + behind.t
        for name in ("hit", "cls", "material", "instance", "normal"):
            getattr(hits, name)[glass] = getattr(behind, name)
    return hits


def sensor_directions(sensor: SensorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit ray directions (beams * columns, 3) in the LiDAR frame, with their beam and column indices.

    Column c points at azimuth pi - (c + 0.5) * resolution: column 0 at the back-left, increasing clockwise,
    so the front is in the middle columns and left is before right, as in the range images.
    """
    cols_n = (
        sensor.columns_360
        if sensor.horizontal_fov_deg >= 360
        else int(round(sensor.horizontal_fov_deg / sensor.azimuth_resolution_deg))
    )
    res = np.deg2rad(sensor.azimuth_resolution_deg)
    start = np.pi if sensor.horizontal_fov_deg >= 360 else np.deg2rad(sensor.horizontal_fov_deg) / 2
    az = start - (np.arange(cols_n) + 0.5) * res
    el = sensor.elevations
    E, A = np.meshgrid(el, az, indexing="ij")
    d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)
    rows, cols = np.meshgrid(np.arange(len(el)), np.arange(cols_n), indexing="ij")
    return d.astype(np.float32), rows.ravel().astype(np.int16), cols.ravel().astype(np.int16)


def beam_origins(sensor: SensorConfig, rows: np.ndarray) -> np.ndarray:
    """(R, 3) ray origins in the LiDAR frame: each beam starts at its laser's vertical offset."""
    o = np.zeros((len(rows), 3), np.float32)
    o[:, 2] = sensor.vertical_offsets[rows]
    return o


class LidarSimulator:
    """Casts one scan per call. ``intensity=False`` gives the papers' zero-intensity output.

    ``noise`` adds the sensor's Gaussian range noise and the weak-return model: a ray returns with
    probability ``1 - exp(-S / S0)``, S = reflectivity * (0.3 + 0.7 cos(incidence)) / range^2, with S0
    set so that a 10%-reflective target at normal incidence and 50 m returns half the time (the
    HDL-64E datasheet's range for pavement). Dark, glassy, far and grazing surfaces thus lose points.
    """

    def __init__(
        self,
        sensor: SensorConfig | str = "hdl64e",
        intensity: bool = True,
        noise: bool = True,
        intensity_model: IntensityModel = FITTED,
        range_model: RangeModel = RANGE_MODEL,
    ):
        self.sensor = load_sensor(sensor) if isinstance(sensor, str) else sensor
        self.intensity = intensity and self.sensor.intensity
        self.noise = noise
        self.intensity_model = intensity_model
        self.keep_features = False  # keep per-return features on the scan (to fit the intensity model)
        self.directions, self.rows, self.cols = sensor_directions(self.sensor)
        self.origins = beam_origins(self.sensor, self.rows)
        self.range_model = range_model
        self.laser_std, self.laser_bias = range_model.laser_noise(
            self.sensor.beams, self.sensor.range_noise_std
        )
        cols_n = len(self.directions) // self.sensor.beams
        self._pairs = neighbour_pairs((self.sensor.beams, cols_n), self.sensor.horizontal_fov_deg >= 360)
        spacing = np.median(np.abs(np.diff(np.sort(self.sensor.elevations))))
        self._footprint = (
            range_model.divergence[0] / np.deg2rad(self.sensor.azimuth_resolution_deg),
            range_model.divergence[1] / max(float(spacing), 1e-6),
        )

    @property
    def n_rays(self) -> int:
        return len(self.directions)

    def scan(
        self,
        geometry: FrameGeometry,
        position: np.ndarray,
        yaw: float,
        rng: np.random.Generator | None = None,
    ) -> LidarScan:
        """Scan from the sensor at world ``position`` (3,) heading ``yaw`` (the LiDAR frame is level)."""
        d = self.directions
        dw = rotate_z(d, yaw)
        origins = self.origins + np.asarray(position, np.float32)
        hits = through_glass(geometry, origins, dw, geometry.cast(origins, dw))
        sen = self.sensor
        r = hits.t
        if self.noise:
            rng = rng or np.random.default_rng()
            r = mixed_returns(r, hits.normal, dw, self._pairs, self._footprint, self.range_model, rng)
        idx = np.flatnonzero(hits.hit & (r >= sen.min_range) & (r <= sen.max_range))
        rk = r[idx]
        mat, inst = hits.material[idx], hits.instance[idx]
        refl = self.intensity_model.reflectivity(mat, inst, MARKING)
        cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[idx], dw[idx]))
        if self.noise:
            signal = refl * (0.3 + 0.7 * cos_inc) / np.maximum(rk, 1.0) ** 2
            keep = rng.random(len(idx), dtype=np.float32) < -np.expm1(-signal / WEAK_RETURN_S0)
            if sen.range_noise_std > 0:
                beam = self.rows[idx]
                weak = np.sqrt(np.sqrt(np.float32(_S_REF) / np.maximum(signal, 1e-12)))  # (S_ref / S)^(1/4)
                np.clip(weak, 0.5, 3.0, out=weak)
                noise = rng.standard_normal(len(idx), dtype=np.float32) * self.laser_std[beam] * weak
                rk = rk + noise + self.laser_bias[beam]
                keep &= (rk >= sen.min_range) & (rk <= sen.max_range)
            idx, rk, refl, cos_inc, mat, inst = (
                idx[keep],
                rk[keep],
                refl[keep],
                cos_inc[keep],
                mat[keep],
                inst[keep],
            )
        xyz = self.origins[idx] + d[idx] * rk[:, None]
        rows = self.rows[idx]
        if self.intensity:
            rng = rng or np.random.default_rng()
            inten = self.intensity_model(refl, cos_inc, rk, rows, sen.beams, rng)
        else:
            inten = np.zeros(len(idx), np.float32)
        pts = np.concatenate([xyz, inten[:, None]], axis=1).astype(np.float32)
        feats = None
        if self.keep_features:
            feats = {"material": mat, "instance": inst, "cos": cos_inc, "range": rk, "beam": rows}
        return LidarScan(pts, hits.cls[idx], hits.instance[idx], rows, self.cols[idx], feats)

    def visible_fractions(
        self, geometry: FrameGeometry, boxes: list, position: np.ndarray, yaw: float
    ) -> dict[int, float]:
        """For each box (LiDAR frame, ``track_id`` = instance): the share of the LiDAR rays that would
        hit the object if it were alone that do hit it in the frame (1 = fully visible).

        Only rays that can reach a box are used (up to VISIBILITY_RAYS per object). Two calls for all
        objects: ``list_intersections`` says which rays pass through the object at all, ``cast``
        which of them see it first."""
        windows = [self._window(b) for b in boxes]
        if not boxes or not any(len(w) for w in windows):
            return {}
        idx = np.concatenate(windows)
        owner = np.concatenate([np.full(len(w), b.track_id, np.int64) for w, b in zip(windows, boxes)])
        d = rotate_z(self.directions[idx], yaw)
        o = self.origins[idx] + np.asarray(position, np.float32)
        rays = o3d.core.Tensor(np.concatenate([o, d], axis=1).astype(np.float32))
        crossing = geometry.raycaster.list_intersections(rays)
        ray_ids = crossing["ray_ids"].numpy().astype(np.int64)
        gid = crossing["geometry_ids"].numpy().astype(np.int64) + 1  # ``raycaster`` holds the agents only
        inst = geometry.instances[np.minimum(gid, len(geometry.instances) - 1)]
        expected = np.zeros(len(idx), bool)
        expected[ray_ids[inst == owner[ray_ids]]] = True
        seen = expected & (geometry.cast(o, d).instance == owner)
        n = int(owner.max()) + 1
        n_exp = np.bincount(owner[expected], minlength=n)
        n_seen = np.bincount(owner[seen], minlength=n)
        return {
            b.track_id: float(n_seen[b.track_id] / n_exp[b.track_id]) if n_exp[b.track_id] else 0.0
            for b in boxes
        }

    def _window(self, box) -> np.ndarray:
        """Indices of the rays whose beam and azimuth step can reach ``box`` (a sample when many)."""
        sen = self.sensor
        n_cols = len(self.directions) // sen.beams
        corners = box.corners()
        az = np.arctan2(corners[:, 1], corners[:, 0])
        az_c = np.arctan2(box.center[1], box.center[0])
        rel = (az - az_c + np.pi) % (2 * np.pi) - np.pi
        res = np.deg2rad(sen.azimuth_resolution_deg)
        c0 = int(np.floor((np.pi - az_c - rel.max()) / res - 0.5)) - 1
        c1 = int(np.ceil((np.pi - az_c - rel.min()) / res - 0.5)) + 1
        cols = np.arange(c0, c1 + 1) % n_cols
        rho = max(np.hypot(box.center[0], box.center[1]) - np.hypot(box.size[0], box.size[1]) / 2, 0.5)
        z0, z1 = box.center[2] - box.size[2] / 2, box.center[2] + box.size[2] / 2
        off, el, margin = sen.vertical_offsets, sen.elevations, np.deg2rad(1.0)
        rows = np.flatnonzero(
            (el <= np.arctan2(z1 - off.min(), rho) + margin)
            & (el >= np.arctan2(z0 - off.max(), rho) - margin)
        )
        if len(rows) == 0 or len(cols) > n_cols // 2:
            return np.zeros(0, np.int64)
        step = int(np.ceil(np.sqrt(len(rows) * len(cols) / VISIBILITY_RAYS)))  # a sample is enough
        return (rows[::step, None] * n_cols + cols[None, ::step]).ravel()
