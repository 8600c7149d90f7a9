"""SemanticKITTI / KITTI odometry: ``sequences/<NN>/velodyne/*.bin`` with per-point ``labels/*.label``
(uint32: low 16 bits SemanticKITTI id, high 16 bits instance) where labelled, and ``times.txt``.
Opens a sequence folder, ``sequences/`` or the dataset root; with several sequences ``sequence`` names one."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets.base import (
    Dataset,
    FrameFiles,
    frame_number,
    match_file,
    pick_part,
    read_times,
    register,
    scan_files,
)
from squeezeseg.io import scan_stem


def _is_sequence(path: Path) -> bool:
    if not (path / "velodyne").is_dir():
        return False
    return (path / "labels").is_dir() or path.parent.name == "sequences" or (path / "times.txt").is_file()


def _sequences(path: Path) -> list[Path]:
    seqs = path / "sequences" if (path / "sequences").is_dir() else path
    return sorted(d for d in seqs.iterdir() if d.is_dir() and _is_sequence(d)) if seqs.is_dir() else []


@register
class SemanticKitti(Dataset):
    kind = "semantickitti"
    priority = 40

    @classmethod
    def detect(cls, path: Path) -> bool:
        return _is_sequence(path) or ((path / "sequences").is_dir() or path.name == "sequences") and bool(
            _sequences(path))

    @classmethod
    def parts(cls, path: Path) -> list[str]:
        return [] if _is_sequence(path) else [s.name for s in _sequences(path)]

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        seq = path if _is_sequence(path) else pick_part(path, _sequences(path), sequence, "sequence")
        scans = scan_files(seq / "velodyne")
        numbers = [frame_number(scan_stem(s), k) for k, s in enumerate(scans)]
        times = read_times(seq / "times.txt", numbers)
        labels = [match_file(seq / "labels", scan_stem(s), (".label",)) for s in scans]
        frames = [
            FrameFiles(scan_stem(s), s, None, None, lab, t, n)
            for s, lab, t, n in zip(scans, labels, times, numbers)
        ]
        return cls(seq.name, seq, frames)
