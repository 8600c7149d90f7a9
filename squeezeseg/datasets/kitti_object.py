"""The KITTI object layout: ``training/`` or ``testing/`` with ``velodyne/*.bin``, ``image_2/*.png``,
``calib/*.txt`` and (training) ``label_2/*.txt`` boxes. Frames are independent (no sequence)."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets.base import (
    IMAGE_SUFFIXES,
    Dataset,
    FrameFiles,
    frame_number,
    match_file,
    register,
    scan_files,
)
from squeezeseg.io import scan_stem


def object_root(path: Path, data: str = "velodyne") -> Path | None:
    """The folder holding ``data/`` (``velodyne`` for scans, ``image_2`` for images) beside ``calib/`` or
    ``label_2/`` (images alone will do for ``image_2``): ``path``, its ``training/`` or its ``testing/``;
    None when there is none."""
    for d in (path, path / "training", path / "testing"):
        if data == "image_2":  # a detector's image folder, perhaps still empty
            if (d / data).is_dir():
                return d
        elif (d / data).is_dir() and ((d / "calib").is_dir() or (d / "label_2").is_dir()) and any(
            p.is_file() for p in (d / data).iterdir()
        ):
            return d
    return None


@register
class KittiObject(Dataset):
    kind = "kitti_object"
    priority = 50
    sequential = False

    @classmethod
    def detect(cls, path: Path) -> bool:
        return object_root(path) is not None

    @classmethod
    def parts(cls, path: Path) -> list[str]:
        """``training`` and ``testing`` where a KITTI object root holds both."""
        if object_root(path) == path:
            return []
        return [s for s in ("training", "testing") if object_root(path / s) == path / s]

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        if sequence is not None:
            path = path / sequence
        root = object_root(path) or path
        labels = root / "label_2"
        frames = []
        for k, scan in enumerate(scan_files(root / "velodyne")):
            stem = scan_stem(scan)
            frames.append(FrameFiles(
                stem, scan, match_file(root / "image_2", stem, IMAGE_SUFFIXES),
                match_file(root / "calib", stem, (".txt",)), match_file(labels, stem, (".txt",)), None,
                frame_number(stem, k),
            ))
        name = root.parent.name if root.name in ("training", "testing") else root.name
        has_labels = labels.is_dir()
        return cls(name, root, frames, labels if has_labels else None, "kitti" if has_labels else None)
