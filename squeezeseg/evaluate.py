"""Evaluation of a segmenter: class-level and instance-level precision/recall/IoU (SqueezeSeg's
definitions, :mod:`squeezeseg.metrics`) and point-level mIoU, written as JSON and Markdown.

Sources: range-image datasets (SqueezeSeg ``.npy`` folders, simulator output, SemanticKITTI scans;
ground-truth instances there come from DBSCAN on the ground-truth classes, since those formats carry
none) and KITTI object frames (``velodyne``, ``calib``, ``label_2``: boxes become point labels and
instance ids, evaluated on the points inside the model's field of view).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_write_text
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

@dataclass
class Accumulator:
    """Collects per-point ground truth and predictions of many frames (instance ids made unique)."""

    num_classes: int
    gt_class: list = field(default_factory=list)
    gt_inst: list = field(default_factory=list)
    pred_class: list = field(default_factory=list)
    pred_inst: list = field(default_factory=list)
    frames: int = 0
    _offset: int = 0

    def add(self, gt_class, gt_inst, pred_class, pred_inst) -> None:
        off = self._offset
        self.gt_class.append(np.asarray(gt_class, np.int64))
        self.pred_class.append(np.asarray(pred_class, np.int64))
        gi, pi = np.asarray(gt_inst, np.int64), np.asarray(pred_inst, np.int64)
        self.gt_inst.append(np.where(gi > 0, gi + off, 0))
        self.pred_inst.append(np.where(pi > 0, pi + off, 0))
        self._offset = off + int(max(gi.max(initial=0), pi.max(initial=0))) + 1
        self.frames += 1

    def report(self, class_names: list[str]) -> dict:
        """{frames, points, class: {...}, instance: {...}, miou, miou_classes, confusion}."""
        from squeezeseg.metrics import confusion_matrix, instance_scores, scores_from_confusion

        if not self.frames:
            raise InputError("nothing to evaluate: no frames")
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
        gc, gi, pc, pi = cat(self.gt_class), cat(self.gt_inst), cat(self.pred_class), cat(self.pred_inst)
        conf = confusion_matrix(gc, pc, self.num_classes)
        cls = scores_from_confusion(conf)
        inst = instance_scores(gc, gi, pc, pi, self.num_classes, ignore=(0,))
        objects = [c for c in range(1, self.num_classes) if not np.isnan(cls.iou[c])]
        miou = float(np.mean(cls.iou[objects])) if objects else float("nan")
        return {
            "frames": self.frames,
            "points": int(len(gc)),
            "class": cls.as_dict(class_names),
            "instance": inst.as_dict(class_names),
            "miou": None if np.isnan(miou) else miou,
            "miou_classes": [class_names[c] for c in objects],
            "confusion": conf.tolist(),
        }


def evaluate_range_images(segmenter, frames: Iterable[tuple[np.ndarray, np.ndarray]],
                          progress: bool = False) -> dict:
    """Report over (image (H, W, 6), labels (H, W), -1 = empty) frames; every valid pixel is a point."""
    from tqdm import tqdm

    from squeezeseg.instances import dbscan_instances

    acc = Accumulator(len(segmenter.classes))
    for image, labels in tqdm(frames, desc="evaluate", unit="frame", disable=not progress):
        valid = labels >= 0
        pred = segmenter.predict_range_image(image[..., :5])
        pts = image[valid][:, :3]
        gt, pr = labels[valid], pred[valid]
        acc.add(gt, dbscan_instances(pts, gt), pr, dbscan_instances(pts, pr))
    return acc.report(segmenter.classes)


def kitti_object_frames(root: str | Path, class_names: list[str]):
    """Yield (frame id, points, gt classes, gt instances) of the labelled frames of a KITTI object folder
    (boxes become point labels; KITTI types map to ``class_names`` as :mod:`squeezeseg.classes` says)."""
    from squeezeseg.datasets import open_dataset

    ds = open_dataset(root, kind="kitti_object")
    for i in range(len(ds)):
        if ds.frames[i].labels is None:
            continue
        points = ds.points(i)
        gc, gi = ds.point_classes(i, class_names, points=points)
        yield ds.frame_id(i), points, gc, gi


def evaluate_kitti_object(segmenter, root: str | Path, progress: bool = False) -> dict:
    """Report over KITTI object frames, on the points inside the model's field of view."""
    from tqdm import tqdm

    from squeezeseg.instances import dbscan_instances

    acc = Accumulator(len(segmenter.classes))
    for _, points, gc, gi in tqdm(list(kitti_object_frames(root, segmenter.classes)), desc="evaluate",
                                  unit="frame", disable=not progress):
        pred = segmenter.predict_points(points, full_circle=False)
        inside = segmenter.projection.project(points[:, :4]).rows >= 0
        pts = points[inside]
        pr = pred[inside]
        acc.add(gc[inside], gi[inside], pr, dbscan_instances(pts[:, :3], pr))
    return acc.report(segmenter.classes)


def format_markdown(report: dict, title: str = "Evaluation") -> str:
    """The papers' table: one row per class, class-level and instance-level P/R/IoU, then mIoU."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    lines = [f"# {title}", "", f"{report['frames']} frames, {report['points']} points.", "",
             "| class | class P | class R | class IoU | inst. P | inst. R | inst. IoU |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, c in report["class"].items():
        i = report["instance"][name]
        lines.append(f"| {name} | {pct(c['precision'])} | {pct(c['recall'])} | {pct(c['iou'])} | "
                     f"{pct(i['precision'])} | {pct(i['recall'])} | {pct(i['iou'])} |")
    lines += ["", f"Point-level mIoU over {', '.join(report['miou_classes']) or 'no classes'}: "
              f"{pct(report['miou'])} %", ""]
    return "\n".join(lines)


def write_report(report: dict, out_dir: str | Path, title: str = "Evaluation") -> tuple[Path, Path]:
    """``out_dir/eval.json`` and ``out_dir/eval.md``, written atomically."""
    out = Path(out_dir)
    j, m = out / "eval.json", out / "eval.md"
    atomic_write_text(j, json.dumps(report, indent=1) + "\n")
    atomic_write_text(m, format_markdown(report, title))
    return j, m
