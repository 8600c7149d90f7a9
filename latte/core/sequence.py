"""Sequences of LiDAR frames to annotate: the datasets of :mod:`squeezeseg.datasets` (KITTI raw drive,
KITTI object and tracking layouts, SemanticKITTI sequences, SqueezeSeg ``.npy`` folders, folders of
scans of any format), opened as folders."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets import Dataset, open_dataset
from squeezeseg.errors import InputError

Sequence = Dataset

__all__ = ["Sequence", "open_sequence"]


def open_sequence(path: str | Path, sequence: str | None = None) -> Sequence:
    """Open the folder ``path`` as a sequence; ``sequence`` picks a tracking sequence ("0000") or a drive
    in a root holding several. Raises InputError naming the path when no known layout is found or it
    holds no scans."""
    path = Path(path)
    if path.is_file():
        raise InputError("expected a folder of scans (or a KITTI layout), got a file", path)
    if not path.exists():
        raise InputError("sequence folder not found", path)
    seq = open_dataset(path, sequence=sequence)
    if all(f.scan is None for f in seq.frames):
        raise InputError(f"no scans to annotate ({seq.kind} layout with labels only)", path)
    return seq
