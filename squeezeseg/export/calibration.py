"""Representative data for INT8 calibration and parity checks: range images (SqueezeSeg ``.npy``
frames or point clouds projected with the model's sensor) or camera images for SqueezeDet, checked
against the model's input size, or synthetic frames when no data is at hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from squeezeseg.datasets.base import IMAGE_SUFFIXES
from squeezeseg.errors import InputError


def calibration_files(folder: str | Path, kind: str) -> list[Path]:
    """Files of ``folder`` (searched recursively) that can feed a ``kind`` model; InputError if none.

    A dataset root with a training split gives the frames of that split only, so that calibration never
    sees the held-out frames the export is scored on: a SqueezeSeg root (``lidar_2d/`` and
    ``ImageSet/train.txt``) for segmentation, a KITTI object root (``training/image_2/`` and
    ``ImageSets/train.txt``) for SqueezeDet.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("calibration folder not found", folder)
    if kind == "squeezedet":
        split = _kitti_train_images(folder)
        if split is not None:
            return split
    elif (folder / "lidar_2d").is_dir() and (folder / "ImageSet" / "train.txt").is_file():
        from squeezeseg.data.sources import squeezeseg_frames

        return squeezeseg_frames(folder, "train")
    if kind == "squeezedet":
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError("calibration folder holds no images (.png/.jpg)", folder)
        return files
    from squeezeseg.datasets import scan_frames

    return [ds.frames[i].scan for ds, i in scan_frames(folder)]


def _kitti_train_images(root: Path) -> list[Path] | None:
    """Images of the training split of a KITTI object root (``root/training`` or ``root`` itself being
    ``training/``), or None when ``root`` is not one or has no ``train`` split file."""
    from squeezeseg.detection.data import layout_dirs, split_file
    from squeezeseg.io.squeezeseg_format import read_split

    try:
        images = layout_dirs(root)[0]
    except InputError:  # not a KITTI object folder: a plain image folder
        return None
    split = split_file(images.parent, "train")
    if split is None:
        return None
    ids = [Path(i).stem for i in read_split(split)]  # "000001" or "000001.png"
    by_id = {p.stem: p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InputError(
            f"the train split names {len(missing)} id(s) with no image in {images}, e.g. '{missing[0]}'",
            split,
        )
    return [by_id[i] for i in sorted(set(ids))]


def seg_input(path: Path, cfg, projection=None) -> np.ndarray:
    """(H, W, 6) raw model input of one ``.npy`` range image or point-cloud file."""
    from squeezeseg.datasets import open_dataset

    ds = open_dataset(path)
    img = ds.range_input(0, projection)
    if img.shape[:2] != (cfg.height, cfg.width):
        raise InputError(
            f"range image has shape {img.shape}, the model takes ({cfg.height}, {cfg.width}, >=5)", path
        )
    return img


def det_input(path: Path, cfg) -> np.ndarray:
    """(H, W, 3) float image at the SqueezeDet input size."""
    from squeezeseg.detection.data import load_image, resize_image

    return resize_image(load_image(path), cfg.input_size).astype(np.float32)


def synthetic_inputs(meta: dict[str, Any], count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` synthetic model inputs (ray-cast scenes for segmentation, noise images for detection)."""
    cfg = meta["config"]
    if meta["kind"] == "squeezedet":
        rng = np.random.default_rng(seed)
        shape = (cfg["input_height"], cfg["input_width"], 3)
        return [rng.uniform(0, 255, shape).astype(np.float32) for _ in range(count)]
    from squeezeseg.data.synthetic import synthetic_frame
    from squeezeseg.datasets import with_mask

    out = []
    for i in range(count):
        img, lab = synthetic_frame(cfg["height"], cfg["width"], seed + i, cfg["fov_deg"])
        out.append(with_mask(img, lab)[0])
    return out


def load_inputs(source: str | Path, meta: dict[str, Any], count: int = 100) -> list[np.ndarray]:
    """Up to ``count`` model inputs (H, W, C) float32 from a folder, or synthetic when ``source`` is
    "synthetic"; wrong-shape or unreadable files are InputErrors naming the file."""
    if str(source) == "synthetic":
        return synthetic_inputs(meta, count)
    files = calibration_files(source, meta["kind"])
    if len(files) > count:  # spread the picks over the whole folder
        files = [files[i] for i in np.linspace(0, len(files) - 1, count).round().astype(int)]
    if meta["kind"] == "squeezedet":
        from squeezeseg.config import from_dict
        from squeezeseg.detection.model import SqueezeDetConfig

        cfg = from_dict(SqueezeDetConfig, meta["config"])
        return [det_input(f, cfg) for f in files]
    from squeezeseg.models.config import ModelConfig

    cfg = ModelConfig.from_dict(meta["config"])
    projection = None
    if any(f.suffix != ".npy" for f in files):
        from squeezeseg.projection import SphericalProjection

        projection = SphericalProjection.from_sensor(cfg.sensor, width=cfg.width, fov_deg=cfg.fov_deg)
    return [seg_input(f, cfg, projection) for f in files]


def mixed_inputs(sources: str | Path | list, meta: dict[str, Any], count: int = 100) -> list[np.ndarray]:
    """``count`` calibration inputs drawn in equal shares from each of ``sources`` (one source or a list),
    repeating the frames of a source that has fewer than its share: each data domain (simulated training
    scans, unlabelled scans of the sensor the model will run on) then weighs the same in the ranges,
    however many frames it has."""
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not sources:
        raise InputError("no calibration source given")
    if len(sources) == 1:
        return load_inputs(sources[0], meta, count)
    if count < len(sources):
        raise InputError(f"{len(sources)} calibration sources need a count of at least {len(sources)}")
    shares = [count // len(sources) + (i < count % len(sources)) for i in range(len(sources))]
    out: list[np.ndarray] = []
    for src, share in zip(sources, shares):
        frames = load_inputs(src, meta, share)
        out.extend(frames[i % len(frames)] for i in range(share))
    return out


def representative(inputs: list[np.ndarray]):
    """A TFLite ``representative_dataset`` callable over ``inputs`` (each yielded as a batch of 1)."""

    def gen():
        for x in inputs:
            yield x[None].astype(np.float32)

    return gen
