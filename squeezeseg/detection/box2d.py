"""2D image boxes in pixels: (left, top, right, bottom) arrays, conversions and pairwise IoU."""

from __future__ import annotations

import numpy as np


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) corners to (N, 4) centre x, centre y, width, height."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.c_[(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]]


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) centre x, centre y, width, height to (N, 4) corners."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.c_[b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of corner boxes (areas without the +1 pixel, as KITTI)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def greedy_pairs(iou: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matches (row, column, value) of an IoU matrix, best first, down to ``threshold``."""
    out, used_r, used_c = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < threshold:
            break
        if i in used_r or j in used_c:
            continue
        used_r.add(i)
        used_c.add(j)
        out.append((int(i), int(j), float(iou[i, j])))
    return out


def area(boxes: np.ndarray) -> np.ndarray:
    """(N,) areas of corner boxes; an inverted box has area 0."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def visible_share(boxes: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Corner boxes clipped to an image of ``size`` (w, h), and the share of each box's area inside it."""
    w, h = size
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    clipped = np.clip(b, 0, [w - 1, h - 1, w - 1, h - 1])
    return clipped, area(clipped) / np.maximum(area(b), 1e-6)


def scale_boxes(boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Scale corner boxes by ``sx`` horizontally and ``sy`` vertically (an image resize)."""
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * np.array([sx, sy, sx, sy])
