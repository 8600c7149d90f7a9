"""Box-level evaluation of annotations against ground truth: BEV IoU of matched boxes and instance
precision and recall with LATTE's 50% overlap rule (a box is correct when it overlaps a ground-truth
box of its class by at least half, BEV IoU >= 0.5; each ground-truth box matches once)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.boxes import Box3D, bev_iou_matrix
from squeezeseg.detection.box2d import greedy_pairs
from squeezeseg.errors import InputError

FrameKey = int | str


@dataclass
class ClassResult:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    ious: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious)) if self.ious else float("nan")


@dataclass
class EvalResult:
    """Per-class and overall counts; ``all`` pools every class."""

    classes: dict[str, ClassResult]
    all: ClassResult
    iou_threshold: float

    def table(self) -> str:
        rows = [
            f"{'class':<14}{'GT':>6}{'pred':>6}{'TP':>6}{'precision':>11}{'recall':>8}{'mean BEV IoU':>14}"
        ]
        for name, r in [*sorted(self.classes.items()), ("all", self.all)]:
            rows.append(
                f"{name:<14}{r.tp + r.fn:>6}{r.tp + r.fp:>6}{r.tp:>6}{r.precision:>11.3f}"
                f"{r.recall:>8.3f}{r.mean_iou:>14.3f}"
            )
        return "\n".join(rows)


def match_frame(
    pred: list[Box3D], gt: list[Box3D], iou_threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matches (pred index, gt index, BEV IoU) of same-class boxes, best first."""
    if not pred or not gt:
        return []
    iou = bev_iou_matrix(pred, gt)
    same = np.array([[p.label.lower() == g.label.lower() for g in gt] for p in pred])
    return greedy_pairs(np.where(same, iou, 0.0), iou_threshold)


def evaluate_boxes(
    pred: dict[FrameKey, list[Box3D]],
    gt: dict[FrameKey, list[Box3D]],
    iou_threshold: float = 0.5,
    ignore: tuple[str, ...] = ("DontCare",),
) -> EvalResult:
    """Evaluate predicted boxes per frame against the ground truth (frames missing on one side
    count as empty there)."""
    classes: dict[str, ClassResult] = defaultdict(ClassResult)
    total = ClassResult()
    for key in set(pred) | set(gt):
        p = [b for b in pred.get(key, []) if b.label not in ignore]
        g = [b for b in gt.get(key, []) if b.label not in ignore]
        matches = match_frame(p, g, iou_threshold)
        mp, mg = {m[0] for m in matches}, {m[1] for m in matches}
        for _, j, iou in matches:
            for r in (classes[g[j].label], total):
                r.tp += 1
                r.ious.append(iou)
        for i, b in enumerate(p):
            if i not in mp:
                classes[b.label].fp += 1
                total.fp += 1
        for j, b in enumerate(g):
            if j not in mg:
                classes[b.label].fn += 1
                total.fn += 1
    return EvalResult(dict(classes), total, iou_threshold)


def load_boxes(path: str | Path, calib: str | Path | None = None) -> dict[FrameKey, list[Box3D]]:
    """{frame: boxes} from LATTE JSON, a KITTI label_2 folder or file, or a tracking label_02 file.

    KITTI files need a calibration: ``calib`` is a calib folder (object layout, one file per frame)
    or file; by default the ``calib`` folder beside the label folder (object layout) or
    ``../calib/<sequence>.txt`` (tracking layout).
    """
    from latte.core.label_io import LABEL_FORMATS, guess_format

    path = Path(path)
    if not path.exists():
        raise InputError("labels not found", path)
    if calib is not None:
        calib = resolve_calib(calib)
        if not Path(calib).exists():
            raise InputError("calibration not found", calib)
    return LABEL_FORMATS[guess_format(path)].load_boxes(path, None if calib is None else Path(calib))


RAW_CALIB = "calib_cam_to_cam.txt"


def resolve_calib(calib: str | Path) -> Path:
    """The calibration that ``calib`` names: a KITTI raw day folder or drive folder (the drive's
    ``calib_cam_to_cam.txt`` beside it or in its parent, ``calib_velo_to_cam.txt`` next to it) gives
    that one file for every frame; an object/tracking ``calib`` folder or file is kept as it is."""
    calib = Path(calib)
    if calib.is_dir():
        for folder in (calib, calib.parent):
            if (folder / RAW_CALIB).is_file():
                return folder / RAW_CALIB
    return calib


def guess_calib(labels: str | Path) -> Path | None:
    """Calibration for a label file or folder given without one: a ``calib`` folder beside the label
    folder (object layout), else a KITTI raw ``calib_cam_to_cam.txt`` in the label folder or up to
    three folders above it (labels exported inside a raw drive); None when there is neither."""
    p = Path(labels).resolve()
    folder = p if p.is_dir() else p.parent
    if (folder.parent / "calib").exists():
        return folder.parent / "calib"
    for up in [folder, *folder.parents][:4]:
        if (up / RAW_CALIB).is_file():
            return up / RAW_CALIB
    return None
