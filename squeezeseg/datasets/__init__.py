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
    "Dataset", "Frame", "FrameFiles", "REGISTRY", "network_input", "open_dataset", "register", "with_mask",
]


def open_dataset(path: str | Path, kind: str | None = None, sequence: str | None = None) -> Dataset:
    """Open ``path`` as a dataset of layout ``kind`` (one of ``REGISTRY``; guessed when None).

    ``sequence`` picks one sequence or drive of a root that holds several. Raises InputError naming the
    path when it does not exist, no layout fits, or the layout holds no frames.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("dataset path not found", path)
    if kind is not None:
        if kind not in REGISTRY:
            raise InputError(f"unknown dataset kind '{kind}' (known: {', '.join(REGISTRY)})", path)
        cls = REGISTRY[kind]
        if not cls.detect(path):
            raise InputError(f"not a {kind} layout", path)
    else:
        cls = next((c for c in sorted(REGISTRY.values(), key=lambda c: c.priority) if c.detect(path)), None)
        if cls is None:
            from squeezeseg.io import SCAN_SUFFIXES

            what = "not a point-cloud file" if path.is_file() else "no scans or range images found"
            looked = ", ".join(SCAN_SUFFIXES)
            raise InputError(f"{what} (looked for files ending in {looked}){_rejected(path)}", path)
    ds = cls.open(path, sequence)
    if not ds.frames:
        raise InputError(f"no scans found ({cls.kind} layout)", path)
    return ds


def _rejected(path: Path) -> str:
    """``; <file>: ...`` for a ``.npy`` that has a scan suffix but holds neither points nor a range image."""
    if not path.is_dir():
        return ""
    bad = next((p for p in sorted(path.rglob("*.npy")) if p.is_file()), None)
    return "" if bad is None else f"; {bad} is neither an (N, >=3) point array nor an (H, W, >=5) range image"
