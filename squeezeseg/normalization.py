"""Per-channel normalisation statistics (mean, std over valid pixels) computed from a dataset.

The training code calls :func:`compute_statistics` (or loads the file ``squeezeseg stats`` wrote)
instead of hard-coding the numbers of one dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from squeezeseg.atomic import atomic_write_text
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

FEATURES = ("x", "y", "z", "intensity", "range")


@dataclass(frozen=True)
class ChannelStats:
    """Mean and standard deviation of x, y, z, intensity, range over the valid pixels."""

    mean: np.ndarray  # (5,)
    std: np.ndarray  # (5,)
    pixels: int
    frames: int

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """(H, W, >=5) -> (H, W, 5) standardised; empty pixels (range 0) stay 0."""
        feats = np.asarray(image, dtype=np.float32)[..., :5]
        out = (feats - self.mean.astype(np.float32)) / self.std.astype(np.float32)
        return np.where(feats[..., 4:5] > 0, out, 0.0).astype(np.float32)

    def as_dict(self) -> dict:
        """Plain dict for YAML/JSON: {channels, mean, std, pixels, frames}."""
        return {
            "channels": list(FEATURES),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "pixels": int(self.pixels),
            "frames": int(self.frames),
        }


def compute_statistics(images: Iterable[np.ndarray]) -> ChannelStats:
    """Streamed mean/std (float64 sums) over pixels whose range (channel 4) is positive."""
    total = np.zeros(5)
    total_sq = np.zeros(5)
    count = 0
    frames = 0
    for img in images:
        arr = np.asarray(img)
        if arr.ndim != 3 or arr.shape[2] < 5:
            raise InputError(f"range image must be (H, W, >=5), got {arr.shape}")
        valid = arr[..., 4] > 0
        feats = arr[valid][:, :5].astype(np.float64)
        total += feats.sum(axis=0)
        total_sq += (feats * feats).sum(axis=0)
        count += len(feats)
        frames += 1
    if count == 0:
        raise InputError("no valid pixels to compute statistics from")
    mean = total / count
    var = np.maximum(total_sq / count - mean * mean, 0.0)
    std = np.sqrt(var)
    std[std == 0] = 1.0
    return ChannelStats(mean, std, count, frames)


def dataset_range_images(directory: str | Path, projection=None) -> Iterator[np.ndarray]:
    """Range images of every frame of a dataset folder (every sequence of any layout
    :func:`squeezeseg.datasets.scan_frames` reads): SqueezeSeg ``.npy`` frames as stored, scans projected
    with ``projection``."""
    from squeezeseg.datasets import scan_frames

    frames = scan_frames(directory)
    if projection is None and any(ds.kind != "squeezeseg" for ds, _ in frames):
        raise InputError("point clouds need a projection (give a sensor)", directory)
    return (ds.range_input(i, projection) for ds, i in frames)


def dataset_statistics(directory: str | Path, projection=None, progress: bool = False) -> ChannelStats:
    """Statistics over every frame of a dataset (see :func:`dataset_range_images`)."""
    images: Iterable[np.ndarray] = dataset_range_images(directory, projection)
    if progress:
        from tqdm import tqdm

        images = tqdm(images, desc="stats", unit="frame")
    return compute_statistics(images)


def save_statistics(path: str | Path, stats: ChannelStats) -> None:
    """Write YAML (.yaml/.yml) or JSON (anything else) atomically."""
    path = Path(path)
    data = stats.as_dict()
    if path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2)
    atomic_write_text(path, text)


def load_statistics(path: str | Path) -> ChannelStats:
    """Read a file written by :func:`save_statistics`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    except FileNotFoundError:
        raise InputError("statistics file not found", path) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML/JSON: {exc}", path) from None
    try:
        mean = np.asarray(data["mean"], dtype=np.float64)
        std = np.asarray(data["std"], dtype=np.float64)
        pixels, frames = int(data.get("pixels", 0)), int(data.get("frames", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"missing or bad key {exc}", path) from None
    if mean.shape != (5,) or std.shape != (5,) or np.any(std <= 0):
        raise InputError("mean and std must be 5 numbers each, std positive", path)
    return ChannelStats(mean, std, pixels, frames)
