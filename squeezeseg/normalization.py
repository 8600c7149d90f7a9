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
POINT_SUFFIXES = (".bin", ".pcd", ".ply", ".npz", ".las", ".laz")


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


def dataset_files(directory: str | Path) -> list[Path]:
    """Range images (.npy, H x W x 6) and point clouds (.bin, .pcd, ...) under ``directory``, sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("not a directory", d)
    suffixes = (".npy", *POINT_SUFFIXES)
    files = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix in suffixes)
    if not files:
        raise InputError("no .npy range images or point clouds found", d)
    return files


def iter_range_images(files: Iterable[Path], projection=None) -> Iterator[np.ndarray]:
    """Range images of ``files``: .npy in the SqueezeSeg format as is, point clouds projected."""
    from squeezeseg.io import read_points, read_squeezeseg_npy

    for path in files:
        kind = _npy_kind(path) if path.suffix == ".npy" else "points"
        if kind == "image":
            yield read_squeezeseg_npy(path)[0]
        elif kind == "points":
            if projection is None:
                raise InputError("point clouds need a projection (give a sensor)", path)
            yield projection.project(read_points(path)).image
        else:  # e.g. the _rowcol.npy / _labels.npy that `squeezeseg project` writes beside images
            log.info("%s: neither a range image nor a point cloud, skipped", path)


def _npy_kind(path: Path) -> str:
    """"image" (H, W, C), "points" (N, >=3 floats) or "other", read from the header only."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable .npy file: {exc}", path) from None
    if arr.ndim == 3:
        return "image"
    if arr.ndim == 2 and arr.shape[1] >= 3 and arr.dtype.kind == "f":
        return "points"
    return "other"


def dataset_statistics(directory: str | Path, projection=None, progress: bool = False) -> ChannelStats:
    """Statistics over every frame of a dataset folder (see :func:`dataset_files`)."""
    files = dataset_files(directory)
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="stats", unit="frame")
    return compute_statistics(iter_range_images(files, projection))


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
