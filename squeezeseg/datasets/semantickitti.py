"""SemanticKITTI / KITTI odometry: ``sequences/<NN>/velodyne/*.bin`` with per-point ``labels/*.label``
(uint32: low 16 bits SemanticKITTI id, high 16 bits instance) where labelled, and ``times.txt``.
Opens a sequence folder, ``sequences/`` or the dataset root; with several sequences ``sequence`` names one."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets.base import Dataset, FrameFiles, match_file, read_times, register, scan_files
from squeezeseg.errors import InputError


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
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        seq = path
        if not _is_sequence(path):
            seqs = _sequences(path)
            if sequence is not None:
                seqs = [s for s in seqs if s.name == sequence]
                if not seqs:
                    raise InputError(f"sequence '{sequence}' not found", path)
            if len(seqs) > 1:
                raise InputError(
                    f"SemanticKITTI root with {len(seqs)} sequences: choose one of "
                    f"{', '.join(s.name for s in seqs[:10])}", path)
            seq = seqs[0]
        scans = scan_files(seq / "velodyne")
        times = read_times(seq / "times.txt", len(scans))
        frames = [
            FrameFiles(s.stem, s, None, None, match_file(seq / "labels", s.stem, (".label",)), t,
                       int(s.stem) if s.stem.isdigit() else k)
            for k, (s, t) in enumerate(zip(scans, times))
        ]
        return cls(seq.name, seq, frames)
