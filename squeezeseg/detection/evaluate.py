"""Evaluate a SqueezeDet model on KITTI object folders: KITTI AP per class and difficulty, NMS sweep,
and the per-class score thresholds tuned on simulated validation images."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from squeezeseg.detection.data import Frame, load_image, read_split, resize_image, scan_frames
from squeezeseg.detection.detect import SqueezeDetector
from squeezeseg.detection.kitti_eval import ClassResult, evaluate
from squeezeseg.detection.labels import Object2D

log = logging.getLogger("squeezeseg.detection")


def real_validation_dirs() -> list[Path]:
    """The real labelled KITTI object folders of ../shared/data that exist (validation only, never
    training or tuning): kitti_object/training and kitti_object_more/training, six images in all."""
    from squeezeseg.resources import shared_data_dir

    base = shared_data_dir()
    dirs = (base / "kitti_object" / "training", base / "kitti_object_more" / "training")
    return [d for d in dirs if d.is_dir()]


def collect_frames(
    data_dirs: str | Path | list[str | Path], classes: list[str], split: str | None = None
) -> list[Frame]:
    """The labelled frames of one or several KITTI object folders (``split`` applies to each)."""
    dirs = [data_dirs] if isinstance(data_dirs, str | Path) else list(data_dirs)
    frames = []
    for d in dirs:
        frames.extend(scan_frames(d, classes, ids=read_split(d, split) if split else None))
    return frames


def raw_outputs(
    detector: SqueezeDetector, frames: list[Frame], batch_size: int = 4
) -> tuple[list[np.ndarray], list[tuple]]:
    """ConvDet outputs and original image shapes of ``frames`` (the network runs once per image)."""
    outputs, shapes = [], []
    for i in range(0, len(frames), batch_size):
        batch = [load_image(f.image_path) for f in frames[i : i + batch_size]]
        shapes.extend(im.shape for im in batch)
        outputs.extend(detector.raw(np.stack([resize_image(im, detector.config.input_size) for im in batch])))
    return outputs, shapes


def detections(
    detector: SqueezeDetector,
    frames: list[Frame],
    nms_threshold: float | None = None,
    score_threshold: float | None = 0.0,
    batch_size: int = 4,
) -> list[list[Object2D]]:
    """Detections of every frame (default: every ranked box, score threshold 0, as AP needs)."""
    outputs, shapes = raw_outputs(detector, frames, batch_size)
    return [detector.to_objects(o, s, nms_threshold, score_threshold) for o, s in zip(outputs, shapes)]


def evaluate_model(
    detector: SqueezeDetector,
    data_dir: str | Path | list[str | Path],
    nms_thresholds: list[float] | None = None,
    method: str = "devkit",
    score_threshold: float = 0.0,
    batch_size: int = 4,
    split: str | None = None,
    min_overlap: float | None = None,
) -> dict[float, dict[str, dict[str, ClassResult]]]:
    """``{nms_threshold: {class: {difficulty: ClassResult}}}`` over one or several folders; the network
    runs once per image and only the post-processing is repeated for each NMS threshold of the sweep."""
    classes = detector.classes
    frames = collect_frames(data_dir, classes, split)
    thresholds = nms_thresholds or [detector.config.nms_threshold]
    outputs, shapes = raw_outputs(detector, frames, batch_size)
    gts = [f.objects for f in frames]
    results = {}
    for t in thresholds:
        dets = [
            detector.to_objects(o, s, nms_threshold=t, score_threshold=score_threshold)
            for o, s in zip(outputs, shapes)
        ]
        results[t] = evaluate(gts, dets, classes, method, min_overlap)
    return results


def tune_model(
    detector: SqueezeDetector,
    sim_dir: str | Path,
    split: str | None = "val",
    beta: float = 1.0,
    min_precision: float | None = None,
) -> dict:
    """Per-class score thresholds of ``detector`` tuned on the simulated folder ``sim_dir`` (its
    ``split``): ``{class: ClassThreshold}``. A folder the simulator did not write is refused."""
    from squeezeseg.detection.tune import MIN_PRECISION, check_simulated, tune_thresholds

    check_simulated(sim_dir)
    frames = collect_frames(sim_dir, detector.classes, split)
    dets = detections(detector, frames)
    floor = MIN_PRECISION if min_precision is None else min_precision
    return tune_thresholds([f.objects for f in frames], dets, detector.classes, beta, floor)
