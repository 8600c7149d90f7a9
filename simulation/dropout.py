"""The SqueezeSeg dropout-noise model: the empirical probability that each range-image pixel
(row, col) is missing in real scans, estimated from real range images and applied to simulated
scans by dropping each pixel (or point) with that probability.

No map is shipped: the only real sample at hand is one frame under CC BY-NC-SA, which neither
licenses redistribution in an Apache-2.0 package nor gives a usable estimate (every probability
would be 0 or 1). Estimate one from your own real scans (`lidarsim dropout-model --from DIR`), or
pass a number for a uniform rate.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.errors import InputError
from squeezeseg.sensors import SensorConfig


@dataclass
class DropoutMap:
    """(H, W) missing probabilities over a window of ``fov_deg`` centred on the front (+x)."""

    prob: np.ndarray
    fov_deg: float = 90.0
    frames: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        self.prob = np.asarray(self.prob, np.float32)
        if self.prob.ndim != 2 or not np.all((self.prob >= 0) & (self.prob <= 1)):
            raise InputError("a dropout map is a 2-D array of probabilities in [0, 1]", self.source or None)
        if not 0 < self.fov_deg <= 360:
            raise InputError(
                f"dropout map fov_deg must be in (0, 360], got {self.fov_deg}", self.source or None
            )

    def keep_points(
        self, rows: np.ndarray, cols: np.ndarray, sensor: SensorConfig, rng: np.random.Generator
    ) -> np.ndarray:
        """Boolean mask of simulated points kept. ``cols`` index the sensor's full revolution.

        Points inside the map's window use their pixel's probability; outside it, the mean of their row.
        """
        H, W = self.prob.shape
        if sensor.beams != H:
            raise InputError(
                f"dropout map has {H} rows but sensor '{sensor.name}' has {sensor.beams} beams",
                self.source or None,
            )
        res = np.deg2rad(sensor.azimuth_resolution_deg)
        az = np.pi - (cols.astype(np.float64) + 0.5) * res
        az = (az + np.pi) % (2 * np.pi) - np.pi
        fov = np.deg2rad(self.fov_deg)
        mc = np.floor((fov / 2 - az) * W / fov).astype(np.int64)
        inside = (mc >= 0) & (mc < W)
        p = np.where(inside, self.prob[rows, np.clip(mc, 0, W - 1)], self.prob.mean(axis=1)[rows])
        return rng.random(len(rows)) >= p

    def drop_pixels(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """Boolean (H, W) mask of range-image pixels to blank; the image must match the map."""
        if tuple(shape) != self.prob.shape:
            raise InputError(
                f"dropout map is {self.prob.shape}, range image is {tuple(shape)}", self.source or None
            )
        return rng.random(self.prob.shape) < self.prob

    def save(self, path: str | Path) -> None:
        """Write the map as .npz (prob, fov_deg, frames), atomically."""
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(
                fh, prob=self.prob, fov_deg=np.float64(self.fov_deg), frames=np.int64(self.frames)
            )


def load_dropout_map(path: str | Path) -> DropoutMap:
    """Read a map saved by :meth:`DropoutMap.save`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("dropout map not found", path)
    if not zipfile.is_zipfile(path):
        raise InputError("not a dropout map: not an .npz archive (no zip header)", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single array, not an .npz archive")
            return DropoutMap(z["prob"], float(z["fov_deg"]), int(z["frames"]), str(path))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"not a dropout map (.npz with prob, fov_deg, frames): {msg}", path) from None


def check_dropout_map(dmap: DropoutMap, sensor: SensorConfig, layout: str) -> None:
    """Refuse, before any work, a map that cannot apply to ``sensor`` and ``layout``."""
    rows, cols = dmap.prob.shape
    where = dmap.source or None
    if sensor.beams != rows:
        raise InputError(f"dropout map has {rows} rows, sensor '{sensor.name}' {sensor.beams} beams", where)
    if layout == "squeezeseg" and cols not in (1, 512):
        raise InputError(f"dropout map is {rows} x {cols}; squeezeseg range images are {rows} x 512", where)


def resolve_dropout(
    spec: DropoutMap | str | float | Path | None, sensor: SensorConfig | None = None
) -> DropoutMap | None:
    """A map from a map, a path to one, or a number (uniform probability over the full circle)."""
    if spec is None or isinstance(spec, DropoutMap):
        return spec
    try:
        rate = float(spec)
    except (TypeError, ValueError):
        return load_dropout_map(spec)
    if not np.isfinite(rate) or not 0 <= rate < 1:
        raise InputError(f"a uniform dropout rate must lie in [0, 1), got {rate}")
    beams = sensor.beams if sensor is not None else 64
    return DropoutMap(np.full((beams, 1), rate, np.float32), 360.0, 0, f"uniform {rate}")


def estimate_dropout_map(
    source: str | Path, sensor: str = "hdl64e", width: int = 512, fov_deg: float = 90.0
) -> DropoutMap:
    """Per-pixel missing frequency over the real scans in folder ``source`` (searched recursively).

    SqueezeSeg ``.npy`` range images are used as they are (a pixel is missing where its range is 0);
    raw scans (.bin, .pcd, .ply, .las/.laz, .npz) are projected with
    ``SphericalProjection.from_sensor(sensor, width, fov_deg)`` first.
    """
    from squeezeseg.datasets import scan_frames
    from squeezeseg.projection import SphericalProjection

    source = Path(source)
    if not source.is_dir():
        raise InputError("not a folder of real range images or scans", source)
    frames = scan_frames(source)
    projection = SphericalProjection.from_sensor(sensor, width=width, fov_deg=fov_deg)
    total = None
    for ds, i in frames:
        missing = ds.range_input(i, projection)[..., 5] <= 0
        if total is None:
            total = np.zeros(missing.shape, np.float64)
        elif missing.shape != total.shape:
            shape = f"range image is {missing.shape}, earlier ones are {total.shape}"
            raise InputError(shape, ds.frames[i].scan)
        total += missing
    return DropoutMap((total / len(frames)).astype(np.float32), fov_deg, len(frames), str(source))
