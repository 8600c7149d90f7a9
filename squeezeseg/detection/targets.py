"""Anchor assignment: each ground-truth box is given to the free anchor with the largest IoU.

As in the paper's code, an object whose IoU with every free anchor is zero takes the free anchor
nearest in (centre, size); every object therefore has at least one responsible anchor. With
``positive_iou`` > 0 (config ``positive_iou``), every other anchor whose IoU with an object reaches it
is responsible too, for the object it overlaps most (as SSD and Faster R-CNN do): more anchors learn to
regress each box; an object's own best anchor stays its own, and an anchor centred in a DontCare region
that overlaps an object that much is a positive like any other. Anchors centred
in an ignore region (a KITTI DontCare box: an object the labels could not box, e.g. a LiDAR-guided
cluster whose fit failed) are neither positives nor negatives: mask -1, no confidence loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squeezeseg.detection.box2d import cxcywh_to_xyxy, iou_matrix, xyxy_to_cxcywh


@dataclass
class Targets:
    """Dense per-anchor targets of one image (A anchors)."""

    mask: np.ndarray  # (A,) float32, 1 for responsible anchors, -1 ignored, 0 negatives
    deltas: np.ndarray  # (A, 4) float32 regression targets (dx, dy, dw, dh)
    boxes: np.ndarray  # (A, 4) float32 ground truth (cx, cy, w, h) of the responsible anchor
    labels: np.ndarray  # (A,) int32 class index (0 where mask is 0)

    def packed(self, num_classes: int) -> np.ndarray:
        """(A, 1 + 4 + 4 + C) float32: mask, deltas, boxes, one-hot class (the loss's y_true)."""
        onehot = np.eye(num_classes, dtype=np.float32)[self.labels] * (self.mask[:, None] > 0)
        return np.concatenate([self.mask[:, None], self.deltas, self.boxes, onehot], 1).astype(np.float32)


def encode_deltas(anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, 4) deltas from anchors to boxes (both cx, cy, w, h): shift in anchor sizes, log of the scale."""
    a = np.asarray(anchors, dtype=np.float64)
    b = np.asarray(boxes, dtype=np.float64)
    return np.c_[
        (b[:, 0] - a[:, 0]) / a[:, 2],
        (b[:, 1] - a[:, 1]) / a[:, 3],
        np.log(np.maximum(b[:, 2], 1e-3) / a[:, 2]),
        np.log(np.maximum(b[:, 3], 1e-3) / a[:, 3]),
    ]


def ignored_anchors(anchors: np.ndarray, regions: np.ndarray | None) -> np.ndarray:
    """(A,) bool: anchors (cx, cy, w, h) whose centre lies inside one of the corner boxes ``regions``."""
    regions = np.zeros((0, 4)) if regions is None else np.asarray(regions, dtype=np.float64).reshape(-1, 4)
    cx, cy = anchors[:, :1], anchors[:, 1:2]
    inside = (cx >= regions[:, 0]) & (cx <= regions[:, 2]) & (cy >= regions[:, 1]) & (cy <= regions[:, 3])
    return inside.any(axis=1)


def assign(
    anchors: np.ndarray,
    gt_boxes: np.ndarray,
    gt_labels: np.ndarray,
    ignore: np.ndarray | None = None,
    positive_iou: float = 0.0,
) -> Targets:
    """Targets for ``gt_boxes`` (G, 4) corner boxes with class indices ``gt_labels`` (G,); anchors
    centred in the ``ignore`` corner boxes (DontCare) get mask -1 unless responsible for an object;
    ``positive_iou`` > 0 makes every anchor overlapping an object at least that much responsible too."""
    A = len(anchors)
    mask = np.where(ignored_anchors(anchors, ignore), -1.0, 0.0).astype(np.float32)
    deltas = np.zeros((A, 4), np.float32)
    boxes = np.zeros((A, 4), np.float32)
    labels = np.zeros(A, np.int32)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(gt_boxes) == 0:
        return Targets(mask, deltas, boxes, labels)
    gt_labels = np.asarray(gt_labels, dtype=np.int32).reshape(-1)
    if len(gt_labels) != len(gt_boxes):
        raise ValueError(f"{len(gt_boxes)} boxes but {len(gt_labels)} labels")
    gt_c = xyxy_to_cxcywh(gt_boxes)
    ious = iou_matrix(gt_boxes, cxcywh_to_xyxy(anchors))  # (G, A)
    taken = np.zeros(A, bool)
    chosen = np.empty(len(gt_boxes), np.int64)
    for g in range(len(gt_boxes)):
        iou = np.where(taken, -1.0, ious[g])
        best = int(np.argmax(iou))
        if iou[best] <= 0:
            dist = np.sum((anchors - gt_c[g]) ** 2, axis=1)
            best = int(np.argmin(np.where(taken, np.inf, dist)))
        taken[best] = True
        chosen[g] = best
    owner = np.full(A, -1, np.int64)
    owner[chosen] = np.arange(len(gt_boxes))
    if positive_iou > 0:
        extra = ~taken & (ious.max(axis=0) >= positive_iou)
        owner[extra] = ious.argmax(axis=0)[extra]
    chosen = np.flatnonzero(owner >= 0)
    mask[chosen] = 1
    deltas[chosen] = encode_deltas(anchors[chosen], gt_c[owner[chosen]])
    boxes[chosen] = gt_c[owner[chosen]]
    labels[chosen] = gt_labels[owner[chosen]]
    return Targets(mask, deltas, boxes, labels)
