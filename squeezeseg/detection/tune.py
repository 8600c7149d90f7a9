"""Per-class score thresholds of a SqueezeDet, tuned on SIMULATED validation images.

The network's scores are not calibrated alike across classes (a class seen rarely in training scores
lower), so one global threshold either floods one class with false positives or drops another. For
each class this picks the threshold that maximises F-beta (beta = 1: precision and recall alike) of
the detections kept, matched with the KITTI devkit's rules at the widest difficulty (hard), among the
thresholds whose precision reaches ``min_precision``; a class that never reaches it is switched off
(threshold 1): proposals of a class the detector cannot find even on simulated images cost the
annotator more deletions than they save. Real
labelled images are for validation only: :func:`check_simulated` refuses a folder the simulator did
not write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.detection.kitti_eval import counts_at_thresholds
from squeezeseg.detection.labels import Object2D
from squeezeseg.errors import InputError

#: The file `lidarsim generate` writes at the root of every simulated dataset.
SIM_MARKER = "lidarsim.json"
#: At most this many candidate thresholds per class (quantiles of its scores beyond it).
MAX_CANDIDATES = 200
#: Least precision (on the simulated validation split) of a class kept at its tuned threshold.
MIN_PRECISION = 0.25


@dataclass
class ClassThreshold:
    """The tuned threshold of one class and what it gives on the tuning set."""

    threshold: float
    precision: float
    recall: float
    f_score: float
    n_gt: int


def check_simulated(root: str | Path) -> Path:
    """The simulated dataset root containing ``root`` (it or a parent holds ``lidarsim.json``);
    InputError for anything else: thresholds are never tuned on real labels."""
    root = Path(root).resolve()
    for p in (root, *root.parents):
        if (p / SIM_MARKER).is_file():
            return p
    raise InputError(
        f"not a simulated dataset (no {SIM_MARKER} in it or above it): score thresholds are tuned on "
        "simulated images only, real labelled images are for validation",
        root,
    )


def best_threshold(
    gts: list[list[Object2D]],
    dets: list[list[Object2D]],
    cls: str,
    beta: float = 1.0,
    min_precision: float = MIN_PRECISION,
) -> ClassThreshold:
    """The score threshold of ``cls`` with the largest F-beta on these frames among those with
    precision >= ``min_precision`` (ties: the lower one, which keeps more recall). Candidates are the
    detections' own scores; without ground truth, detections or a threshold reaching the precision the
    threshold is 1 (the class is switched off)."""
    scores = sorted({d.score for ds in dets for d in ds if d.label == cls and d.score is not None})
    if len(scores) > MAX_CANDIDATES:  # quantiles of the scores: the devkit matching is per threshold
        scores = sorted(set(np.quantile(scores, np.linspace(0, 1, MAX_CANDIDATES)).tolist()))
    if not scores:
        return ClassThreshold(1.0, float("nan"), 0.0, 0.0, 0)
    tp, fp, fn = counts_at_thresholds(gts, dets, cls, scores)
    n_gt = int(tp[0] + fn[0])
    if n_gt == 0:
        return ClassThreshold(1.0, float("nan"), 0.0, 0.0, 0)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_gt
    b2 = beta * beta
    f = (1 + b2) * precision * recall / np.maximum(b2 * precision + recall, 1e-12)
    f = np.where(precision >= min_precision, f, -1.0)
    if f.max() <= 0:
        return ClassThreshold(1.0, float(precision.max()), 0.0, 0.0, n_gt)
    k = int(np.argmax(f))  # scores ascend: the first maximum is the lowest threshold
    return ClassThreshold(float(scores[k]), float(precision[k]), float(recall[k]), float(f[k]), n_gt)


def tune_thresholds(
    gts: list[list[Object2D]],
    dets: list[list[Object2D]],
    classes: list[str],
    beta: float = 1.0,
    min_precision: float = MIN_PRECISION,
) -> dict[str, ClassThreshold]:
    """:func:`best_threshold` of every class."""
    return {c: best_threshold(gts, dets, c, beta, min_precision) for c in classes}
