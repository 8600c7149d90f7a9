"""KITTI raw drives: ``<drive>/velodyne_points/data/*.bin``, ``image_02/data/*.png``, the day's
``calib_cam_to_cam.txt`` + ``calib_velo_to_cam.txt`` in the drive folder or its parent, timestamps from
``velodyne_points/timestamps.txt``; per-point ``labels/*.label`` where present (the simulator's layout).
A day folder holding one drive opens that drive; with several, ``sequence`` names one."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.datasets.base import (
    IMAGE_SUFFIXES,
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


def _is_drive(path: Path) -> bool:
    return (path / "velodyne_points" / "data").is_dir()


def _drives(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and _is_drive(d)) if path.is_dir() else []


@register
class KittiRaw(Dataset):
    kind = "kitti_raw"
    priority = 20

    @classmethod
    def detect(cls, path: Path) -> bool:
        return _is_drive(path) or bool(_drives(path))

    @classmethod
    def parts(cls, path: Path) -> list[str]:
        return [] if _is_drive(path) else [d.name for d in _drives(path)]

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        drive = path
        if not _is_drive(path):  # a day folder: "0001" names ..._drive_0001_sync
            drive = pick_part(path, _drives(path), sequence, "KITTI raw drive",
                              lambda d, s: f"_drive_{s}_" in d.name)
        cands = (d / "calib_cam_to_cam.txt" for d in (drive, drive.parent))
        calib = next((c for c in cands if c.is_file()), None)
        scans = scan_files(drive / "velodyne_points" / "data")
        numbers = [frame_number(scan_stem(s), k) for k, s in enumerate(scans)]
        times = read_times(drive / "velodyne_points" / "timestamps.txt", numbers)
        images, labels = drive / "image_02" / "data", drive / "labels"
        frames = []
        for scan, t, n in zip(scans, times, numbers):
            stem = scan_stem(scan)
            frames.append(FrameFiles(
                stem, scan, match_file(images, stem, IMAGE_SUFFIXES), calib,
                match_file(labels, stem, (".label",)), t, n,
            ))
        return cls(drive.name, drive, frames)
