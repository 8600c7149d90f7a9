"""Dataset layouts written with the toolkit's own writers (squeezeseg.io), so every package reads
simulator output with the readers it already has. Every file goes through an atomic write; a frame
counts as done when all of its files exist, which is what makes generation resumable.

- ``kitti-raw``: ``OUT/calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt`` (OUT is the date folder),
  ``OUT/sim_drive_SSSS_sync/velodyne_points/data/FFFFFFFFFF.bin``, ``image_02/data/FFFFFFFFFF.png``,
  ``labels/FFFFFFFFFF.label`` (SemanticKITTI), and ``OUT/label_02/SSSS.txt`` (KITTI tracking, track ids).
- ``kitti-object``: ``OUT/training/{velodyne,image_2,calib,label_2}/NNNNNN.*``,
  ``ImageSets/{train,val}.txt``.
- ``squeezeseg``: ``OUT/lidar_2d/sim_SSSS_FFFFFF.npy`` (64 x 512 x 6, front 90 degrees, labels 0-3) and
  ``OUT/ImageSet/{all,train,val}.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from simulation.camera import IMAGE_SIZE
from simulation.layouts import LAYOUTS  # noqa: F401  (re-exported: writers serve these layouts)
from simulation.sequence import Frame
from squeezeseg.atomic import atomic_path, atomic_write_text
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.errors import InputError
from squeezeseg.sensors import SensorConfig

STATE_DIR = ".lidarsim"


def camera_boxes(boxes: list[Box3D], calib: KittiCalib, image_size=IMAGE_SIZE) -> list[Box3D]:
    """The boxes KITTI would label: in front of the camera with a 2D box overlapping the image; each
    gets ``truncated``, the share of its projected 2D box that lies outside the image."""
    W, H = image_size
    out = []
    for b in boxes:
        ib = b.image_box(calib)
        if ib is None or ib[2] <= 0 or ib[0] >= W - 1 or ib[3] <= 0 or ib[1] >= H - 1:
            continue
        cb = np.clip(ib, [0, 0, 0, 0], [W - 1, H - 1, W - 1, H - 1])
        full = max((ib[2] - ib[0]) * (ib[3] - ib[1]), 1e-9)
        inside = (cb[2] - cb[0]) * (cb[3] - cb[1])
        out.append(b.replace(truncated=float(np.clip(1.0 - inside / full, 0.0, 1.0))))
    return out


def format_raw_calib(calib: KittiCalib, image_size=IMAGE_SIZE) -> tuple[str, str]:
    """(calib_cam_to_cam.txt, calib_velo_to_cam.txt) texts of the KITTI raw layout."""

    def row(m) -> str:
        return " ".join(f"{v:.12e}" for v in np.asarray(m, dtype=np.float64).ravel())

    cam = ["calib_time: simulated", "corner_dist: 0.0"]
    for i in range(4):
        P = calib.P.get(f"P{i}", calib.P2)
        cam += [
            f"S_rect_0{i}: {image_size[0]:.6e} {image_size[1]:.6e}",
            f"R_rect_0{i}: {row(calib.R0_rect)}",
            f"P_rect_0{i}: {row(P)}",
        ]
    velo = [
        "calib_time: simulated",
        f"R: {row(calib.Tr_velo_to_cam[:, :3])}",
        f"T: {row(calib.Tr_velo_to_cam[:, 3])}",
    ]
    return "\n".join(cam) + "\n", "\n".join(velo) + "\n"


def boxes_to_json(boxes: list[Box3D]) -> str:
    return json.dumps(
        [
            {
                "center": b.center,
                "size": b.size,
                "yaw": b.yaw,
                "label": b.label,
                "track_id": b.track_id,
                "points": int(len(b.point_indices)),
            }
            for b in boxes
        ]
    )


def boxes_from_json(text: str, path: Path) -> list[Box3D]:
    try:
        return [Box3D(d["center"], d["size"], d["yaw"], d["label"], d["track_id"]) for d in json.loads(text)]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"corrupt box record: {exc}", path) from None


def save_png(path: Path, image: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp)


class Writer:
    """Base: file names of a frame, writing one frame, and the per-sequence / final files."""

    def __init__(self, out: Path, frames: int, sequences: int, camera: bool, sensor: SensorConfig):
        self.out, self.frames, self.sequences, self.camera, self.sensor = (
            out,
            frames,
            sequences,
            camera,
            sensor,
        )

    def frame_files(self, seq: int, k: int) -> list[Path]:
        raise NotImplementedError

    def done(self, seq: int, k: int) -> bool:
        return all(p.is_file() for p in self.frame_files(seq, k))

    def write(self, frame: Frame, dropout_rng: np.random.Generator | None = None, dropout=None) -> None:
        raise NotImplementedError

    def finish_sequence(self, seq: int, calib: KittiCalib) -> None:
        """Files that need every frame of a sequence (default: none)."""

    def finish(self, calib: KittiCalib) -> None:
        """Files that need every sequence (default: none)."""


class KittiRawWriter(Writer):
    def drive(self, seq: int) -> Path:
        return self.out / f"sim_drive_{seq:04d}_sync"

    def _state(self, seq: int, k: int) -> Path:
        return self.out / STATE_DIR / "boxes" / f"{seq:04d}_{k:010d}.json"

    def frame_files(self, seq: int, k: int) -> list[Path]:
        d = self.drive(seq)
        files = [
            d / "velodyne_points" / "data" / f"{k:010d}.bin",
            d / "labels" / f"{k:010d}.label",
            self._state(seq, k),
        ]
        if self.camera:
            files.append(d / "image_02" / "data" / f"{k:010d}.png")
        return files

    def write(self, frame: Frame, **_) -> None:
        from squeezeseg.io import write_points, write_semantickitti_labels

        files = self.frame_files(frame.sequence, frame.index)
        write_points(files[0], frame.points)
        write_semantickitti_labels(files[1], frame.semantickitti, frame.instances)
        if self.camera:
            save_png(files[3], frame.image)
        atomic_write_text(files[2], boxes_to_json(frame.boxes))

    def finish_sequence(self, seq: int, calib: KittiCalib) -> None:
        from squeezeseg.io import write_tracking_labels

        frames = {
            k: camera_boxes(boxes_from_json(self._state(seq, k).read_text(), self._state(seq, k)), calib)
            for k in range(self.frames)
        }
        write_tracking_labels(self.out / "label_02" / f"{seq:04d}.txt", frames, calib, IMAGE_SIZE)

    def finish(self, calib: KittiCalib) -> None:
        cam, velo = format_raw_calib(calib)
        atomic_write_text(self.out / "calib_cam_to_cam.txt", cam)
        atomic_write_text(self.out / "calib_velo_to_cam.txt", velo)


class KittiObjectWriter(Writer):
    def frame_files(self, seq: int, k: int) -> list[Path]:
        n = seq * self.frames + k
        t = self.out / "training"
        files = [
            t / "velodyne" / f"{n:06d}.bin",
            t / "calib" / f"{n:06d}.txt",
            t / "label_2" / f"{n:06d}.txt",
        ]
        if self.camera:
            files.append(t / "image_2" / f"{n:06d}.png")
        return files

    def write(self, frame: Frame, **_) -> None:
        from squeezeseg.io import write_kitti_labels, write_points

        files = self.frame_files(frame.sequence, frame.index)
        write_points(files[0], frame.points)
        atomic_write_text(files[1], format_kitti_calib(frame.calib))
        if self.camera:
            save_png(files[3], frame.image)
        write_kitti_labels(files[2], camera_boxes(frame.boxes, frame.calib), frame.calib, IMAGE_SIZE)

    def finish(self, calib: KittiCalib) -> None:
        ids = [f"{s * self.frames + k:06d}" for s in range(self.sequences) for k in range(self.frames)]
        train, val = split_ids(ids, self.sequences, self.frames)
        atomic_write_text(self.out / "ImageSets" / "train.txt", "".join(i + "\n" for i in train))
        atomic_write_text(self.out / "ImageSets" / "val.txt", "".join(i + "\n" for i in val))


class SqueezeSegWriter(Writer):
    """64 x 512 front-view range images made by projecting the simulated points with
    ``SphericalProjection`` (ring rows = the simulated beams), so simulator and projection agree."""

    width, fov_deg = 512, 90.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from squeezeseg.projection import SphericalProjection

        self.projection = SphericalProjection(
            self.sensor, width=self.width, fov_deg=self.fov_deg, rows="ring"
        )

    @staticmethod
    def frame_id(seq: int, k: int) -> str:
        return f"sim_{seq:04d}_{k:06d}"

    def frame_files(self, seq: int, k: int) -> list[Path]:
        return [self.out / "lidar_2d" / f"{self.frame_id(seq, k)}.npy"]

    def range_image(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """(image (64, 512, 5), labels (64, 512)) of the frame; label 0 where no point landed."""
        ring = frame.rows if self.sensor.ring_zero == "top" else self.sensor.beams - 1 - frame.rows
        ri = self.projection.project(frame.points, ring=ring.astype(np.float32))
        labels = np.where(ri.index >= 0, frame.labels[np.maximum(ri.index, 0)], 0).astype(np.int32)
        return ri.features().copy(), labels

    def write(self, frame: Frame, dropout_rng: np.random.Generator | None = None, dropout=None) -> None:
        from squeezeseg.io import write_squeezeseg_npy

        image, labels = self.range_image(frame)
        if dropout is not None:
            drop = dropout.drop_pixels(labels.shape, dropout_rng)
            image[drop] = 0.0
            labels[drop] = 0
        write_squeezeseg_npy(self.frame_files(frame.sequence, frame.index)[0], image, labels)

    def finish(self, calib: KittiCalib) -> None:
        from squeezeseg.io import write_split

        ids = [self.frame_id(s, k) for s in range(self.sequences) for k in range(self.frames)]
        train, val = split_ids(ids, self.sequences, self.frames)
        write_split(self.out / "ImageSet" / "all.txt", ids)
        write_split(self.out / "ImageSet" / "train.txt", train)
        write_split(self.out / "ImageSet" / "val.txt", val)


def split_ids(ids: list[str], sequences: int, frames: int) -> tuple[list[str], list[str]]:
    """Train/val split by whole sequences (the last ~20% for val); by blocks of frames for one sequence,
    so that neighbouring, nearly identical frames do not fall on both sides."""
    if sequences > 1:
        n_val = max(1, round(0.2 * sequences))
        cut = (sequences - n_val) * frames
    else:
        cut = max(1, int(round(0.8 * frames))) if frames > 1 else 1
    return ids[:cut], ids[cut:]


def make_writer(
    layout: str, out: Path, frames: int, sequences: int, camera: bool, sensor: SensorConfig
) -> Writer:
    cls = {
        "kitti-raw": KittiRawWriter,
        "kitti-object": KittiObjectWriter,
        "squeezeseg": SqueezeSegWriter,
    }.get(layout)
    if cls is None:
        raise InputError(f"unknown layout '{layout}' (choose from {', '.join(LAYOUTS)})")
    return cls(out, frames, sequences, camera, sensor)
