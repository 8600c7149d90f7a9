"""From ConvDet outputs to detections: decode the anchors, keep the top 64 by confidence, then NMS.

The decoding works on NumPy arrays and on Keras tensors alike (``xp`` = ``numpy`` or ``keras.ops``) so
the loss and inference share one definition. Filtering and NMS are NumPy: after the top-64 cut only 64
boxes remain, so a vectorised IoU matrix and a greedy pass are microseconds, and the same code serves the
Keras, TFLite and ONNX engines without pulling TensorFlow into the post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXP_THRESH = 1.0  # the paper's safe exponential: linear beyond this log-scale


def split_output(out, num_anchors: int, num_classes: int, xp=np):
    """ConvDet output (B, H, W, K * (C + 1 + 4)) to class logits (B, A, C), confidence logits (B, A)
    and deltas (B, A, 4), A = H * W * K; channels hold all K*C class logits, then K confidences, then
    K*4 deltas."""
    K, C = num_anchors, num_classes
    b = xp.shape(out)[0]
    cls = xp.reshape(out[..., : K * C], (b, -1, C))
    conf = xp.reshape(out[..., K * C : K * C + K], (b, -1))
    deltas = xp.reshape(out[..., K * C + K :], (b, -1, 4))
    return cls, conf, deltas


def safe_exp(x, xp=np):
    """exp(x) up to EXP_THRESH, then continued linearly (keeps early training from overflowing)."""
    lin = (x - EXP_THRESH + 1.0) * float(np.exp(EXP_THRESH))
    return xp.where(x > EXP_THRESH, lin, xp.exp(xp.minimum(x, EXP_THRESH)))


def decode_boxes(anchors, deltas, image_size: tuple[int, int], xp=np):
    """Boxes (..., 4) as corners (left, top, right, bottom), clipped to ``image_size`` (w, h)."""
    ax, ay, aw, ah = (anchors[..., i] for i in range(4))
    cx = ax + deltas[..., 0] * aw
    cy = ay + deltas[..., 1] * ah
    w = aw * safe_exp(deltas[..., 2], xp)
    h = ah * safe_exp(deltas[..., 3], xp)
    W, H = float(image_size[0] - 1), float(image_size[1] - 1)
    return xp.stack(
        [
            xp.clip(cx - w / 2, 0.0, W),
            xp.clip(cy - h / 2, 0.0, H),
            xp.clip(cx + w / 2, 0.0, W),
            xp.clip(cy + h / 2, 0.0, H),
        ],
        axis=-1,
    )


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


@dataclass
class Detections:
    """Detections of one image: corner boxes (N, 4) pixels, scores (N,), class indices (N,)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (IoU > ``threshold`` suppresses), best first."""
    from squeezeseg.detection.box2d import iou_matrix

    order = np.argsort(-scores, kind="stable")
    ious = iou_matrix(boxes[order], boxes[order])
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1 :] &= ious[i, i + 1 :] <= threshold
    return order[keep]


def filter_detections(
    boxes: np.ndarray,
    probs: np.ndarray,
    top_n: int = 64,
    nms_threshold: float = 0.4,
    score_threshold: float | np.ndarray = 0.0,
) -> Detections:
    """One image: ``boxes`` (A, 4), ``probs`` (A, C) = class probability x confidence.

    Keep the ``top_n`` anchors by their best class score, then class-aware NMS (boxes of different
    classes never suppress each other), then drop scores below ``score_threshold`` (one number, or
    (C,) one per class).
    """
    cls = np.argmax(probs, axis=1)
    score = probs[np.arange(len(probs)), cls]
    top = np.argsort(-score, kind="stable")[:top_n]
    keep = []
    for c in np.unique(cls[top]):
        idx = top[cls[top] == c]
        keep.extend(idx[nms(boxes[idx], score[idx], nms_threshold)])
    keep = np.asarray(keep, dtype=np.int64)
    thr = np.broadcast_to(np.asarray(score_threshold, np.float64), (probs.shape[1],))
    keep = keep[score[keep] >= thr[cls[keep]]]
    keep = keep[np.argsort(-score[keep], kind="stable")]
    return Detections(
        boxes[keep].astype(np.float32), score[keep].astype(np.float32), cls[keep].astype(np.int32)
    )


def postprocess(
    output: np.ndarray,
    anchors: np.ndarray,
    num_classes: int,
    image_size: tuple[int, int],
    top_n: int = 64,
    nms_threshold: float = 0.4,
    score_threshold: float | np.ndarray = 0.0,
) -> list[Detections]:
    """Batch of ConvDet outputs (B, H, W, K*(C+5)) to a list of :class:`Detections` in input pixels."""
    K = output.shape[-1] // (num_classes + 5)
    cls, conf, deltas = split_output(np.asarray(output, dtype=np.float32), K, num_classes)
    probs = softmax(cls) * sigmoid(conf)[..., None]
    boxes = decode_boxes(anchors[None], deltas, image_size)
    return [
        filter_detections(boxes[i], probs[i], top_n, nms_threshold, score_threshold)
        for i in range(len(output))
    ]
