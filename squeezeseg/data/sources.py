"""Training frames on disk: SqueezeSeg-format ``.npy`` folders (the original dataset, and the
simulator's ``--layout squeezeseg``) and raw scans with SemanticKITTI ``.label`` files (SemanticKITTI
``sequences/`` and the simulator's ``kitti-raw`` layout).

Every loader returns ``(image (H, W, 6) float32 x, y, z, intensity, range, mask; labels (H, W) int32)``
with label -1 on empty pixels, so losses and metrics skip them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from squeezeseg.datasets.network_input import pixel_labels, with_mask
from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig


def squeezeseg_frames(root: str | Path, split: str) -> list[Path]:
    """``root/lidar_2d/<id>.npy`` for every id of ``root/ImageSet/<split>.txt`` (all files without one)."""
    from squeezeseg.io import read_split

    root = Path(root)
    folder = root / "lidar_2d" if (root / "lidar_2d").is_dir() else root
    if not folder.is_dir():
        raise InputError("dataset folder not found", root)
    split_file = root / "ImageSet" / f"{split}.txt"
    if split_file.is_file():
        files = [folder / f"{i}.npy" for i in read_split(split_file)]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{len(missing)} frames of the split are missing, e.g. {missing[0]}", split_file)
    else:
        files = sorted(folder.glob("*.npy"))
    if not files:
        raise InputError(f"no frames for split '{split}'", root)
    return files


def semantickitti_frames(root: str | Path, split: str) -> list[tuple[Path, Path]]:
    """(scan, label) pairs: ``D/labels/F.label`` with ``D/velodyne/F.bin`` (SemanticKITTI) or
    ``D/velodyne_points/data/F.bin`` (KITTI raw, the simulator's ``kitti-raw`` layout).

    ``root/ImageSet/<split>.txt`` may list ``D/F`` ids relative to ``root``; otherwise all labelled scans.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", root)
    pairs = []
    for lab in sorted(root.rglob("labels/*.label")):
        d = lab.parent.parent
        for scan in (d / "velodyne" / f"{lab.stem}.bin", d / "velodyne_points" / "data" / f"{lab.stem}.bin"):
            if scan.is_file():
                pairs.append((scan, lab))
                break
    split_file = root / "ImageSet" / f"{split}.txt"
    if split_file.is_file():
        from squeezeseg.io import read_split

        wanted = set(read_split(split_file))
        pairs = [p for p in pairs if _frame_id(p[1], root) in wanted]
    if not pairs:
        raise InputError(f"no scans with .label files for split '{split}'", root)
    return pairs


def _frame_id(label: Path, root: Path) -> str:
    return f"{label.parent.parent.relative_to(root).as_posix()}/{label.stem}"


def semantickitti_class_table(cfg: ModelConfig) -> np.ndarray:
    """(65536,) lookup from SemanticKITTI id to model class index (0 for everything unmapped)."""
    from squeezeseg.classes import semantickitti_lookup

    return semantickitti_lookup(cfg.classes, cfg.data.label_map)


def frame_loader(cfg: ModelConfig) -> tuple[list, Callable[[object], tuple[np.ndarray, np.ndarray]]]:
    """(frames of the training split, function frame -> (image, labels)) for ``cfg.data``."""
    return frames_and_loader(cfg, cfg.data.train_split)


def frames_and_loader(cfg: ModelConfig, split: str, root: str | Path | None = None):
    """(frames of ``split``, loader) for ``cfg.data.kind`` under ``root`` (default ``cfg.data.root``)."""
    root = root or cfg.data.root
    if not root:
        raise InputError("no data folder: set 'data.root' in the model config or pass --data")
    if cfg.data.kind in ("squeezeseg", "simulator"):
        files = squeezeseg_frames(root, split)
        for f in files:  # header-only reads: a wrong size is an InputError here, not deep inside tf.data
            check_npy_size(f, cfg)
        return files, lambda f: load_squeezeseg(f, cfg)
    table = semantickitti_class_table(cfg)
    from squeezeseg.projection import SphericalProjection

    proj = SphericalProjection.from_sensor(cfg.sensor, width=cfg.width, fov_deg=cfg.fov_deg)
    return semantickitti_frames(root, split), lambda p, rotation=0.0, tilt=(0.0, 0.0): load_semantickitti(
        p, proj, table, cfg, rotation, tilt)


def load_squeezeseg(path: Path, cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """One SqueezeSeg ``.npy`` frame, checked against the model's input size."""
    from squeezeseg.io import read_squeezeseg_npy

    image, labels = read_squeezeseg_npy(path)
    check_size(image, cfg, path)
    labels = np.where(labels < cfg.num_classes, labels, 0)
    return with_mask(image, labels)


def load_semantickitti(pair: tuple[Path, Path], proj, table: np.ndarray, cfg: ModelConfig,
                       rotation: float = 0.0, tilt: tuple[float, float] = (0.0, 0.0)):
    """Project one raw scan, turned by ``rotation`` radians about z first (augmentation: the window then
    looks in another direction) and tilted by ``tilt`` (pitch, roll) radians (a sloping road); each
    pixel takes the mapped class of the point it shows. Points of
    SemanticKITTI id 0 ("unlabeled", as in its benchmark; also the pseudo-labels' "not sure") get
    label -1, which losses and metrics skip."""
    from squeezeseg.datasets.network_input import rotate_z
    from squeezeseg.datasets.network_input import tilt as tilt_points
    from squeezeseg.io import read_points, read_semantickitti_labels

    scan, lab = pair
    points = read_points(scan)
    classes, _ = read_semantickitti_labels(lab, n_points=len(points))
    if rotation:
        points = rotate_z(points, rotation)
    if tilt[0] or tilt[1]:
        points = tilt_points(points, tilt[0], tilt[1])
    ri = proj.project(points)
    check_size(ri.image, cfg, scan)
    point_classes = np.where(classes == 0, -1, table[classes])  # 0 "unlabeled": not trained on
    return with_mask(ri.image, pixel_labels(ri.index, point_classes))


def check_npy_size(path: Path, cfg: ModelConfig) -> None:
    """Check the (H, W, 6) shape of a SqueezeSeg ``.npy`` from its header."""
    try:
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable .npy file: {exc}", path) from None
    if len(shape) != 3 or shape[2] != 6:
        raise InputError(f"expected an (H, W, 6) SqueezeSeg array, got shape {shape}", path)
    check_size(np.empty(shape[:2] + (0,)), cfg, path)


def check_size(image: np.ndarray, cfg: ModelConfig, path: Path) -> None:
    if image.shape[:2] != (cfg.height, cfg.width):
        raise InputError(
            f"range image is {image.shape[0]}x{image.shape[1]}, "
            f"the model config wants {cfg.height}x{cfg.width}", path)
