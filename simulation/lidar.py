"""Spinning-LiDAR simulation: rays from the shared sensor description (beam elevation table,
azimuth resolution, range limits, mounting height, range noise) cast into a frame's geometry,
returning labelled points with synthetic intensity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.classes import MATERIAL_REFLECTIVITY
from simulation.raycast import MARKING, FrameGeometry, rotate_z
from squeezeseg.sensors import SensorConfig, load_sensor

MARKING_REFLECTIVITY = 0.6
WEAK_RETURN_S0 = 0.1 / 50.0**2 / np.log(2.0)  # 10% reflectivity at 50 m returns with probability 1/2


@dataclass
class LidarScan:
    """Returned points in the LiDAR frame and their labels (all arrays have N rows)."""

    points: np.ndarray  # (N, 4) float32 x, y, z, intensity
    classes: np.ndarray  # (N,) uint8 fine class ids (simulation.classes.CLASSES)
    instances: np.ndarray  # (N,) uint16, 0 for scenery
    rows: np.ndarray  # (N,) beam index, 0 = top beam
    cols: np.ndarray  # (N,) azimuth step index


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

    def __init__(self, sensor: SensorConfig | str = "hdl64e", intensity: bool = True, noise: bool = True):
        self.sensor = load_sensor(sensor) if isinstance(sensor, str) else sensor
        self.intensity = intensity and self.sensor.intensity
        self.noise = noise
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
        mat = hits.material[idx]
        refl = np.where(mat == MARKING, MARKING_REFLECTIVITY, MATERIAL_REFLECTIVITY[np.minimum(mat, 15)])
        cos_inc = np.abs(np.einsum("ij,ij->i", hits.normal[idx], dw[idx]))
        shading = 0.3 + 0.7 * cos_inc
        if self.noise:
            signal = refl * shading / np.maximum(rk, 1.0) ** 2
            returned = rng.random(len(idx)) < -np.expm1(-signal / WEAK_RETURN_S0)
            idx, rk, refl, shading = idx[returned], rk[returned], refl[returned], shading[returned]
        xyz = self.origins[idx] + d[idx] * rk[:, None]
        if self.intensity:
            falloff = 1.0 - 0.35 * np.clip(rk / sen.max_range, 0.0, 1.0)
            inten = np.clip(refl * shading * falloff, 0.0, 1.0)
        else:
            inten = np.zeros(len(idx), np.float32)
        pts = np.concatenate([xyz, inten[:, None]], axis=1).astype(np.float32)
        return LidarScan(pts, hits.cls[idx], hits.instance[idx], self.rows[idx], self.cols[idx])
