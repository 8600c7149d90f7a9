"""Point-wise labels from 3D boxes, as SqueezeSeg built its training data from KITTI boxes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from squeezeseg.boxes import Box3D, points_in_boxes


def boxes_to_point_labels(
    points: np.ndarray, boxes: Sequence[Box3D], class_ids: Mapping[str, int], margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(classes int32 (N,), instances int32 (N,)) for every point.

    A point inside box i gets ``class_ids[box.label]`` and instance i + 1 (the box's position in
    ``boxes``, 1-based); points outside every box, or in boxes whose class is not in ``class_ids``,
    get 0 and 0. Where boxes overlap the smallest wins. ``margin`` grows every box (metres).
    """
    pts = np.asarray(points)
    classes = np.zeros(len(pts), dtype=np.int32)
    instances = np.zeros(len(pts), dtype=np.int32)
    kept = [i for i, b in enumerate(boxes) if b.label in class_ids]
    if not kept or len(pts) == 0:
        return classes, instances
    which = points_in_boxes(pts, [boxes[i] for i in kept], margin)
    inside = which >= 0
    box_index = np.asarray(kept)[which[inside]]
    classes[inside] = [class_ids[boxes[i].label] for i in box_index]
    instances[inside] = box_index + 1
    return classes, instances
