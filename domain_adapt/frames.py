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


def rotate_z(points: np.ndarray, angle: float) -> np.ndarray:
    """Points turned by ``angle`` radians about the sensor's z axis (other channels unchanged)."""
    c, s = np.cos(angle), np.sin(angle)
    out = points.copy()
    out[:, 0] = c * points[:, 0] - s * points[:, 1]
    out[:, 1] = s * points[:, 0] + c * points[:, 1]
    return out


def load_unlabelled(cfg: ModelConfig, folder: str | Path, views: int = 1) -> np.ndarray:
    """(T, H, W, 6) target range images from every ``.npy`` range image and point cloud under ``folder``.

    A point cloud gives ``views`` images (front window, then the scan turned by 360/views degrees
    each time), so a few full scans give more unlabelled target images.
    """
    from squeezeseg.normalization import dataset_files

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("target folder not found", folder)
    return load_unlabelled_files(cfg, dataset_files(folder), views)


def load_unlabelled_files(cfg: ModelConfig, files: list[Path], views: int = 1) -> np.ndarray:
    """(T, H, W, 6) range images of the given ``.npy`` range images and point clouds (see
    :func:`load_unlabelled`)."""
    from squeezeseg.data.sources import with_mask
    from squeezeseg.io import read_points, read_squeezeseg_npy

    proj = None
    images = []
    for path in map(Path, files):
        if path.suffix == ".npy" and is_range_image(path):
            img = with_mask(*read_squeezeseg_npy(path))[0]
            check_shape(img, cfg, path)
            images.append(img)
            continue
        proj = proj or projection_for(cfg)
        points = read_points(path)
        for k in range(max(1, views)):
            ri = proj.project(rotate_z(points[:, :4], -2 * np.pi * k / max(1, views)))
            images.append(as_input(ri))
    if not images:
        raise InputError("no target scans given")
    return np.stack(images)


def is_range_image(path: Path) -> bool:
    """True for an (H, W, C) ``.npy`` array (a range image), False for an (N, C) point array."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).ndim == 3
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable .npy file: {exc}", path) from None


def as_input(ri) -> np.ndarray:
    """(H, W, 6) float32 network input of a projected scan (mask channel = pixel holds a point)."""
    img = ri.image.astype(np.float32).copy()
    img[..., 5] = ri.mask
    return img


def load_labelled(cfg: ModelConfig, folder: str | Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(frame name, image, labels) of a labelled real folder: a KITTI object ``training`` folder
    (velodyne, calib, label_2: boxes become point labels) or SqueezeSeg ``.npy`` range images."""
    from squeezeseg.data.sources import load_squeezeseg

    folder = Path(folder)
    if not folder.exists():
        raise InputError("evaluation folder not found", folder)
    if folder.is_dir() and (folder / "velodyne").is_dir() and (folder / "label_2").is_dir():
        return kitti_object_labelled(cfg, folder)
    files = [folder] if folder.is_file() else sorted(folder.rglob("*.npy"))
    if not files:
        raise InputError("no SqueezeSeg .npy frames and no KITTI object layout (velodyne/, label_2/)", folder)
    out = []
    for f in files:
        img, lab = load_squeezeseg(f, cfg)
        out.append((f.stem, img, lab))
    return out


def kitti_object_labelled(cfg: ModelConfig, root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """KITTI object frames projected to the model's window; a pixel takes its point's box class."""
    from squeezeseg.evaluate import kitti_object_frames

    proj = projection_for(cfg)
    out = []
    for name, points, classes, _ in kitti_object_frames(root, cfg.classes):
        ri = proj.project(points[:, :4])
        labels = np.where(ri.index >= 0, classes[np.maximum(ri.index, 0)], -1).astype(np.int32)
        out.append((name, as_input(ri), labels))
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
