"""KITTI 2D object detection average precision, ported from the devkit's `evaluate_object.cpp`.

Per class and difficulty (easy, moderate, hard) with the devkit's rules: minimum box height
(40 / 25 / 25 px), maximum occlusion (0 / 1 / 2) and truncation (0.15 / 0.3 / 0.5); neighbouring
classes (Van for Car, Person_sitting for Pedestrian) and too-hard objects are ignored, detections
inside DontCare regions are not false positives; IoU 0.7 for cars, 0.5 for pedestrians and cyclists.

``method="devkit"`` reproduces the devkit exactly: 41 score thresholds chosen by `getThresholds`,
AP|R11 = mean of every 4th precision (the original 11-point metric), AP|R40 = mean of precisions
1..40. The devkit's threshold sampling assumes at least ~40 ground-truth objects: with fewer the
thresholds cannot fill the 41 slots and the result collapses (one object gives AP|R40 = 0 whatever the
detector). ``method="curve"`` applies the same matching at every detection score, builds the real
precision/recall curve and reads its precision envelope at the same 11 or 40 recall points; it equals
the devkit figure for large sets and stays meaningful for a handful of images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squeezeseg.detection.box2d import iou_matrix
from squeezeseg.detection.labels import Object2D

DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
# The devkit's overlaps; a Van (a class of its own in our models, not one the devkit scores) is a vehicle
# and is held to the car's 0.7.
MIN_OVERLAP = {"Car": 0.7, "Van": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}
NEIGHBOUR = {"Car": "van", "Pedestrian": "person_sitting"}
N_SAMPLE_PTS = 41
NO_DETECTION = -1e7


@dataclass
class _Frame:
    gt: np.ndarray  # (G, 4)
    ignored_gt: np.ndarray  # (G,) 0 valid, 1 ignored, -1 other class
    dc: np.ndarray  # (D, 4) DontCare boxes
    det: np.ndarray  # (N, 4)
    scores: np.ndarray  # (N,)
    ignored_det: np.ndarray  # (N,) 0 valid, 1 too small, -1 other class


def within_difficulty(o: Object2D, diff: int) -> bool:
    """Whether a ground-truth object is inside difficulty ``diff``'s limits (index into DIFFICULTIES):
    taller than its minimum height, no more occluded or truncated than allowed."""
    return (
        o.occluded <= MAX_OCCLUSION[diff]
        and o.truncated <= MAX_TRUNCATION[diff]
        and o.height > MIN_HEIGHT[diff]
    )


def _clean(gt: list[Object2D], det: list[Object2D], cls: str, diff: int) -> tuple[_Frame, int]:
    """The devkit's cleanData: ignore flags for ground truth and detections, DontCare boxes."""
    ig_gt, n_gt = [], 0
    for o in gt:
        t = o.label.lower()
        valid = 1 if t == cls.lower() else 0 if NEIGHBOUR.get(cls) == t else -1
        ignore = not within_difficulty(o, diff)
        if valid == 1 and not ignore:
            ig_gt.append(0)
            n_gt += 1
        elif valid == 0 or (ignore and valid == 1):
            ig_gt.append(1)
        else:
            ig_gt.append(-1)
    ig_det = []
    for d in det:
        height = int(abs(d.box[3] - d.box[1]))  # the devkit truncates to int32
        ig_det.append(1 if height < MIN_HEIGHT[diff] else 0 if d.label.lower() == cls.lower() else -1)
    boxes = lambda objs: np.array([o.box for o in objs], dtype=np.float64).reshape(-1, 4)  # noqa: E731
    dc = [o for o in gt if o.label.lower() == "dontcare"]
    frame = _Frame(
        boxes(gt),
        np.array(ig_gt, int),
        boxes(dc),
        boxes(det),
        np.array([d.score if d.score is not None else 0.0 for d in det], np.float64),
        np.array(ig_det, int),
    )
    return frame, n_gt


def _statistics(
    f: _Frame, min_overlap: float, compute_fp: bool, thresh: float = 0.0
) -> tuple[int, int, int, list]:
    """The devkit's computeStatistics for one frame: (tp, fp, fn, scores of the true positives)."""
    n_det = len(f.det)
    assigned = np.zeros(n_det, bool)
    below = (f.scores < thresh) if compute_fp else np.zeros(n_det, bool)
    overlap = iou_matrix(f.det, f.gt)  # (N, G)
    tp = fp = fn = 0
    v = []
    for i in range(len(f.gt)):
        if f.ignored_gt[i] == -1:
            continue
        # The devkit's candidate loop, vectorised: without FP counting the best-scoring overlapping
        # detection; with it the first of largest overlap among valid detections, else the first
        # overlapping too-small one (np.argmax returns the first maximum, as the loop's strict '>').
        cand = (f.ignored_det != -1) & ~assigned & ~below & (overlap[:, i] > min_overlap)
        det_idx, valid = -1, NO_DETECTION
        if not compute_fp:
            if cand.any():
                idx = np.flatnonzero(cand)
                det_idx = int(idx[np.argmax(f.scores[idx])])
                valid = f.scores[det_idx]
        else:
            good, small = (
                np.flatnonzero(cand & (f.ignored_det == 0)),
                np.flatnonzero(cand & (f.ignored_det == 1)),
            )
            if len(good):
                det_idx, valid = int(good[np.argmax(overlap[good, i])]), 1
            elif len(small):
                det_idx, valid = int(small[0]), 1
        if valid == NO_DETECTION and f.ignored_gt[i] == 0:
            fn += 1
        elif valid != NO_DETECTION and (f.ignored_gt[i] == 1 or f.ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid != NO_DETECTION:
            tp += 1
            v.append(f.scores[det_idx])
            assigned[det_idx] = True
    if compute_fp:
        fp = int(np.sum(~(assigned | (f.ignored_det != 0) | below)))
        if len(f.dc):
            dc_ov = _dontcare_overlap(f.det, f.dc)  # (N, D) intersection over detection area
            nstuff = 0
            for i in range(len(f.dc)):
                hit = ~assigned & (f.ignored_det == 0) & ~below & (dc_ov[:, i] > min_overlap)
                assigned |= hit
                nstuff += int(hit.sum())
            fp -= nstuff
    return tp, fp, fn, v


def _dontcare_overlap(det: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """Intersection over the detection's area (the devkit's boxoverlap criterion 0)."""
    iw = np.minimum(det[:, None, 2], dc[None, :, 2]) - np.maximum(det[:, None, 0], dc[None, :, 0])
    ih = np.minimum(det[:, None, 3], dc[None, :, 3]) - np.maximum(det[:, None, 1], dc[None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(area[:, None] > 0, inter / area[:, None], 0.0)


def _thresholds(v: list, n_gt: int) -> list:
    """The devkit's getThresholds: scores that sample recall at about 1/40 steps."""
    v = sorted(v, reverse=True)
    t, current = [], 0.0
    for i, score in enumerate(v):
        l_recall = (i + 1) / n_gt
        r_recall = (i + 2) / n_gt if i < len(v) - 1 else l_recall
        if (r_recall - current) < (current - l_recall) and i < len(v) - 1:
            continue
        t.append(score)
        current += 1.0 / (N_SAMPLE_PTS - 1.0)
    return t


def _prepare(
    gts: list[list[Object2D]], dets: list[list[Object2D]], cls: str, difficulty: int, ov: float
) -> tuple[list[_Frame], int, list]:
    """Cleaned frames, the number of valid objects and the scores of the best match of each."""
    if len(gts) != len(dets):
        raise ValueError(f"{len(gts)} ground-truth frames but {len(dets)} detection frames")
    frames, n_gt, v = [], 0, []
    for g, d in zip(gts, dets):
        f, n = _clean(g, d, cls, difficulty)
        frames.append(f)
        n_gt += n
        v.extend(_statistics(f, ov, compute_fp=False)[3])
    return frames, n_gt, v


def _counts(frames: list[_Frame], ov: float, thresholds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, fn) summed over ``frames`` for each score threshold, with the devkit's rules."""
    tp, fp, fn = (np.zeros(len(thresholds)) for _ in range(3))
    for f in frames:
        for k, t in enumerate(thresholds):
            a, b, c, _ = _statistics(f, ov, compute_fp=True, thresh=t)
            tp[k] += a
            fp[k] += b
            fn[k] += c
    return tp, fp, fn


def counts_at_thresholds(
    gts: list[list[Object2D]],
    dets: list[list[Object2D]],
    cls: str,
    thresholds,
    difficulty: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, fn) of ``cls`` when detections scoring below each of ``thresholds`` are dropped, with
    the devkit's matching, ignore rules and overlap (default difficulty: hard, the widest set)."""
    frames, _, _ = _prepare(gts, dets, cls, difficulty, MIN_OVERLAP.get(cls, 0.5))
    return _counts(frames, MIN_OVERLAP.get(cls, 0.5), list(thresholds))


@dataclass
class ClassResult:
    """AP of one class at one difficulty (fractions 0..1; NaN without ground truth), with the PR curve."""

    ap11: float
    ap40: float
    n_gt: int
    recall: np.ndarray
    precision: np.ndarray


def evaluate_class(
    gts: list[list[Object2D]],
    dets: list[list[Object2D]],
    cls: str,
    difficulty: int,
    method: str = "devkit",
    min_overlap: float | None = None,
) -> ClassResult:
    """AP of ``cls`` at ``difficulty`` (0 easy, 1 moderate, 2 hard) over aligned per-image lists."""
    ov = MIN_OVERLAP.get(cls, 0.5) if min_overlap is None else min_overlap
    frames, n_gt, v = _prepare(gts, dets, cls, difficulty, ov)
    if n_gt == 0:
        return ClassResult(float("nan"), float("nan"), 0, np.zeros(0), np.zeros(0))
    thresholds = _thresholds(v, n_gt) if method == "devkit" else sorted(set(v), reverse=True)
    tp, fp, fn = _counts(frames, ov, thresholds)
    recall = tp / np.maximum(tp + fn, 1)
    precision = tp / np.maximum(tp + fp, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    if method == "devkit":
        p = np.zeros(N_SAMPLE_PTS)
        p[: len(envelope)] = envelope
        ap11, ap40 = p[::4].sum() / 11.0, p[1:].sum() / 40.0
    elif method == "curve":

        def sample(points: np.ndarray) -> float:
            return float(
                np.mean(
                    [
                        envelope[recall >= r - 1e-12].max() if np.any(recall >= r - 1e-12) else 0.0
                        for r in points
                    ]
                )
            )

        ap11, ap40 = sample(np.linspace(0, 1, 11)), sample(np.arange(1, 41) / 40.0)
    else:
        raise ValueError(f"unknown AP method {method!r} (use 'devkit' or 'curve')")
    return ClassResult(float(ap11), float(ap40), n_gt, recall, precision)


def evaluate(
    gts: list[list[Object2D]],
    dets: list[list[Object2D]],
    classes: list[str] = ("Car", "Pedestrian", "Cyclist"),
    method: str = "devkit",
    min_overlap: float | None = None,
) -> dict[str, dict[str, ClassResult]]:
    """``{class: {difficulty: ClassResult}}`` for every class and difficulty (``min_overlap``: one IoU
    for every class instead of the devkit's, a diagnostic of localisation)."""
    return {
        c: {
            name: evaluate_class(gts, dets, c, i, method, min_overlap)
            for i, name in enumerate(DIFFICULTIES)
        }
        for c in classes
    }


def format_results(results: dict[str, dict[str, ClassResult]]) -> str:
    """A text table of AP|R11 and AP|R40 in percent per class and difficulty."""
    lines = [f"{'class':<12}{'metric':<8}" + "".join(f"{d:>10}" for d in DIFFICULTIES)]
    for cls, by_diff in results.items():
        for key, label in (("ap11", "AP|R11"), ("ap40", "AP|R40")):
            vals = [getattr(by_diff[d], key) for d in DIFFICULTIES]
            lines.append(
                f"{cls:<12}{label:<8}"
                + "".join(f"{'n/a' if np.isnan(v) else f'{100 * v:.2f}':>10}" for v in vals)
            )
    return "\n".join(lines)
