"""The SqueezeSeg dataset: one ``.npy`` range image per frame (H x W x 6 float32: x, y, z,
intensity, range, label; 64 x 512 for the HDL-64E front 90 degrees) and ``ImageSet/*.txt`` splits."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open, atomic_write_text
from squeezeseg.errors import InputError

CHANNELS = ("x", "y", "z", "intensity", "range", "label")


def read_squeezeseg_npy(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(image float32 (H, W, 5): x, y, z, intensity, range; labels int32 (H, W))."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable .npy file: {exc}", path) from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 3 or arr.shape[2] != len(CHANNELS):
        raise InputError(
            f"expected an (H, W, 6) SqueezeSeg array, got shape {getattr(arr, 'shape', '?')}", path
        )
    labels = arr[..., 5]
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)) or np.any(labels < 0):
        raise InputError("label channel holds non-integer or negative values", path)
    return np.ascontiguousarray(arr[..., :5], dtype=np.float32), labels.astype(np.int32)


def write_squeezeseg_npy(path: str | Path, image: np.ndarray, labels: np.ndarray) -> None:
    """Write (H, W, >=5) image channels x, y, z, intensity, range and (H, W) labels as one array."""
    path = Path(path)
    img = np.asarray(image)
    lab = np.asarray(labels)
    if img.ndim != 3 or img.shape[2] < 5 or lab.shape != img.shape[:2]:
        raise InputError(
            f"need an (H, W, >=5) image and (H, W) labels, got {img.shape} and {lab.shape}", path
        )
    out = np.concatenate([img[..., :5], lab[..., None]], axis=2).astype(np.float32)
    with atomic_open(path, "wb") as fh:
        np.save(fh, out)


def read_split(path: str | Path) -> list[str]:
    """Frame ids of a split file (``ImageSet/train.txt``): one per line, blanks and ``#`` comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("split file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read split file: {exc}", path) from None
    ids = [line.strip() for line in text.splitlines()]
    ids = [i for i in ids if i and not i.startswith("#")]
    bad = [i for i in ids if len(i.split()) != 1]
    if bad:
        raise InputError(f"split lines must hold one frame id each, got '{bad[0]}'", path)
    return ids


def write_split(path: str | Path, ids: Iterable[str]) -> None:
    """Write frame ids one per line, atomically."""
    ids = [str(i) for i in ids]
    if any(not i or len(i.split()) != 1 for i in ids):
        raise InputError("frame ids must be non-empty and hold no whitespace", path)
    atomic_write_text(path, "".join(i + "\n" for i in ids))
