"""Duplicate suppression of 3D box proposals in bird's-eye view (non-maximum suppression).

Two proposals of one frame that overlap seen from above describe one object twice (two 2D
detections whose frustums grew the same cluster, or a segment split and refitted): real objects do
not interpenetrate. The overlap of two boxes is the area of their footprints' intersection divided
by the smaller footprint, so a small box inside a large one counts as a full duplicate (IoU would
not). The proposal kept is the one with the higher detector score, then the one fitted to more
points, then the larger footprint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from squeezeseg.boxes import Box3D, clip_convex_polygon, convex_polygon_area

# Fitted boxes of neighbouring objects (cars parked bumper to bumper, pedestrians in a group) may
# touch or overlap by a few centimetres; an overlap above this share of the smaller footprint is a
# duplicate.
DEFAULT_OVERLAP = 0.1


def bev_overlap(a: Box3D, b: Box3D) -> float:
    """Intersection of the two footprints over the smaller footprint (0 = apart, 1 = one inside the other)."""
    ra, rb = np.hypot(*a.size[:2]) / 2, np.hypot(*b.size[:2]) / 2
    if np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1]) > ra + rb:
        return 0.0
    small = min(a.size[0] * a.size[1], b.size[0] * b.size[1])
    if small <= 0:
        return 0.0
    inter = convex_polygon_area(clip_convex_polygon(a.bev_corners(), b.bev_corners()))
    return float(min(inter / small, 1.0))


def overlapping_pairs(boxes: Sequence[Box3D], threshold: float = DEFAULT_OVERLAP) -> list[tuple[int, int]]:
    """Index pairs (i < j) of boxes whose bird's-eye overlap is above ``threshold``."""
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if bev_overlap(boxes[i], boxes[j]) > threshold]


def support(box: Box3D) -> int:
    """Number of points the box was fitted to (0 when it does not say)."""
    return 0 if box.point_indices is None else len(box.point_indices)


def priority(box: Box3D) -> tuple[float, int, float]:
    """Sort key of a proposal: detector score (none = -inf), fitted points, footprint area."""
    score = -np.inf if box.score is None else float(box.score)
    return score, support(box), box.size[0] * box.size[1]


def suppress_duplicates(boxes: Sequence[Box3D], threshold: float = DEFAULT_OVERLAP) -> list[int]:
    """Indices of the proposals kept by greedy NMS in bird's-eye view, best first: a proposal is
    dropped when it overlaps (:func:`bev_overlap` above ``threshold``) one already kept. No two kept
    boxes overlap above ``threshold``."""
    order = sorted(range(len(boxes)), key=lambda k: priority(boxes[k]), reverse=True)
    kept: list[int] = []
    for k in order:
        if all(bev_overlap(boxes[k], boxes[j]) <= threshold for j in kept):
            kept.append(k)
    return kept


def nms_boxes(boxes: Sequence[Box3D], threshold: float = DEFAULT_OVERLAP) -> list[Box3D]:
    """The proposals kept by :func:`suppress_duplicates`, in their original order."""
    return [boxes[k] for k in sorted(suppress_duplicates(boxes, threshold))]
