"""Sequences of LiDAR frames to annotate, behind one interface whatever the folder layout.

Layouts: a KITTI raw drive (velodyne_points/data, image_02/data, calib_*.txt in the folder or its
parent), the KITTI object layout (training/ with velodyne, image_2, calib, label_2), the KITTI
tracking layout (velodyne/<seq>, image_02/<seq>, calib/<seq>.txt, label_02/<seq>.txt) and a plain
folder of scans (.bin, .pcd, .ply, .npy, .npz, .las, .laz).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.calib import KittiCalib, read_kitti_calib
from squeezeseg.errors import InputError

SCAN_SUFFIXES = (".bin", ".pcd", ".ply", ".npy", ".npz", ".las", ".laz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Frame:
    """Files of one frame; ``image`` and ``calib`` may be None."""

    frame_id: str
    scan: Path
    image: Path | None = None
    calib: Path | None = None
    labels: Path | None = None  # per-frame label file (object layout)


@dataclass
class Sequence:
    """An ordered list of frames.

    ``labels_path`` is the existing label file or folder (KITTI label_2 folder, tracking
    label_02 file) and ``labels_format`` its format name for ``AnnotationSession.import_labels``.
    """

    name: str
    root: Path
    frames: list[Frame]
    layout: str
    labels_path: Path | None = None
    labels_format: str | None = None
    tracking_frame_offset: int = 0
    _calib_cache: dict[Path, KittiCalib] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.frames)

    def _frame(self, i: int) -> Frame:
        if not -len(self.frames) <= i < len(self.frames):
            raise IndexError(f"frame {i} out of range (sequence has {len(self.frames)} frames)")
        return self.frames[i]

    def frame_id(self, i: int) -> str:
        return self._frame(i).frame_id

    def index_of(self, frame_id: str) -> int:
        """Index of the frame called ``frame_id`` (also accepts its integer value)."""
        for i, f in enumerate(self.frames):
            if f.frame_id == frame_id or (
                f.frame_id.isdigit() and str(frame_id).isdigit() and int(f.frame_id) == int(frame_id)
            ):
                return i
        raise KeyError(frame_id)

    def points(self, i: int) -> np.ndarray:
        """(N, >=4) float32 points of frame ``i`` (LiDAR frame)."""
        from squeezeseg.io import read_points

        return read_points(self._frame(i).scan)

    def image(self, i: int) -> np.ndarray | None:
        """(H, W, 3) uint8 camera image of frame ``i``, or None when the layout has none."""
        path = self._frame(i).image
        if path is None:
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"cannot read image: {exc}", path) from None

    def image_size(self, i: int) -> tuple[int, int] | None:
        """(width, height) of frame ``i``'s image without decoding it, or None."""
        path = self._frame(i).image
        if path is None:
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                return im.size
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"cannot read image: {exc}", path) from None

    def calib(self, i: int) -> KittiCalib | None:
        """Calibration of frame ``i`` (with ``image_size`` filled in when the image exists), or None."""
        f = self._frame(i)
        if f.calib is None:
            return None
        calib = self._calib_cache.get(f.calib)
        if calib is None:
            calib = read_kitti_calib(f.calib)
            self._calib_cache[f.calib] = calib
        if calib.image_size is None and f.image is not None:
            calib = dataclasses.replace(calib, image_size=self.image_size(i))
        return calib


def _sorted_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and _suffix(p) in suffixes)


def _suffix(p: Path) -> str:
    name = p.name.lower()
    return ".bin" if name.endswith(".pcd.bin") else p.suffix.lower()


def _stem(p: Path) -> str:
    return p.name[: -len(".pcd.bin")] if p.name.lower().endswith(".pcd.bin") else p.stem


def _match(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for s in suffixes:
        p = folder / f"{stem}{s}"
        if p.is_file():
            return p
    return None


def open_sequence(path: str | Path, sequence: str | None = None) -> Sequence:
    """Open ``path`` as a sequence; ``sequence`` picks a tracking sequence ("0000") in a tracking root.

    Raises InputError naming the path when no known layout is found or it holds no scans.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("sequence folder not found", path)
    if path.is_file():
        raise InputError("expected a folder of scans (or a KITTI layout), got a file", path)
    for opener in (_open_raw, _open_tracking, _open_object, _open_scans):
        seq = opener(path, sequence)
        if seq is not None:
            if not seq.frames:
                raise InputError(f"no scans found ({seq.layout} layout)", path)
            return seq
    raise InputError(f"no scans found (looked for files ending in {', '.join(SCAN_SUFFIXES)})", path)


def _open_raw(path: Path, _sequence: str | None) -> Sequence | None:
    data = path / "velodyne_points" / "data"
    if not data.is_dir():
        return None
    calib = None
    for d in (path, path.parent):
        if (d / "calib_cam_to_cam.txt").is_file():
            calib = d / "calib_cam_to_cam.txt"
            break
    images = path / "image_02" / "data"
    frames = [
        Frame(_stem(s), s, _match(images, _stem(s), IMAGE_SUFFIXES), calib)
        for s in _sorted_files(data, SCAN_SUFFIXES)
    ]
    return Sequence(path.name, path, frames, "kitti_raw")


def _object_root(path: Path) -> Path | None:
    for d in (path, path / "training", path / "testing"):
        has_side = (d / "calib").is_dir() or (d / "label_2").is_dir()
        if (d / "velodyne").is_dir() and has_side and any(p.is_file() for p in (d / "velodyne").iterdir()):
            return d
    return None


def _open_object(path: Path, _sequence: str | None) -> Sequence | None:
    root = _object_root(path)
    if root is None:
        return None
    labels = root / "label_2"
    frames = []
    for s in _sorted_files(root / "velodyne", SCAN_SUFFIXES):
        stem = _stem(s)
        frames.append(
            Frame(
                stem,
                s,
                _match(root / "image_2", stem, IMAGE_SUFFIXES),
                _match(root / "calib", stem, (".txt",)),
                _match(labels, stem, (".txt",)),
            )
        )
    name = root.parent.name if root.name in ("training", "testing") else root.name
    return Sequence(
        name,
        root,
        frames,
        "kitti_object",
        labels if labels.is_dir() else None,
        "kitti" if labels.is_dir() else None,
    )


def _open_tracking(path: Path, sequence: str | None) -> Sequence | None:
    # Accept the tracking root (training/, with ``sequence``) or its velodyne/<seq> folder.
    if path.parent.name == "velodyne" and path.is_dir():
        root, seq = path.parent.parent, path.name
    else:
        root = path / "training" if (path / "training" / "velodyne").is_dir() else path
        velo = root / "velodyne"
        if not velo.is_dir():
            return None
        subdirs = sorted(p.name for p in velo.iterdir() if p.is_dir())
        if not subdirs:
            return None
        if sequence is None:
            if len(subdirs) > 1:
                raise InputError(
                    f"tracking layout with {len(subdirs)} sequences: choose one of {', '.join(subdirs[:10])}",
                    path,
                )
            sequence = subdirs[0]
        seq = sequence
    velo = root / "velodyne" / seq
    if not velo.is_dir():
        raise InputError(f"tracking sequence '{seq}' not found", velo)
    calib = _match(root / "calib", seq, (".txt",))
    images = root / "image_02" / seq
    frames = [
        Frame(_stem(s), s, _match(images, _stem(s), IMAGE_SUFFIXES), calib)
        for s in _sorted_files(velo, SCAN_SUFFIXES)
    ]
    labels = _match(root / "label_02", seq, (".txt",))
    return Sequence(seq, root, frames, "kitti_tracking", labels, "tracking" if labels else None)


def _open_scans(path: Path, _sequence: str | None) -> Sequence | None:
    scans = _sorted_files(path, SCAN_SUFFIXES)
    if not scans:
        return None
    frames = [Frame(_stem(s), s) for s in scans]
    return Sequence(path.name, path, frames, "scans")
