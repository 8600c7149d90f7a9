"""Spinning-LiDAR simulation: rays from the shared sensor description (beam elevation table,
azimuth resolution, range limits, mounting height, range noise) cast into a frame's geometry,
returning labelled points with synthetic intensity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from simulation.intensity import FITTED, IntensityModel
from simulation.raycast import MARKING, FrameGeometry, rotate_z
from squeezeseg.sensors import SensorConfig, load_sensor

VISIBILITY_RAYS = 600  # rays per object, at most, to estimate how much of it is hidden
WEAK_RETURN_S0 = 0.1 / 50.0**2 / np.log(2.0)  # 10% reflectivity at 50 m returns with probability 1/2


@dataclass
class LidarScan:
    """Returned points in the LiDAR frame and their labels (all arrays have N rows)."""

    points: np.ndarray  # (N, 4) float32 x, y, z, intensity
    classes: np.ndarray  # (N,) uint8 fine class ids (simulation.classes.CLASSES)
    instances: np.ndarray  # (N,) uint16, 0 for scenery
    rows: np.ndarray  # (N,) beam index, 0 = top beam
    cols: np.ndarray  # (N,) azimuth step index
    features: dict | None = None  # with keep_features: reflectivity, cos incidence, range, beam


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
    ):
        self.sensor = load_sensor(sensor) if isinstance(sensor, str) else sensor
        self.intensity = intensity and self.sensor.intensity
        self.noise = noise
        self.intensity_model = intensity_model
        self.keep_features = False  # keep per-return features on the scan (to fit the intensity model)
        self.directions, self.rows, self.cols = sensor_directions(self.sensor)
        self.origins = beam_origins(self.sensor, self.rows)

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
        hits = geometry.cast(self.origins + np.asarray(position, np.float32), dw)
        sen = self.sensor
        r = hits.t
        if self.noise and sen.range_noise_std > 0:
            rng = rng or np.random.default_rng()
            r = r + rng.normal(0.0, sen.range_noise_std, size=r.shape).astype(np.float32)
        idx = np.flatnonzero(hits.hit & (r >= sen.min_range) & (r <= sen.max_range))
        rk = r[idx]
        mat, inst = hits.material[idx], hits.instance[idx]
        refl = self.intensity_model.reflectivity(mat, inst, MARKING)
        cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[idx], dw[idx]))
        if self.noise:
            signal = refl * (0.3 + 0.7 * cos_inc) / np.maximum(rk, 1.0) ** 2
            returned = rng.random(len(idx)) < -np.expm1(-signal / WEAK_RETURN_S0)
            idx, rk, refl, cos_inc = idx[returned], rk[returned], refl[returned], cos_inc[returned]
            mat, inst = mat[returned], inst[returned]
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
