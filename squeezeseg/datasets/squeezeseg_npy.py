"""SqueezeSeg range images: ``lidar_2d/*.npy`` (or a folder of them, or one file), each (H, W, 6)
float32 x, y, z, intensity, range, label with labels 0 unknown, 1 car, 2 pedestrian, 3 cyclist. A frame's
points are its valid pixels; its labels are given as SemanticKITTI ids like every other layout's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from squeezeseg.datasets.base import Dataset, FrameFiles, register
from squeezeseg.datasets.network_input import network_input, with_mask
from squeezeseg.errors import InputError


def npy_shape(path: Path) -> tuple[int, ...]:
    """Shape of a ``.npy`` array from its header; InputError naming the file when it is not one."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable .npy file: {exc}", path) from None


def is_range_image(path: Path) -> bool:
    """True for an (H, W, C >= 5) ``.npy`` array (a range image), False for anything else, an unreadable
    file included (reading it later says why)."""
    try:
        shape = npy_shape(path)
    except InputError:
        return False
    return len(shape) == 3 and shape[2] >= 5


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".npy" and is_range_image(path) else []
    folder = path / "lidar_2d" if (path / "lidar_2d").is_dir() else path
    if not folder.is_dir():
        return []
    return [f for f in sorted(folder.glob("*.npy")) if is_range_image(f)]


@register
class SqueezeSegNpy(Dataset):
    kind = "squeezeseg"
    priority = 10
    sequential = False

    @classmethod
    def detect(cls, path: Path) -> bool:
        return bool(_files(path))

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        files = _files(path)
        frames = [FrameFiles(f.stem, f, index=k) for k, f in enumerate(files)]
        return cls(path.stem if path.is_file() else path.name, path, frames)

    def range_image(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(image (H, W, 5) x, y, z, intensity, range; coarse labels (H, W), None for an unlabelled
        5-channel image) as stored."""
        from squeezeseg.io import read_squeezeseg_npy

        path = self._files(i).scan
        if npy_shape(path)[2] == 6:
            return read_squeezeseg_npy(path)
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"not a readable .npy file: {exc}", path) from None
        return np.ascontiguousarray(arr[..., :5], dtype=np.float32), None

    def points(self, i: int) -> np.ndarray:
        image, _ = self.range_image(i)
        return image[image[..., 4] > 0][:, :4].copy()

    def point_labels(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        from squeezeseg.classes import COARSE, COARSE_TO_SEMANTICKITTI

        image, labels = self.range_image(i)
        if labels is None:
            return None
        to_sk = np.array([COARSE_TO_SEMANTICKITTI[c] for c in COARSE], np.uint32)
        coarse = labels[image[..., 4] > 0]
        coarse = np.where(coarse < len(COARSE), coarse, 0)  # labels beyond the papers' classes: unknown
        return to_sk[coarse], np.zeros(len(coarse), np.uint32)

    def range_input(self, i: int, projection=None, rotation: float = 0.0) -> np.ndarray:
        """The stored range image as network input (``projection`` and ``rotation`` do not apply)."""
        return network_input(self.range_image(i)[0])

    def labelled_input(self, i: int, projection=None, classes=None, label_map=None):
        """(network input, labels (H, W), -1 on empty pixels), or None when unlabelled. The stored
        labels are the papers' classes; with ``classes`` they become indices into it (0 for none)."""
        from squeezeseg.classes import COARSE, match_class

        image, labels = self.range_image(i)
        if labels is None:
            return None
        labels = np.where(labels < len(COARSE), labels, 0)
        if classes is not None:
            names = [match_class(c, classes) for c in COARSE]
            to_model = np.array([0 if n is None else list(classes).index(n) for n in names], np.int32)
            labels = to_model[labels]
        return with_mask(image, labels)
