"""The KITTI tracking layout: ``velodyne/<seq>/*.bin``, ``image_02/<seq>/*.png``, ``calib/<seq>.txt``,
``label_02/<seq>.txt`` (boxes with track ids for every frame). A root with label files but no scans
(ground-truth tracks only) opens too: its frames have boxes and no points. With several sequences,
``sequence`` names one."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.boxes import Box3D
from squeezeseg.datasets.base import (
    IMAGE_SUFFIXES,
    Dataset,
    FrameFiles,
    frame_number,
    match_file,
    register,
    scan_files,
)
from squeezeseg.errors import InputError
from squeezeseg.io import scan_stem


def _root(path: Path) -> Path:
    if path.parent.name == "velodyne":
        return path.parent.parent
    return path / "training" if (path / "training" / "label_02").is_dir() or (
        path / "training" / "velodyne").is_dir() else path


def _sequences(root: Path) -> list[str]:
    velo = root / "velodyne"
    if velo.is_dir() and any(p.is_dir() for p in velo.iterdir()):
        return sorted(p.name for p in velo.iterdir() if p.is_dir())
    labels = root / "label_02"
    return sorted(p.stem for p in labels.glob("*.txt")) if labels.is_dir() else []


@register
class KittiTracking(Dataset):
    kind = "kitti_tracking"
    priority = 30

    @classmethod
    def detect(cls, path: Path) -> bool:
        if path.parent.name == "velodyne" and path.is_dir():  # velodyne/<seq> of a tracking root
            root = path.parent.parent
            return (root / "calib").is_dir() or (root / "label_02").is_dir()
        return bool(_sequences(_root(path)))

    @classmethod
    def parts(cls, path: Path) -> list[str]:
        return [] if path.parent.name == "velodyne" else _sequences(_root(path))

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        root = _root(path)
        seqs = _sequences(root)
        if path.parent.name == "velodyne":
            sequence = path.name
        if sequence is None:
            if len(seqs) > 1:
                raise InputError(
                    f"tracking layout with {len(seqs)} sequences: choose one of {', '.join(seqs[:10])}", path)
            sequence = seqs[0]
        if sequence not in seqs:
            raise InputError(f"tracking sequence '{sequence}' not found", root / "velodyne" / sequence)
        calib = match_file(root / "calib", sequence, (".txt",))
        labels = match_file(root / "label_02", sequence, (".txt",))
        images = root / "image_02" / sequence
        scans = scan_files(root / "velodyne" / sequence)
        if scans:
            frames = [
                FrameFiles(scan_stem(s), s, match_file(images, scan_stem(s), IMAGE_SUFFIXES), calib, None,
                           frame_number(scan_stem(s), k) * 0.1, frame_number(scan_stem(s), k))
                for k, s in enumerate(scans)
            ]
        else:  # ground-truth tracks only
            ks = _label_frames(labels)
            frames = [FrameFiles(f"{k:06d}", None, None, calib, None, k * 0.1, k) for k in ks]
        return cls(sequence, root, frames, labels, "tracking" if labels else None)

    def boxes(self, i: int) -> list[Box3D] | None:
        """Boxes (with track ids) of frame ``i`` from the sequence's ``label_02`` file."""
        if self.labels_path is None:
            return None
        tracks = getattr(self, "_tracks", None)
        if tracks is None:
            from squeezeseg.io import read_tracking_labels

            calib = self.calib(i)
            if calib is None:
                raise InputError("tracking labels need calib/<sequence>.txt", self.labels_path)
            tracks = read_tracking_labels(self.labels_path, calib)
            self._tracks = tracks
        return list(tracks.get(self._files(i).index, []))


def _label_frames(labels: Path | None) -> list[int]:
    """Frame numbers 0..last of a tracking label file (frames without objects included)."""
    if labels is None:
        return []
    last = -1
    for line in labels.read_text(encoding="utf-8", errors="replace").splitlines():
        head = line.split(maxsplit=1)
        if head and head[0].lstrip("-").isdigit():
            last = max(last, int(head[0]))
    return list(range(last + 1))
