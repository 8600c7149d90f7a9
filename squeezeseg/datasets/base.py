"""The one dataset interface: an ordered list of frames, each a scan with whatever the layout has beside it
(per-point labels, boxes, camera image, calibration, timestamp).

Adapters (one module per layout) list the files of each frame once; reading happens on access, so
opening a large folder is cheap. Adding a layout is one module with a :class:`Dataset` subclass and
one ``@register`` line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np

from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, read_kitti_calib
from squeezeseg.datasets.network_input import network_input, pixel_labels, rotate_z, with_mask
from squeezeseg.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class FrameFiles:
    """The files of one frame (any may be None): what an adapter lists when it opens a folder.

    ``labels`` is a per-frame label file: SemanticKITTI ``.label`` (per point) or KITTI ``label_2``
    ``.txt`` (boxes); ``index`` is the frame's number in its sequence (tracking label files key on it).
    """

    frame_id: str
    scan: Path | None = None
    image: Path | None = None
    calib: Path | None = None
    labels: Path | None = None
    timestamp: float | None = None
    index: int = 0


class Frame:
    """One frame of a dataset, read lazily: ``points`` (N, >=4), and where the layout has them ``labels``
    (N,) SemanticKITTI ids, ``instances`` (N,), ``boxes`` (list of Box3D, LiDAR frame), ``image``
    (H, W, 3) uint8, ``calib``, ``timestamp`` (seconds); each is None where the layout has none."""

    def __init__(self, dataset: Dataset, i: int):
        self.dataset, self.i = dataset, i
        self.files: FrameFiles = dataset.frames[i]

    @property
    def frame_id(self) -> str:
        return self.files.frame_id

    @property
    def timestamp(self) -> float | None:
        return self.files.timestamp

    @cached_property
    def points(self) -> np.ndarray | None:
        return self.dataset.points(self.i)

    @cached_property
    def _labels(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self.dataset.point_labels(self.i)

    @property
    def labels(self) -> np.ndarray | None:
        return None if self._labels is None else self._labels[0]

    @property
    def instances(self) -> np.ndarray | None:
        return None if self._labels is None else self._labels[1]

    @cached_property
    def boxes(self) -> list[Box3D] | None:
        return self.dataset.boxes(self.i)

    @cached_property
    def image(self) -> np.ndarray | None:
        return self.dataset.image(self.i)

    @cached_property
    def calib(self) -> KittiCalib | None:
        return self.dataset.calib(self.i)

    def __repr__(self) -> str:
        return f"Frame({self.dataset.kind}:{self.dataset.name}/{self.frame_id})"


@dataclass
class Dataset:
    """An ordered list of frames of one layout. ``len(ds)``, ``ds[i]`` (a :class:`Frame`), iteration.

    ``labels_path``/``labels_format`` name the layout's label file or folder for the annotator
    (KITTI ``label_2`` folder: "kitti", tracking ``label_02`` file: "tracking").
    """

    kind: ClassVar[str] = "dataset"
    #: Frames follow each other in time (a drive); False for independent frames (KITTI object).
    sequential: ClassVar[bool] = True
    #: :func:`open_dataset` tries layouts by ascending priority (specific layouts before plain scans).
    priority: ClassVar[int] = 50

    name: str
    root: Path
    frames: list[FrameFiles]
    labels_path: Path | None = None
    labels_format: str | None = None
    _calib_cache: dict[Path, KittiCalib] = field(default_factory=dict, repr=False)

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def detect(cls, path: Path) -> bool:
        """True when ``path`` is laid out as this adapter expects (checked without reading scans)."""
        raise NotImplementedError

    @classmethod
    def open(cls, path: Path, sequence: str | None = None) -> Dataset:
        """Open ``path`` (``sequence`` picks one sequence of a multi-sequence root)."""
        raise NotImplementedError

    @classmethod
    def parts(cls, path: Path) -> list[str]:
        """The sequences (drives, splits) of a root holding several, each a ``sequence`` for :meth:`open`;
        empty when ``path`` is one."""
        return []

    # ---- access ----------------------------------------------------------------------------------
    @property
    def layout(self) -> str:
        return self.kind

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> Frame:
        return Frame(self, self._index(i))

    def __iter__(self) -> Iterator[Frame]:
        return (self[i] for i in range(len(self)))

    def _index(self, i: int) -> int:
        if not -len(self.frames) <= i < len(self.frames):
            raise IndexError(f"frame {i} out of range (dataset has {len(self.frames)} frames)")
        return i % len(self.frames)

    def _files(self, i: int) -> FrameFiles:
        return self.frames[self._index(i)]

    def frame_id(self, i: int) -> str:
        return self._files(i).frame_id

    def index_of(self, frame_id: str) -> int:
        """Index of the frame called ``frame_id`` (also accepts its integer value)."""
        for i, f in enumerate(self.frames):
            if f.frame_id == frame_id or (
                f.frame_id.isdigit() and str(frame_id).isdigit() and int(f.frame_id) == int(frame_id)
            ):
                return i
        raise KeyError(frame_id)

    def points(self, i: int) -> np.ndarray | None:
        """(N, >=4) float32 points of frame ``i`` (LiDAR frame), or None for a layout without scans."""
        scan = self._files(i).scan
        if scan is None:
            return None
        from squeezeseg.io import read_points

        return read_points(scan)

    def point_labels(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(SemanticKITTI ids (N,), instance ids (N,)) of frame ``i`` from its ``.label`` file, or None."""
        lab = self._files(i).labels
        if lab is None or lab.suffix != ".label":
            return None
        from squeezeseg.io import read_semantickitti_labels

        pts = self.points(i)
        return read_semantickitti_labels(lab, n_points=None if pts is None else len(pts))

    def boxes(self, i: int) -> list[Box3D] | None:
        """Boxes of frame ``i`` in the LiDAR frame from its KITTI label file, or None."""
        f = self._files(i)
        if f.labels is None or f.labels.suffix != ".txt":
            return None
        calib = self.calib(i)
        if calib is None:
            raise InputError("label file has no calibration beside it", f.labels)
        from squeezeseg.io import read_kitti_labels

        return read_kitti_labels(f.labels, calib)

    def image(self, i: int) -> np.ndarray | None:
        """(H, W, 3) uint8 camera image of frame ``i``, or None when the layout has none."""
        path = self._files(i).image
        return None if path is None else read_image(path)

    def image_size(self, i: int) -> tuple[int, int] | None:
        """(width, height) of frame ``i``'s image without decoding it, or None."""
        path = self._files(i).image
        if path is None:
            return None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                return im.size
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"cannot read image: {exc}", path) from None

    def calib(self, i: int) -> KittiCalib | None:
        """Calibration of frame ``i`` (``image_size`` filled in when the image exists), or None."""
        f = self._files(i)
        if f.calib is None:
            return None
        calib = self._calib_cache.get(f.calib)
        if calib is None:
            calib = read_kitti_calib(f.calib)
            self._calib_cache[f.calib] = calib
        if calib.image_size is None and f.image is not None:
            calib = dataclasses.replace(calib, image_size=self.image_size(i))
        return calib


    # ---- network inputs --------------------------------------------------------------------------
    def range_input(self, i: int, projection, rotation: float = 0.0) -> np.ndarray:
        """(H, W, 6) network input of frame ``i``: its scan projected with ``projection``, turned by
        ``rotation`` radians about z first (see :mod:`squeezeseg.datasets.network_input`)."""
        return network_input(self._project(i, projection, rotation)[0].image)

    def labelled_input(
        self, i: int, projection, classes, label_map=None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(network input (H, W, 6), labels (H, W) as indices into ``classes``, -1 empty) of frame ``i``,
        or None when the frame has neither per-point labels nor boxes."""
        ri, points = self._project(i, projection, 0.0)
        gt = self.point_classes(i, classes, label_map, points)
        if gt is None:
            return None
        return with_mask(ri.image, pixel_labels(ri.index, gt[0]))

    def point_classes(self, i: int, classes, label_map=None, points: np.ndarray | None = None):
        """(class index into ``classes`` (N,), instance id (N,)) per point of frame ``i``, from its
        SemanticKITTI labels or (KITTI layouts) its boxes; None when it has neither."""
        from squeezeseg.classes import kitti_type_ids, semantickitti_lookup

        lab = self.point_labels(i)
        if lab is not None:
            return semantickitti_lookup(classes, label_map)[lab[0]], lab[1].astype(np.int32)
        boxes = self.boxes(i)
        if boxes is None:
            return None
        from squeezeseg.io import boxes_to_point_labels

        points = self.points(i) if points is None else points
        return boxes_to_point_labels(points, boxes, kitti_type_ids(classes))

    def _project(self, i: int, projection, rotation: float):
        points = self.points(i)
        if points is None:
            raise InputError(f"frame {self.frame_id(i)} has no scan ({self.kind} layout)", self.root)
        if rotation:
            points = rotate_z(points, rotation)
        return projection.project(points[:, :4]), points


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; InputError naming the file when it cannot be decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise InputError("image not found", path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read image ({exc.__class__.__name__}: {exc})", path) from None


# ---- helpers for adapters ------------------------------------------------------------------------
def scan_files(folder: Path) -> list[Path]:
    """Point-cloud files directly in ``folder``, sorted by name (none when it is not a folder)."""
    from squeezeseg.io import is_scan

    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_scan(p))


def pick_part(path: Path, parts: list[Path], sequence: str | None, what: str, matches=None) -> Path:
    """The one of ``parts`` (sequences, drives) of the root ``path`` that ``sequence`` names (by folder
    name, or ``matches(folder, sequence)``), or the only one; InputError naming the choices otherwise."""
    if sequence is not None:
        parts = [p for p in parts if p.name == sequence or (matches is not None and matches(p, sequence))]
        if not parts:
            raise InputError(f"{what} '{sequence}' not found", path)
    if len(parts) > 1:
        names = ", ".join(p.name for p in parts[:10])
        raise InputError(f"root with {len(parts)} {what}s: choose one of {names}", path)
    return parts[0]


def match_file(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    """``folder/<stem><suffix>`` for the first suffix that exists, or None."""
    for s in suffixes:
        p = folder / f"{stem}{s}"
        if p.is_file():
            return p
    return None


def frame_number(stem: str, position: int) -> int:
    """The frame number a file name gives (``000042`` -> 42), else its position in the folder."""
    return int(stem) if stem.isdigit() else position


def read_times(path: Path, numbers: list[int]) -> list[float | None]:
    """Seconds since the first line of a KITTI ``times.txt`` (seconds) or raw ``timestamps.txt`` (dates)
    for the frames ``numbers`` (line k is frame k, so a folder holding some frames of a drive gets their
    times); None for every frame when the file is missing or too short."""
    count = len(numbers)
    if not path.is_file():
        return [None] * count
    from datetime import datetime

    out: list[float | None] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(float(line))
        except ValueError:
            try:  # "2011-09-26 13:02:25.964389540": keep microseconds
                out.append(datetime.fromisoformat(line[:26]).timestamp())
            except ValueError:
                return [None] * count
    if not numbers or max(numbers) >= len(out):
        return [None] * count
    return [out[k] - out[0] for k in numbers]  # type: ignore[operator]


# ---- registry ------------------------------------------------------------------------------------
#: Adapters by kind; :func:`open_dataset` tries them by their ``priority``.
REGISTRY: dict[str, type[Dataset]] = {}


def register(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: make an adapter known to :func:`open_dataset` under ``cls.kind``."""
    REGISTRY[cls.kind] = cls
    return cls

