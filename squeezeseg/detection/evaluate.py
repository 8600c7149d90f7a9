"""Evaluate a SqueezeDet model on a KITTI object folder: KITTI AP per class and difficulty, NMS sweep."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from squeezeseg.detection.data import load_image, read_split, resize_image, scan_frames
from squeezeseg.detection.detect import SqueezeDetector
from squeezeseg.detection.kitti_eval import ClassResult, evaluate

log = logging.getLogger("squeezeseg.detection")


def evaluate_model(
    detector: SqueezeDetector,
    data_dir: str | Path,
    nms_thresholds: list[float] | None = None,
    method: str = "devkit",
    score_threshold: float = 0.0,
    batch_size: int = 4,
    split: str | None = None,
) -> dict[float, dict[str, dict[str, ClassResult]]]:
    """``{nms_threshold: {class: {difficulty: ClassResult}}}``; the network runs once per image and only
    the post-processing is repeated for each NMS threshold of the sweep."""
    classes = detector.classes
    frames = scan_frames(data_dir, classes, ids=read_split(data_dir, split) if split else None)
    thresholds = nms_thresholds or [detector.config.nms_threshold]
    outputs, shapes = [], []
    for i in range(0, len(frames), batch_size):
        batch = [load_image(f.image_path) for f in frames[i : i + batch_size]]
        shapes.extend(im.shape for im in batch)
        outputs.extend(detector.raw(np.stack([resize_image(im, detector.config.input_size) for im in batch])))
    gts = [f.objects for f in frames]
    results = {}
    for t in thresholds:
        dets = [
            detector.to_objects(o, s, nms_threshold=t, score_threshold=score_threshold)
            for o, s in zip(outputs, shapes)
        ]
        results[t] = evaluate(gts, dets, classes, method)
    return results
