"""LiDAR sensor descriptions (configs/sensors/*.yaml): one table per sensor, shared by the
simulator (where rays go) and the projection (which pixel a point lands in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from squeezeseg.config import load_config
from squeezeseg.errors import InputError
from squeezeseg.resources import config_dir, config_path


@dataclass(frozen=True)
class SensorConfig:
    """A spinning LiDAR. Beam elevations are listed top beam first (row 0 of a range image)."""

    name: str
    beams: int
    azimuth_resolution_deg: float
    min_range: float
    max_range: float
    elevations_deg: list[float] | None = None
    elevation_range_deg: tuple[float, float] | None = None  # (top, bottom) for evenly spaced beams
    # Height (m) of each beam's origin above the sensor origin, top beam first. A beam then hits
    # z = rho * tan(elevation) + offset at horizontal distance rho (HDL-64E: two laser blocks).
    vertical_offsets_m: list[float] | None = None
    # Which beam a ring channel's value 0 names: "top" (row = ring) or "bottom" (row = beams-1-ring).
    ring_zero: Literal["top", "bottom"] = "top"
    horizontal_fov_deg: float = 360.0
    mounting_height: float = 1.73
    rate_hz: float = 10.0
    range_noise_std: float = 0.02
    intensity: bool = True
    description: str = ""
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.beams <= 0:
            raise ValueError(f"beams must be positive, got {self.beams}")
        if not 0 < self.azimuth_resolution_deg <= 10:
            raise ValueError(f"azimuth_resolution_deg must be in (0, 10], got {self.azimuth_resolution_deg}")
        if not 0 <= self.min_range < self.max_range:
            raise ValueError(f"need 0 <= min_range < max_range, got {self.min_range}, {self.max_range}")
        if (self.elevations_deg is None) == (self.elevation_range_deg is None):
            raise ValueError("give exactly one of elevations_deg or elevation_range_deg")
        if self.elevations_deg is not None:
            if len(self.elevations_deg) != self.beams:
                n = len(self.elevations_deg)
                raise ValueError(f"elevations_deg has {n} values for {self.beams} beams")
            if np.any(np.diff(self.elevations_deg) >= 0):
                raise ValueError("elevations_deg must be strictly decreasing (top beam first)")
        elif self.elevation_range_deg[0] <= self.elevation_range_deg[1]:
            raise ValueError("elevation_range_deg is (top, bottom) with top > bottom")
        if self.vertical_offsets_m is not None and len(self.vertical_offsets_m) != self.beams:
            n = len(self.vertical_offsets_m)
            raise ValueError(f"vertical_offsets_m has {n} values for {self.beams} beams")

    @property
    def elevations(self) -> np.ndarray:
        """(beams,) beam elevations in radians, top beam first."""
        if self.elevations_deg is not None:
            deg = np.asarray(self.elevations_deg, dtype=np.float64)
        else:
            top, bottom = self.elevation_range_deg
            deg = np.linspace(top, bottom, self.beams)
        return np.deg2rad(deg)

    @property
    def vertical_offsets(self) -> np.ndarray:
        """(beams,) height of each beam's origin above the sensor origin (metres), zeros when not given."""
        if self.vertical_offsets_m is None:
            return np.zeros(self.beams)
        return np.asarray(self.vertical_offsets_m, dtype=np.float64)

    @property
    def fov_up(self) -> float:
        """Elevation of the top beam (radians)."""
        return float(self.elevations[0])

    @property
    def fov_down(self) -> float:
        """Elevation of the bottom beam (radians)."""
        return float(self.elevations[-1])

    @property
    def columns_360(self) -> int:
        """Azimuth steps in one revolution."""
        return int(round(360.0 / self.azimuth_resolution_deg))


def available_sensors() -> list[str]:
    """Names of the sensor configs shipped in configs/sensors."""
    return sorted(p.stem for p in (config_dir() / "sensors").glob("*.yaml"))


def load_sensor(name: str | Path) -> SensorConfig:
    """Load a sensor by name (``hdl64e``) or by path to a YAML file."""
    path = config_path("sensors", str(name))
    if not path.exists():
        raise InputError(f"unknown sensor '{name}' (available: {', '.join(available_sensors())})")
    cfg = load_config(SensorConfig, path)
    return _with_source(cfg, str(path))


def _with_source(cfg: SensorConfig, source: str) -> SensorConfig:
    object.__setattr__(cfg, "source", source)
    return cfg
