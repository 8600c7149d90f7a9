"""Range images for domain adaptation: the labelled synthetic source (SqueezeSeg layout, read with
:mod:`squeezeseg.data.sources`), the unlabelled real target (range images or raw scans) and the
labelled real evaluation frames (SqueezeSeg ``.npy`` or a KITTI object folder, boxes -> point labels).

Every image is (H, W, 6) float32 x, y, z, intensity, range, mask; labels (H, W) int32, -1 on empty pixels.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig

log = logging.getLogger(__name__)


def projection_for(cfg: ModelConfig):
    """The front-window projection the model was configured for (sensor, width, field of view)."""
    from squeezeseg.projection import SphericalProjection

    return SphericalProjection.from_sensor(cfg.sensor, width=cfg.width, fov_deg=cfg.fov_deg)


def source_sensor(root: str | Path) -> str | None:
    """Sensor named by a simulator dataset's ``lidarsim.json`` (None for other SqueezeSeg folders)."""
    manifest = Path(root) / "lidarsim.json"
    if not manifest.is_file():
        return None
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("sensor") or "") or None
    except ValueError:
        raise InputError("corrupt lidarsim.json", manifest) from None


def load_source(cfg: ModelConfig, root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """All labelled source frames of ``split``: (images (N, H, W, 6), labels (N, H, W))."""
    from squeezeseg.data.sources import frames_and_loader

    sensor = source_sensor(root)
    if sensor is not None and sensor != cfg.sensor:
        raise InputError(f"source scans come from sensor '{sensor}', the model is set up for '{cfg.sensor}'",
                         root)
    frames, load = frames_and_loader(cfg, split, root)
    pairs = [load(f) for f in frames]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def load_unlabelled(cfg: ModelConfig, folder: str | Path, views: int = 1) -> np.ndarray:
    """(T, H, W, 6) target range images from every frame of ``folder`` (any layout
    :func:`squeezeseg.datasets.open_dataset` opens: SqueezeSeg ``.npy`` range images, scans).

    A scan gives ``views`` images (front window, then the scan turned by 360/views degrees each time),
    so a few full scans give more unlabelled target images.
    """
    if not Path(folder).is_dir():
        raise InputError("target folder not found", folder)
    return load_unlabelled_files(cfg, [folder], views)


def load_unlabelled_files(cfg: ModelConfig, paths: list[str | Path], views: int = 1) -> np.ndarray:
    """(T, H, W, 6) range images of the given datasets or scan files (see :func:`load_unlabelled`)."""
    from squeezeseg.datasets import scan_frames

    proj = projection_for(cfg)
    images = []
    for path in paths:
        for ds, i in scan_frames(path):
            if ds.kind == "squeezeseg":
                img = ds.range_input(i)
                check_shape(img, cfg, ds.frames[i].scan)
                images.append(img)
                continue
            for k in range(max(1, views)):
                images.append(ds.range_input(i, proj, rotation=-2 * np.pi * k / max(1, views)))
    if not images:
        raise InputError("no target scans given")
    return np.stack(images)


def load_labelled(cfg: ModelConfig, folder: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(frame name, image, labels) of every labelled frame of a real dataset: SqueezeSeg ``.npy`` range
    images, SemanticKITTI scans (per-point labels) or a KITTI object folder (boxes become point labels),
    projected to the model's window."""
    from squeezeseg.data.sources import load_squeezeseg
    from squeezeseg.datasets import open_dataset

    if not Path(folder).exists():
        raise InputError("evaluation folder not found", folder)
    ds = open_dataset(folder)
    if ds.kind == "squeezeseg":
        return [(f.frame_id, *load_squeezeseg(f.scan, cfg)) for f in ds.frames]
    proj = projection_for(cfg)
    out = []
    for i, f in enumerate(ds.frames):
        pair = ds.labelled_input(i, proj, cfg.classes, cfg.data.label_map)
        if pair is not None:
            out.append((f.frame_id, *pair))
    if not out:
        raise InputError(f"no labelled frames ({ds.kind} layout without labels or boxes)", folder)
    return out


def check_shape(image: np.ndarray, cfg: ModelConfig, path: Path) -> None:
    """A range image must have the model's rows, columns and the 6 input channels."""
    if image.shape != (cfg.height, cfg.width, 6):
        raise InputError(f"range image is {image.shape[0]}x{image.shape[1]}x{image.shape[2]}, the model "
                         f"wants {cfg.height}x{cfg.width} (x, y, z, intensity, range, mask)", path)


def check_same_domain_shape(source: np.ndarray, target: np.ndarray, source_dir, target_dir) -> None:
    """Source and target range images must match in rows, columns and channels."""
    if source.shape[1:] != target.shape[1:]:
        raise InputError(f"source images are {source.shape[1:]} but target images are {target.shape[1:]} "
                         f"(from {target_dir}): different sensors or channels", source_dir)
