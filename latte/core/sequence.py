"""Sequences of LiDAR frames to annotate: the datasets of :mod:`squeezeseg.datasets` (KITTI raw drive,
KITTI object and tracking layouts, SemanticKITTI sequences, SqueezeSeg ``.npy`` folders, folders of
scans of any format, one scan file), opened as sequences.

Two things the annotator needs beyond the dataset interface live here:
- the sensor's axes: nuScenes scans (x right, y forward) are turned into the toolkit's frame (x
  forward, y left) when read (``sensor.axes`` in configs/latte.yaml, ``latte --axes``);
- whether two frames are one sequence (:func:`link_problem`): the tracker carries boxes only between
  frames that follow each other in time, never across a KITTI object set's unrelated scans, two
  folders of scans, or a gap longer than ``tracking.max_gap_s``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from squeezeseg.datasets import Dataset, open_dataset
from squeezeseg.errors import InputError

Sequence = Dataset

__all__ = ["Sequence", "open_sequence", "frame_time", "link_problem", "resolve_axes", "to_toolkit_axes"]


def open_sequence(path: str | Path, sequence: str | None = None, axes: str = "auto") -> Sequence:
    """Open ``path`` (a folder, or one scan file) as a sequence; ``sequence`` picks a tracking
    sequence ("0000") or a drive in a root holding several; ``axes`` is the sensor's axes convention
    ("auto", "kitti", "nuscenes": see :func:`resolve_axes`). Raises InputError naming the path when no
    known layout is found, it holds no scans, or a single scan file cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError("sequence folder not found", path)
    seq = open_dataset(path, sequence=sequence)
    if all(f.scan is None for f in seq.frames):
        raise InputError(f"no scans to annotate ({seq.kind} layout with labels only)", path)
    if path.is_file():
        seq.points(0)  # one file: a broken one is an error now, not an empty view later
    return with_axes(seq, resolve_axes(seq, axes))


def resolve_axes(seq: Dataset, axes: str = "auto") -> str:
    """"kitti" or "nuscenes": ``axes`` itself, or for "auto" nuScenes when every scan is a ``.pcd.bin``
    file (nuScenes LIDAR_TOP sweeps), else kitti."""
    from latte.core.config import AXES

    if axes not in AXES:
        raise InputError(f"unknown sensor axes '{axes}' (choose from {', '.join(AXES)})")
    if axes != "auto":
        return axes
    scans = [f.scan for f in seq.frames if f.scan is not None]
    nuscenes = bool(scans) and all(s.name.lower().endswith(".pcd.bin") for s in scans)
    return "nuscenes" if nuscenes else "kitti"


def to_toolkit_axes(points: np.ndarray, axes: str) -> np.ndarray:
    """Points of a sensor with ``axes`` in the toolkit's frame (x forward, y left, z up): nuScenes'
    (x right, y forward) is turned -90 degrees about z (x' = y, y' = -x); other channels kept."""
    if axes == "kitti" or points is None:
        return points
    out = np.array(points, copy=True)
    out[:, 0], out[:, 1] = points[:, 1], -points[:, 0]
    return out


_TURNED: dict[type, type] = {}


def with_axes(seq: Dataset, axes: str) -> Dataset:
    """``seq`` itself for the kitti axes, else the same dataset whose ``points`` are turned into the
    toolkit's frame (a subclass of its own adapter, so layout, frames and labels are unchanged).
    Either way ``seq.axes`` says which."""
    if axes == "kitti":
        seq.axes = axes
        return seq
    cls = type(seq)
    sub = _TURNED.get(cls)
    if sub is None:

        def points(self, i: int) -> np.ndarray | None:
            return to_toolkit_axes(cls.points(self, i), self.axes)

        sub = type(cls.__name__, (cls,), {"points": points, "__module__": cls.__module__})
        _TURNED[cls] = sub
    turned = sub.__new__(sub)
    turned.__dict__.update(seq.__dict__)
    turned.axes = axes
    return turned


def frame_number(seq: Dataset, i: int) -> int | None:
    """The frame number in its recording that frame ``i``'s name gives (``000042`` -> 42), else None."""
    stem = seq.frame_id(i).rsplit("/", 1)[-1]
    return int(stem) if stem.isdigit() else None


def _name_time(seq: Dataset, i: int) -> float | None:
    """Seconds from a nuScenes-style name ``<scene>__LIDAR_TOP__<microseconds>``, else None."""
    stem = seq.frame_id(i).rsplit("/", 1)[-1]
    head, sep, tail = stem.rpartition("__")
    return int(tail) / 1e6 if sep and head and tail.isdigit() and len(tail) >= 13 else None


def frame_time(seq: Dataset, i: int, dt: float) -> float:
    """Time of frame ``i`` in seconds: its timestamp (or the microseconds a nuScenes name carries),
    else its frame number times ``dt``, else its position times ``dt``."""
    t = seq.frames[i].timestamp
    if t is None:
        t = _name_time(seq, i)
    if t is not None:
        return float(t)
    n = frame_number(seq, i)
    return (n if n is not None else i) * dt


def link_problem(seq: Dataset, a: int, b: int, max_gap_s: float, dt: float) -> str | None:
    """Why frames ``a`` and ``b`` of ``seq`` are not one sequence (so nothing is tracked from one to
    the other), or None when they are: a layout of independent frames (KITTI object, SqueezeSeg
    samples), scans from two folders, scan names without frame numbers or times, time going
    backwards, or more than ``max_gap_s`` seconds between them."""
    if not seq.sequential:
        return f"the frames of this {seq.kind} set are independent scans, not a sequence"
    ida, idb = seq.frame_id(a), seq.frame_id(b)
    if ida.rpartition("/")[0] != idb.rpartition("/")[0]:
        return f"frames {ida} and {idb} come from different folders"
    fa, fb = seq.frames[a], seq.frames[b]
    timed = all(f.timestamp is not None for f in (fa, fb)) or all(
        _name_time(seq, k) is not None for k in (a, b))
    numbered = frame_number(seq, a) is not None and frame_number(seq, b) is not None
    if not (timed or numbered) and seq.kind == "scans":
        return "the scan names carry no frame numbers or times: frames are not known to follow each other"
    gap = frame_time(seq, b, dt) - frame_time(seq, a, dt)
    if gap <= 0:
        return f"frame {idb} is not later than {ida}"
    if gap > max_gap_s + 1e-6:
        return (f"frames {ida} and {idb} are {gap:.2f} s apart (more than tracking.max_gap_s "
                f"{max_gap_s:g} s)")
    return None
