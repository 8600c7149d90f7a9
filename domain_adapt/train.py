"""Adaptation training (SqueezeSegV2, Sec. 4): every step takes one labelled synthetic batch and one
unlabelled real batch; the loss is the focal loss on the synthetic batch plus ``gca_weight`` times the
geodesic distance between the covariances of the two batches' outputs (logits of valid pixels).

Models, losses, optimiser and frame loading come from :mod:`squeezeseg`; this module adds only the
two-domain step, random column crops (the nets are fully convolutional, and 128-column crops make a
CPU step 4x cheaper) and the transfer of the trained weights into a full-width model.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig

log = logging.getLogger(__name__)


@dataclass
class AdaptOptions:
    """What one adaptation training run does."""

    steps: int = 300
    batch_size: int = 4
    crop_width: int = 128
    gca_weight: float = 0.0  # lambda of the geodesic loss; 0 trains on the source alone
    context_aggregation: bool = False
    seed: int = 0


def crop_batches(images: np.ndarray, labels: np.ndarray | None, batch_size: int, width: int,
                 rng: np.random.Generator, flip: bool = True) -> Iterator[tuple]:
    """Endless random batches of ``width``-column crops, each mirrored (y -> -y) with probability 1/2."""
    n, _, w = images.shape[:3]
    width = min(width, w)
    while True:
        idx = rng.integers(0, n, batch_size)
        cols = rng.integers(0, w - width + 1, batch_size)
        x = np.stack([images[i, :, c:c + width] for i, c in zip(idx, cols)])
        y = None if labels is None else np.stack([labels[i, :, c:c + width] for i, c in zip(idx, cols)])
        if flip:
            mirror = rng.random(batch_size) < 0.5
            x[mirror] = x[mirror, :, ::-1] * np.array([1, -1, 1, 1, 1, 1], np.float32)
            if y is not None:
                y[mirror] = y[mirror, :, ::-1]
        yield x, y


def run_steps(step: Callable, batches: Iterator, steps: int, desc: str, progress: bool = True) -> dict:
    """Call ``step(batch) -> {name: scalar}`` ``steps`` times with a tqdm bar; returns the last losses."""
    from tqdm import tqdm

    if steps <= 0:
        raise InputError(f"steps must be positive, got {steps}")
    logs: dict = {}
    bar = tqdm(range(steps), desc=desc, unit="step", disable=not progress, file=sys.stderr)
    for _ in bar:
        logs = {k: float(v) for k, v in step(next(batches)).items()}
        if not all(np.isfinite(v) for v in logs.values()):
            raise FloatingPointError(f"{desc}: non-finite loss {logs}")
        bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
    return logs


def transfer_weights(src, dst) -> None:
    """Copy the weights of ``src`` into ``dst`` (same architecture, possibly another input width)."""
    dst.set_weights(src.get_weights())


def build_segmenter(cfg: ModelConfig, context_aggregation: bool, width: int | None = None):
    """SqueezeSegV2 trunk (batch norm, mask channel) with context aggregation on or off, at ``width``."""
    import copy

    from squeezeseg.models.squeezeseg import build_segmentation_net

    c = copy.deepcopy(cfg)
    if width is not None:
        c.width = int(width)
    return build_segmentation_net(c, batch_norm=True, context_aggregation=context_aggregation,
                                  mask_channel=True, name=c.name)


def train_adapted(cfg: ModelConfig, source: tuple[np.ndarray, np.ndarray], target: np.ndarray | None,
                  opts: AdaptOptions, progress: bool = True, init=None):
    """Train on labelled ``source`` (images, labels; -1 left out) [+ geodesic alignment to ``target``
    images]; returns ``(full-width model, last losses)``. ``cfg.mean``/``cfg.std`` must already be set.
    ``init``: a model of the same architecture to start from (fine-tuning), else random weights."""
    import keras
    import tensorflow as tf

    from domain_adapt.geodesic import geodesic_correlation_loss
    from squeezeseg.losses import focal_loss
    from squeezeseg.train import make_optimizer

    if opts.gca_weight > 0 and (target is None or len(target) == 0):
        raise InputError("correlation alignment needs unlabelled target images (the target folder is empty)")
    keras.utils.set_random_seed(opts.seed)
    crop = min(opts.crop_width, cfg.width)
    if crop % 16:
        raise InputError(f"crop width must be a multiple of 16, got {crop}")
    model = build_segmenter(cfg, opts.context_aggregation, crop)
    if init is not None:
        transfer_weights(init, model)
    optimizer = make_optimizer(cfg)
    weights, gamma = list(cfg.class_weights), cfg.focal_gamma if cfg.loss == "focal" else 0.0
    lam = float(opts.gca_weight)

    @tf.function(reduce_retracing=True)
    def step(xs, ys, xt):
        with tf.GradientTape() as tape:
            out_s = model(xs, training=True)
            seg = tf.reduce_mean(focal_loss(ys, out_s, weights, gamma))
            if lam > 0:
                out_t = model(xt, training=True)
                gca = geodesic_correlation_loss(tf.boolean_mask(out_s, xs[..., 5] > 0),
                                                tf.boolean_mask(out_t, xt[..., 5] > 0))
            else:
                gca = tf.constant(0.0)
            loss = seg + lam * gca
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"focal": seg, "gca": gca}

    rng = np.random.default_rng(opts.seed)
    src = crop_batches(source[0], source[1], opts.batch_size, crop, rng)
    has_target = target is not None and len(target) > 0
    tgt = crop_batches(target, None, opts.batch_size, crop, rng) if has_target else None
    empty = np.zeros((opts.batch_size, cfg.height, crop, 6), np.float32)

    def one(batch):
        (xs, ys), xt = batch
        return step(tf.constant(xs), tf.constant(ys), tf.constant(xt))

    pairs = ((b, next(tgt)[0] if tgt is not None and lam > 0 else empty) for b in src)
    logs = run_steps(one, pairs, opts.steps, "adapt" if lam > 0 else "train", progress)
    full = build_segmenter(cfg, opts.context_aggregation)
    transfer_weights(model, full)
    return full, logs


def predict_labels(model, images: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """(N, H, W) argmax class of every pixel of (N, H, W, 6) images (inference-mode batch norm)."""
    out = []
    for i in range(0, len(images), batch_size):
        out.append(np.argmax(model(images[i:i + batch_size], training=False).numpy(), axis=-1))
    return np.concatenate(out).astype(np.int32)


def evaluate(model, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Class-level precision, recall and IoU over the valid pixels (:mod:`squeezeseg.metrics`)."""
    from squeezeseg.metrics import confusion_matrix, scores_from_confusion

    pred = predict_labels(model, images)
    valid = labels >= 0
    conf = confusion_matrix(labels[valid], pred[valid], len(classes))
    return {"class": scores_from_confusion(conf).as_dict(classes), "confusion": conf.tolist(),
            "pixels": int(valid.sum()), "frames": int(len(images))}
