"""LiDAR intensity by material, incidence angle, range and laser, fitted to real KITTI reflectance.

intensity = gain * [reflectivity * ((1 - w) + w cos(incidence)) * min(1, (r_ref / r)^p)
            * laser gain * exp(noise * N(0, 1))]^gamma, 0 below ``floor`` (the sensor reports 0 for weak
            returns: about a fifth of KITTI's points, most of them far or on dark surfaces),
            clipped to [0, 1] and rounded to KITTI's 0.01 steps.

Reflectivity is the material's (``simulation.classes``); car paint and clothing take one of ten
colours per instance (the camera's palette, so a black car is dark in both), its reflectivity
following the colour's brightness. The laser gains are a fixed spread of +-``laser_spread`` (log)
around 1, drawn once per sensor beam count, as real units differ laser by laser.

The parameters of :data:`FITTED` come from :func:`simulation.intensity_fit.fit` against the intensity
histograms of the *unlabelled* real scans of ``../shared/data`` (KITTI raw, kitti_pcd data_2, KITTI object
testing), overall and split by range and by height (ground / above): ``python -m simulation.intensity_fit``.
No labels are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.classes import MATERIAL_ID, MATERIAL_REFLECTIVITY

_PAINT, _CLOTH = MATERIAL_ID["paint"], MATERIAL_ID["cloth"]
# Reflectivity of the camera palette's ten colours (simulation.camera._PALETTE, same order): about
# 0.03 + 0.5 x the colour's brightness, so black paint returns little, white paint much.
PALETTE_REFLECTIVITY = np.array([0.40, 0.06, 0.18, 0.10, 0.45, 0.20, 0.12, 0.28, 0.35, 0.10], np.float32)
_PALETTE_STEP = 7  # the camera picks palette entry (instance * 7 + material) % 10


@dataclass(frozen=True)
class IntensityModel:
    gain: float = 1.8
    angle_weight: float = 0.6
    range_ref: float = 20.0
    range_power: float = 0.5
    noise: float = 0.25
    floor: float = 0.05
    laser_spread: float = 0.1
    gamma: float = 1.0  # < 1 compresses: KITTI's reflectance is not linear in the returned energy
    materials: tuple[float, ...] = tuple(float(r) for r in MATERIAL_REFLECTIVITY)  # by material id
    marking: float = 0.6  # road paint
    palette_scale: float = 1.0  # paint and clothing: PALETTE_REFLECTIVITY times this

    def reflectivity(self, material: np.ndarray, instance: np.ndarray, marking: int) -> np.ndarray:
        """(N,) float32 reflectivity of hits on ``material`` (``marking`` = road paint) of ``instance``."""
        table = np.asarray(self.materials, np.float32)
        refl = table[np.minimum(material, len(table) - 1)]
        refl[material == marking] = self.marking
        own = np.flatnonzero(((material == _PAINT) | (material == _CLOTH)) & (instance > 0))
        if len(own):
            k = (instance[own].astype(np.int64) * _PALETTE_STEP + material[own]) % len(PALETTE_REFLECTIVITY)
            refl[own] = PALETTE_REFLECTIVITY[k] * np.float32(self.palette_scale)
        return refl

    def laser_gains(self, beams: int) -> np.ndarray:
        g = np.random.default_rng(12345).normal(0.0, 1.0, beams)
        return np.exp(self.laser_spread * np.clip(g, -2.0, 2.0)).astype(np.float32)

    def __call__(
        self,
        reflectivity: np.ndarray,
        cos_incidence: np.ndarray,
        distance: np.ndarray,
        beams: np.ndarray,
        n_beams: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """(N,) float32 intensity of returns with these reflectivities, incidence cosines, ranges (m)
        and beam indices."""
        w = np.float32(self.angle_weight)
        v = reflectivity * (np.float32(1.0) - w + w * cos_incidence.astype(np.float32))
        v *= np.minimum(
            np.float32(1.0),
            (np.float32(self.range_ref) / np.maximum(distance, 0.5)) ** np.float32(self.range_power),
        )
        v *= self.laser_gains(n_beams)[beams]
        v *= np.exp(np.float32(self.noise) * rng.standard_normal(len(v), dtype=np.float32))
        if self.gamma != 1.0:
            np.power(v, np.float32(self.gamma), out=v)
        v *= np.float32(self.gain)
        v[v < self.floor] = 0.0
        np.clip(v, 0.0, 1.0, out=v)
        return (np.round(v * 100.0) / 100.0).astype(np.float32)


# Found by fit() (two rounds, from gain 0.95, range_ref 20, range_power 0.75, noise 0.35, floor 0.1 and
# the material table; reflectivities kept within 0.5-2x of the table's physical priors) on 4 simulated
# scenes x 3 frames against 63 unlabelled real scans: loss 0.171 (overall JS plus the count-weighted
# mean JS of the range x ground/above cells); the dataclass defaults score 0.55.
FITTED = IntensityModel(
    gain=0.95,
    angle_weight=0.0,
    range_ref=20.0,
    range_power=1.0,
    noise=0.4,
    floor=0.14,
    laser_spread=0.1,
    gamma=1.0,
    # none, asphalt, concrete, grass, facade, brick, leaves, bark, metal, sign, paint, glass, tyre,
    # skin, cloth, curb
    materials=(
        0.2,
        0.24,
        0.235,
        0.2975,
        0.432,
        0.3,
        0.34,
        0.15,
        0.225,
        1.0,
        0.25,
        0.025,
        0.04,
        0.35,
        0.3,
        0.15,
    ),
    marking=0.3,
    palette_scale=0.84,
)


# ---- fitting -------------------------------------------------------------------------------------
