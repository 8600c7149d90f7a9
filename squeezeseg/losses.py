"""Segmentation losses over range images: class-weighted cross-entropy and focal loss, both skipping
pixels labelled -1 (no LiDAR return) and averaged over the valid pixels of each frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops


def focal_loss(labels, logits, class_weights: Sequence[float], gamma: float = 2.0):
    """(B,) mean over valid pixels of ``-w_c (1 - p_c)^gamma log p_c`` (Lin et al.; SqueezeSegV2).

    ``labels`` (B, H, W) int with -1 for ignored pixels, or (B, H, W, 2) float: the labels and a
    weight per pixel (:func:`with_range_weights`), which makes the mean a weighted one; ``logits``
    (B, H, W, C). ``gamma=0`` is the weighted cross-entropy.
    """
    pixel_w = None
    if len(labels.shape) == 4:
        pixel_w = ops.cast(labels[..., 1], logits.dtype)
        labels = labels[..., 0]
    labels = ops.cast(labels, "int32")
    valid = ops.cast(labels >= 0, logits.dtype)
    if pixel_w is not None:
        valid = valid * pixel_w
    lab = ops.maximum(labels, 0)
    logp = ops.log_softmax(logits, axis=-1)
    logp_t = ops.squeeze(ops.take_along_axis(logp, ops.expand_dims(lab, -1), axis=-1), -1)
    w = ops.take(ops.convert_to_tensor(list(class_weights), dtype=logits.dtype), lab)
    per_pixel = -w * logp_t
    if gamma:
        per_pixel = per_pixel * ops.power(1.0 - ops.exp(logp_t), gamma)
    per_pixel = per_pixel * valid
    n = ops.maximum(ops.sum(valid, axis=(1, 2)), 1.0)
    return ops.sum(per_pixel, axis=(1, 2)) / n


def range_weights(ranges, p: float, ref: float):
    """Per-pixel loss weights ``max(range / ref, 1) ** p`` of raw ranges (m; 0 where no return)."""
    return ops.power(ops.maximum(ranges / ref, 1.0), p)


def with_range_weights(image, labels, p: float, ref: float):
    """``labels`` (H, W) int stacked with the :func:`range_weights` of ``image``'s range channel
    (raw metres, channel 4) into the (H, W, 2) float target :func:`focal_loss` takes."""
    w = range_weights(ops.cast(image[..., 4], "float32"), p, ref)
    return ops.stack([ops.cast(labels, "float32"), w], axis=-1)


def weighted_cross_entropy(labels, logits, class_weights: Sequence[float]):
    """(B,) class-weighted softmax cross-entropy over valid pixels (SqueezeSeg)."""
    return focal_loss(labels, logits, class_weights, gamma=0.0)


def class_balanced_weights(base: Sequence[float], counts: Sequence[float], power: float) -> list[float]:
    """Class-balanced weights: ``base_c * f_c ** -power`` with ``f_c`` the share of class ``c`` among the
    labelled pixels ``counts``, rescaled so that the mean weight per pixel, ``sum_c f_c w_c``, stays that
    of ``base`` (the loss keeps its scale). ``power`` 0 gives ``base``; 1 weighs every class equally in
    total (inverse frequency); 0.5 is the inverse square root. A class without pixels keeps its base
    weight times the largest factor of the others."""
    base = np.asarray(base, np.float64)
    counts = np.asarray(counts, np.float64)
    if base.shape != counts.shape:
        raise ValueError(f"{len(counts)} class counts for {len(base)} class weights")
    if power == 0 or counts.sum() <= 0:
        return base.tolist()
    f = counts / counts.sum()
    factor = np.where(f > 0, np.power(np.maximum(f, 1e-12), -power), 0.0)
    factor = np.where(f > 0, factor, factor.max())
    w = base * factor
    scale = float((f * base).sum()) / max(float((f * w).sum()), 1e-12)
    return (w * scale).tolist()


def segmentation_loss(cfg, class_weights: Sequence[float] | None = None):
    """The Keras loss ``fn(y_true, y_pred)`` that ``cfg.loss`` names, with ``class_weights`` (default the
    config's; :func:`squeezeseg.train.train` passes the class-balanced ones when ``train.class_balance``)."""
    weights = list(cfg.class_weights if class_weights is None else class_weights)
    gamma = cfg.focal_gamma if cfg.loss == "focal" else 0.0

    def loss(y_true, y_pred):
        return focal_loss(y_true, y_pred, weights, gamma)

    loss.__name__ = f"{cfg.loss}_loss"
    return loss
