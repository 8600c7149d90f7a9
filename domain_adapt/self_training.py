"""Self-training on unlabelled real scans: pseudo-labels from a trained segmenter, kept only where the
network is confident and the object is physically plausible.

Class-balanced confidence (CBST, Zou et al., ECCV 2018) alone reinforces the network's own mistakes:
on real KITTI scans its most confident false cars are hedges and facades. So every predicted car
segment (depth clustering on the range image) is also checked against what a vehicle can be, from the
KITTI type sizes in :mod:`squeezeseg.classes`: a segment wider than any vehicle, taller than a van, or
floating above the ground is labelled background; a plausible one is labelled car when its mean car
probability is high; anything in between is left out of the loss (SemanticKITTI id 0, "unlabeled",
which training ignores). Pedestrian and cyclist predictions on real scans are left out too: the
simulator teaches those classes.

Pseudo-labels are written as SemanticKITTI ``.label`` files beside the scans, so a folder of them
trains with ``data.kind: semantickitti`` like the simulator's ``kitti-raw`` output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.plausibility import VehicleShape, ground_height, segment_excess

log = logging.getLogger(__name__)

IGNORE_ID = 0  # SemanticKITTI "unlabeled": left out of the loss
BACKGROUND_ID = 99  # "other-object": background for the coarse classes
CAR_ID = 10


@dataclass(frozen=True)
class PseudoLabelRules(VehicleShape):
    """Thresholds of the pseudo-labels: the vehicle shape limits (:class:`VehicleShape`) and how much
    of what passes them is kept."""

    car_keep: float = 0.5  # share of the plausible car segments kept as car (the most confident; CBST)
    background_keep: float = 0.8  # share of each scan's background pixels kept (the most confident)
    undecided_background: bool = False  # car segments neither kept nor rejected: background, not left out


@dataclass
class Segment:
    """A predicted car segment of one scan's range image."""

    mask: np.ndarray  # (H, W) bool
    excess: float  # metres beyond the plausible shape (<= 0: plausible)
    confidence: float  # mean car probability


@dataclass
class ScanPrediction:
    """What the pseudo-labels of one scan are made from."""

    prep: object  # segmenter's prepared scan (points, projection)
    labels: np.ndarray  # (H, W) int32 SemanticKITTI ids decided so far (background or ignore)
    segments: list[Segment]


@dataclass
class PseudoLabels:
    """Per-point SemanticKITTI ids of one scan and what was decided."""

    ids: np.ndarray  # (N,) uint16: CAR_ID, BACKGROUND_ID or IGNORE_ID
    cars_kept: int
    cars_rejected: int  # predicted car segments labelled background
    cars_ignored: int

    def shares(self) -> dict[str, float]:
        n = max(1, len(self.ids))
        return {"car": float((self.ids == CAR_ID).sum() / n),
                "background": float((self.ids == BACKGROUND_ID).sum() / n),
                "ignored": float((self.ids == IGNORE_ID).sum() / n)}


def circle_probabilities(segmenter, points: np.ndarray, source: Path | None = None):
    """(prepared scan, (H, W', C) softmax probabilities over the whole projected image)."""
    prep = segmenter.prepare(points, full_circle=True, source=source)
    if isinstance(prep.ri, list):
        raise InputError("self-training needs a model whose window tiles the circle (e.g. 90 degrees)",
                         segmenter.source)
    prob = softmax(segmenter.run_batch([prep])[0])
    if prep.starts is None:
        return prep, prob[0]
    T, _, W, C = prob.shape
    out = np.zeros(prep.ri.index.shape + (C,), np.float32)
    cols = (prep.starts[:, None] + np.arange(W)[None, :]) % (T * W)
    out[:, cols] = np.moveaxis(prob, 0, 1)
    return prep, out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities (float32) of logits along the last axis."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return (z / z.sum(-1, keepdims=True)).astype(np.float32)


def predict_scan(segmenter, points: np.ndarray, rules: PseudoLabelRules = PseudoLabelRules(),
                 source: Path | None = None) -> ScanPrediction:
    """Background/ignore labels of one real scan and its predicted car segments, not yet decided."""
    prep, prob = circle_probabilities(segmenter, points, source)
    scan = from_probabilities(prep.ri.image, prob, segmenter.classes.index("car"), rules, prep.ri.full_circle)
    scan.prep = prep
    return scan


def from_probabilities(image: np.ndarray, prob: np.ndarray, car: int, rules: PseudoLabelRules,
                       full_circle: bool = False) -> ScanPrediction:
    """:class:`ScanPrediction` (without ``prep``) of one (H, W, >=5) range image and its (H, W, C) class
    probabilities; class 0 is background, ``car`` the car class."""
    from squeezeseg.instances import range_image_instances

    valid = image[..., 4] > 0
    pred = np.where(valid, prob.argmax(-1), 0).astype(np.int32)
    labels = np.full(pred.shape, IGNORE_ID, np.int32)
    bg = valid & (pred == 0)
    if bg.any():
        cut = np.quantile(prob[..., 0][bg], 1.0 - rules.background_keep)
        labels[bg & (prob[..., 0] >= cut)] = BACKGROUND_ID
    inst = range_image_instances(image, np.where(pred == car, car, 0), full_circle=full_circle)
    ground = ground_height(image[valid][:, :3]) if valid.any() else 0.0
    segments = []
    for i in range(1, int(inst.max()) + 1):
        m = inst == i
        segments.append(Segment(m, segment_excess(image[m][:, :3], ground, rules),
                                float(prob[..., car][m].mean())))
    return ScanPrediction(None, labels, segments)


def car_threshold(scans: list[ScanPrediction], rules: PseudoLabelRules) -> float:
    """Confidence above which a plausible segment becomes car: the ``1 - car_keep`` quantile over all
    plausible segments of the target scans (class-balanced self-training's per-class threshold)."""
    conf = [s.confidence for p in scans for s in p.segments if s.excess <= 0]
    return float(np.quantile(conf, 1.0 - rules.car_keep)) if conf else 1.0


def decide_image(scan: ScanPrediction, threshold: float, rules: PseudoLabelRules
                 ) -> tuple[np.ndarray, tuple[int, int, int]]:
    """(H, W) SemanticKITTI ids of one scan's image: implausible car segments background, plausible
    confident ones car, the rest ignored; and the segments (kept, rejected, ignored)."""
    labels = scan.labels.copy()
    kept = rejected = ignored = 0
    for s in scan.segments:
        if s.excess > rules.reject_margin:
            labels[s.mask], rejected = BACKGROUND_ID, rejected + 1
        elif s.excess <= 0 and s.confidence >= threshold:
            labels[s.mask], kept = CAR_ID, kept + 1
        else:
            labels[s.mask] = BACKGROUND_ID if rules.undecided_background else IGNORE_ID
            ignored += 1
    return labels, (kept, rejected, ignored)


def decide(scan: ScanPrediction, threshold: float, rules: PseudoLabelRules) -> PseudoLabels:
    """Per-point pseudo-labels of one scan (see :func:`decide_image`)."""
    from squeezeseg.projection import unproject

    labels, counts = decide_image(scan, threshold, rules)
    prep = scan.prep
    ids = np.zeros(len(prep.points), np.uint16)
    per_valid = unproject(labels, prep.ri, fill=IGNORE_ID).astype(np.uint16)
    if prep.keep is None:
        ids[:] = per_valid
    else:
        ids[prep.keep] = per_valid
    return PseudoLabels(ids, *counts)


def pseudo_label_images(images: np.ndarray, probs: np.ndarray, car: int,
                        rules: PseudoLabelRules = PseudoLabelRules()) -> tuple[np.ndarray, dict]:
    """(N, H, W) training labels (class index; -1 left out) of real range images (N, H, W, >=5) from
    their (N, H, W, C) class probabilities, by the same rules as whole scans; and a summary."""
    scans = [from_probabilities(img, pr, car, rules) for img, pr in zip(images, probs)]
    threshold = car_threshold(scans, rules)
    out = np.full(images.shape[:3], -1, np.int32)
    totals = np.zeros(3, np.int64)
    for k, scan in enumerate(scans):
        ids, counts = decide_image(scan, threshold, rules)
        out[k][ids == BACKGROUND_ID] = 0
        out[k][ids == CAR_ID] = car
        totals += counts
    valid = images[..., 4] > 0
    summary = {"car_threshold": round(threshold, 4), "cars_kept": int(totals[0]),
               "cars_rejected": int(totals[1]), "cars_ignored": int(totals[2]),
               "car": round(float((out[valid] == car).mean()), 4) if valid.any() else 0.0,
               "ignored": round(float((out[valid] == -1).mean()), 4) if valid.any() else 0.0}
    return out, summary


def write_pseudo_labelled(segmenter, scans: list[Path], out: Path, drive: str = "real",
                          rules: PseudoLabelRules = PseudoLabelRules(), progress: bool = True) -> dict:
    """Pseudo-label ``scans`` into ``out/<drive>/velodyne/*.bin`` + ``labels/*.label`` (SemanticKITTI
    layout; the scans are rewritten as KITTI ``.bin``, whatever their format). Returns a summary."""
    from tqdm import tqdm

    from squeezeseg.io import read_points, write_points
    from squeezeseg.io.semantickitti import write_semantickitti_labels

    vel, lab = out / drive / "velodyne", out / drive / "labels"
    vel.mkdir(parents=True, exist_ok=True)
    lab.mkdir(parents=True, exist_ok=True)
    preds = [predict_scan(segmenter, read_points(scan)[:, :4], rules, scan)
             for scan in tqdm(scans, desc="predict", disable=not progress, unit="scan")]
    threshold = car_threshold(preds, rules)
    totals = {"scans": 0, "car_threshold": round(threshold, 4), "cars_kept": 0, "cars_rejected": 0,
              "cars_ignored": 0, "car": 0.0, "background": 0.0, "ignored": 0.0}
    for k, pred in enumerate(preds):
        res = decide(pred, threshold, rules)
        name = f"{k:06d}"
        write_points(vel / f"{name}.bin", pred.prep.points[:, :4])
        write_semantickitti_labels(lab / f"{name}.label", res.ids)
        totals["scans"] += 1
        for key in ("cars_kept", "cars_rejected", "cars_ignored"):
            totals[key] += getattr(res, key)
        for key, v in res.shares().items():
            totals[key] += v
    for key in ("car", "background", "ignored"):
        totals[key] = round(totals[key] / max(1, totals["scans"]), 4)
    return totals
