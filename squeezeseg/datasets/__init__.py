"""Dataset layouts behind one interface: ``open_dataset(path)`` recognises a KITTI raw drive, the KITTI
object and tracking layouts, SemanticKITTI sequences, SqueezeSeg ``.npy`` folders, a folder of scans of
any supported format (KITTI ``.bin``, nuScenes ``.pcd.bin``, PCD, PLY, LAS, NumPy) or a single scan file.

``len(ds)``; ``ds[i]`` is a :class:`Frame` with ``.points`` and, where the layout has them, ``.labels``
(SemanticKITTI ids), ``.boxes``, ``.image``, ``.calib``, ``.timestamp``; ``ds.range_input(i, projection)``
is the network input of a frame (:mod:`squeezeseg.datasets.network_input` holds the one rule).

A new layout is one module here with a :class:`Dataset` subclass decorated with ``@register`` (its
``priority`` says when it is tried) and one import line below.
"""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets import (  # noqa: F401  (each module registers its adapter)
    kitti_object,
    kitti_raw,
    kitti_tracking,
    scans,
    semantickitti,
    squeezeseg_npy,
)
from squeezeseg.datasets.base import REGISTRY, Dataset, Frame, FrameFiles, register
from squeezeseg.datasets.network_input import network_input, with_mask
from squeezeseg.errors import InputError

__all__ = [
    "Dataset", "Frame", "FrameFiles", "REGISTRY", "network_input", "open_dataset", "open_datasets",
    "register", "scan_frames", "with_mask",
]


def open_dataset(path: str | Path, kind: str | None = None, sequence: str | None = None) -> Dataset:
    """Open ``path`` as a dataset of layout ``kind`` (one of ``REGISTRY``; guessed when None).

    ``sequence`` picks one sequence or drive of a root that holds several. Raises InputError naming the
    path when it does not exist, no layout fits, or the layout holds no frames.
    """
    path = Path(path)
    cls = _layout(path, kind)
    ds = cls.open(path, sequence)
    if not ds.frames:
        raise InputError(f"no scans found ({cls.kind} layout)", path)
    return ds


def open_datasets(path: str | Path, kind: str | None = None) -> list[Dataset]:
    """Every part of ``path``: each sequence, drive or split (KITTI object ``training`` and ``testing``)
    of a root that holds several, else the one dataset; for tools that read all scans of a folder."""
    path = Path(path)
    cls = _layout(path, kind)
    parts = cls.parts(path)
    if len(parts) <= 1:
        return [open_dataset(path, cls.kind)]
    datasets = [cls.open(path, p) for p in parts]
    return [ds for ds in datasets if ds.frames]


def scan_frames(path: str | Path, kind: str | None = None) -> list[tuple[Dataset, int]]:
    """(dataset, frame index) of every frame with a scan under ``path`` (see :func:`open_datasets`);
    InputError naming the path when there is none."""
    datasets = open_datasets(path, kind)
    frames = [(ds, i) for ds in datasets for i, f in enumerate(ds.frames) if f.scan is not None]
    if not frames:
        raise InputError("no scans found (the layout holds labels only)", path)
    return frames


def _layout(path: Path, kind: str | None) -> type[Dataset]:
    """The adapter for ``path``: ``kind``'s, checked, or the first by priority that recognises it."""
    if not path.exists():
        raise InputError("dataset path not found", path)
    if kind is not None:
        cls = REGISTRY.get(kind.replace("-", "_"))
        if cls is None:
            raise InputError(f"unknown dataset kind '{kind}' (known: {', '.join(REGISTRY)})", path)
        if not cls.detect(path):
            raise InputError(f"not a {cls.kind} layout", path)
        return cls
    cls = next((c for c in sorted(REGISTRY.values(), key=lambda c: c.priority) if c.detect(path)), None)
    if cls is None:
        from squeezeseg.io import SCAN_SUFFIXES

        what = "not a point-cloud file" if path.is_file() else "no scans or range images found"
        looked = ", ".join(SCAN_SUFFIXES)
        raise InputError(f"{what} (looked for files ending in {looked}){_rejected(path)}", path)
    return cls


def _rejected(path: Path) -> str:
    """``; <file>: ...`` for a ``.npy`` that has a scan suffix but holds neither points nor a range image."""
    if not path.is_dir():
        return ""
    bad = next((p for p in sorted(path.rglob("*.npy")) if p.is_file()), None)
    return "" if bad is None else f"; {bad} is neither an (N, >=3) point array nor an (H, W, >=5) range image"
