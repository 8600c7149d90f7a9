"""Plain point-cloud files: a folder of scans in any format :func:`squeezeseg.io.read_points` reads
(``.bin``, nuScenes ``.pcd.bin``, ``.pcd``, ``.ply``, ``.npy``/``.npz`` point arrays, ``.las``/``.laz``),
searched in sub-folders when the folder itself holds none, or one scan file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from squeezeseg.datasets.base import Dataset, FrameFiles, register, scan_files


def _point_file(path: Path) -> bool:
    """A scan file; ``.npy`` only when it holds an (N, >=3) point array (not a range image or index map)."""
    from squeezeseg.io import is_scan

    if not is_scan(path):
        return False
    if path.suffix.lower() != ".npy":
        return True
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:  # unreadable: let read_points say why when the frame is read
        return True
    return arr.ndim == 2 and arr.shape[1] >= 3 and arr.dtype.kind == "f"


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if _point_file(path) else []
    files = [p for p in scan_files(path) if _point_file(p)]
    if files or not path.is_dir():
        return files
    return sorted(p for p in path.rglob("*") if p.is_file() and _point_file(p))


@register
class Scans(Dataset):
    kind = "scans"
    priority = 90

    @classmethod
    def detect(cls, path: Path) -> bool:
        return bool(_files(path))

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        from squeezeseg.io import scan_stem

        base = path.parent if path.is_file() else path
        frames = []
        for k, f in enumerate(_files(path)):
            rel = f.relative_to(base)
            fid = scan_stem(f) if len(rel.parts) == 1 else (rel.parent / scan_stem(f)).as_posix()
            frames.append(FrameFiles(fid, f, index=k))
        name = scan_stem(path) if path.is_file() else path.name
        return cls(name, path, frames)
