"""Segmentation metrics as the SqueezeSeg paper and SemanticKITTI define them.

Class level (SqueezeSeg, Sec. 4.1): for class c, precision |P_c & G_c| / |P_c|, recall
|P_c & G_c| / |G_c|, IoU |P_c & G_c| / |P_c | G_c|. Instance level: ground-truth instances of a class
are sorted by size (largest first) and each takes the still unmatched predicted instance of largest
IoU; precision, recall and IoU then sum the matched intersections over |P_c|, |G_c| and |P_c | G_c|.
Point-level mIoU follows the SemanticKITTI evaluator (ignored classes removed from both axes of
the confusion matrix and left out of the mean).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from squeezeseg.errors import InputError


@dataclass(frozen=True)
class ClassScores:
    """Per-class precision, recall and IoU arrays (NaN where the denominator is zero)."""

    precision: np.ndarray
    recall: np.ndarray
    iou: np.ndarray

    def as_dict(self, names: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
        """{class name: {precision, recall, iou}} for reports (NaN becomes None)."""
        names = names or [str(i) for i in range(len(self.iou))]

        def f(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        return {
            n: {"precision": f(p), "recall": f(r), "iou": f(i)}
            for n, p, r, i in zip(names, self.precision, self.recall, self.iou)
        }


def confusion_matrix(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore: Iterable[int] = ()
) -> np.ndarray:
    """(C, C) int64 counts, rows = ground truth, columns = prediction.

    Points whose ground truth is in ``ignore`` are left out (SemanticKITTI's "unlabeled").
    """
    g, p = _check_pair(gt, pred)
    ignore = list(ignore)
    if ignore:  # before the range check: ignore labels such as 255 or -1 may lie outside 0..C-1
        keep = ~np.isin(g, ignore)
        g, p = g[keep], p[keep]
    if len(g) and (min(g.min(), p.min()) < 0 or max(g.max(), p.max()) >= num_classes):
        raise InputError(f"labels must lie in 0..{num_classes - 1}")
    flat = g.astype(np.int64) * num_classes + p
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores_from_confusion(conf: np.ndarray) -> ClassScores:
    """Class-level precision, recall, IoU from a confusion matrix (rows gt, columns prediction)."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    pred_n = conf.sum(axis=0)
    gt_n = conf.sum(axis=1)
    union = pred_n + gt_n - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return ClassScores(tp / pred_n, tp / gt_n, tp / union)


def class_scores(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore: Iterable[int] = ()
) -> ClassScores:
    """SqueezeSeg class-level precision, recall and IoU per class."""
    return scores_from_confusion(confusion_matrix(gt, pred, num_classes, ignore))


def class_iou(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore: Iterable[int] = ()) -> np.ndarray:
    """(C,) IoU per class (NaN for a class absent from both)."""
    return class_scores(gt, pred, num_classes, ignore).iou


def semantic_kitti_miou(conf: np.ndarray, ignore: Iterable[int] = (0,)) -> tuple[float, np.ndarray]:
    """(mIoU, per-class IoU) exactly as the SemanticKITTI evaluator (semantic-kitti-api) computes it.

    Ignored classes are zeroed in both rows and columns (a point predicted as "unlabeled" counts
    for nothing), IoU = tp / (tp + fp + fn + 1e-15), and the mean runs over all other classes,
    absent ones included (they score 0).
    """
    conf = np.array(conf, dtype=np.float64)
    ignore = list(ignore)
    conf[ignore, :] = 0
    conf[:, ignore] = 0
    tp = np.diag(conf)
    fp = conf.sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp
    iou = tp / (tp + fp + fn + 1e-15)
    include = np.setdiff1d(np.arange(len(conf)), ignore)
    return float(iou[include].mean()), iou


def instance_scores(
    gt_class: np.ndarray,
    gt_instance: np.ndarray,
    pred_class: np.ndarray,
    pred_instance: np.ndarray,
    num_classes: int,
    ignore: Iterable[int] = (0,),
) -> ClassScores:
    """SqueezeSeg instance-level precision, recall and IoU per class.

    Instance id 0 means "no instance": such points count in |P_c| and |G_c| but are never matched.
    """
    gc, pc = _check_pair(gt_class, pred_class)
    gi, pi = _check_pair(gt_instance, pred_instance)
    if len(gi) != len(gc):
        raise InputError(f"{len(gc)} class labels but {len(gi)} instance labels")
    prec, rec, iou = (np.full(num_classes, np.nan) for _ in range(3))
    for c in range(num_classes):
        if c in set(ignore):
            continue
        in_g, in_p = gc == c, pc == c
        n_g, n_p = int(in_g.sum()), int(in_p.sum())
        inter_cls = int(np.count_nonzero(in_g & in_p))
        matched = _matched_intersection(gi, pi, in_g, in_p)
        union = n_p + n_g - inter_cls
        prec[c] = matched / n_p if n_p else np.nan
        rec[c] = matched / n_g if n_g else np.nan
        iou[c] = matched / union if union else np.nan
    return ClassScores(prec, rec, iou)


def _matched_intersection(gi, pi, in_g, in_p) -> int:
    """Sum of |P_i & G_M(i)| after matching GT instances (largest first) to predicted ones by IoU."""
    g_ids, g_size = np.unique(gi[in_g & (gi != 0)], return_counts=True)
    p_ids, p_size = np.unique(pi[in_p & (pi != 0)], return_counts=True)
    if len(g_ids) == 0 or len(p_ids) == 0:
        return 0
    both = in_g & in_p & (gi != 0) & (pi != 0)
    gk = np.searchsorted(g_ids, gi[both])
    pk = np.searchsorted(p_ids, pi[both])
    inter = np.bincount(gk * len(p_ids) + pk, minlength=len(g_ids) * len(p_ids))
    inter = inter.reshape(len(g_ids), len(p_ids))
    iou = inter / (g_size[:, None] + p_size[None, :] - inter)
    taken = np.zeros(len(p_ids), dtype=bool)
    total = 0
    for k in np.lexsort((g_ids, -g_size)):  # largest GT instance first, ties by id
        row = np.where(taken | (inter[k] == 0), -1.0, iou[k])
        best = int(np.argmax(row))
        if row[best] > 0:
            total += int(inter[k, best])
            taken[best] = True
    return total


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise InputError(f"ground truth has {a.size} labels, prediction {b.size}")
    return a.astype(np.int64), b.astype(np.int64)
