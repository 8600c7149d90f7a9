"""``tf.data`` pipelines: shuffled, augmented (see :mod:`squeezeseg.data.augment`), batched range images
with labels."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from squeezeseg.data.augment import augment, enabled, flip_horizontal
from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig

__all__ = ["make_dataset", "flip_horizontal", "augment"]


def make_dataset(
    cfg: ModelConfig,
    split: str | None = None,
    training: bool = True,
    root: str | None = None,
    batch_size: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``(image (B, H, W, 6), labels (B, H, W))``; training sets repeat, shuffle and augment
    (flip, rotation, crop and the switches of :mod:`squeezeseg.data.augment`, as ``cfg.train`` says);
    with ``train.range_weight`` their labels are (B, H, W, 2), a loss weight per pixel beside each
    label (:func:`squeezeseg.losses.with_range_weights`)."""
    from squeezeseg.data.sources import frames_and_loader

    split = split or (cfg.data.train_split if training else cfg.data.val_split)
    frames, load = frames_and_loader(cfg, split, root)
    bs = batch_size or cfg.train.batch_size
    t = cfg.train
    rotate = training and t.rotate_deg > 0
    tilted = training and t.tilt_deg > 0
    for key, on in (("rotate_deg", rotate), ("tilt_deg", tilted)):
        if on and cfg.data.kind not in ("semantickitti",):
            raise InputError(f"train.{key} needs point-cloud data (data.kind semantickitti), not "
                             f"'{cfg.data.kind}' range images (they hold the front window only)")

    def _load(i, angle):
        """Frame ``i``; ``angle`` (3,) degrees: turn about z, pitch, roll."""
        if rotate or tilted:
            a = np.deg2rad(angle.astype(np.float64))
            return load(frames[int(i)], rotation=float(a[0]), tilt=(float(a[1]), float(a[2])))
        return load(frames[int(i)])

    def _tf_load(i, angle):
        img, lab = tf.numpy_function(_load, [i, angle], (tf.float32, tf.int32), stateful=False)
        img.set_shape((cfg.height, cfg.width, 6))
        lab.set_shape((cfg.height, cfg.width))
        return img, lab

    ds = tf.data.Dataset.from_tensor_slices(np.arange(len(frames), dtype=np.int64))
    if training:
        ds = ds.shuffle(len(frames), seed=t.seed, reshuffle_each_iteration=True).repeat()
    def _uniform(seed: int, half: float) -> tf.data.Dataset:
        """U(-half, half) draws, seeded (0 when ``half`` is 0)."""
        return tf.data.Dataset.random(seed=seed).map(
            lambda r: (tf.cast(r % 2_000_001, tf.float32) / 1e6 - 1.0) * half)

    if rotate or tilted:
        tilt_half = t.tilt_deg if tilted else 0.0
        parts = (_uniform(t.seed + 4, t.rotate_deg if rotate else 0.0), _uniform(t.seed + 5, tilt_half),
                 _uniform(t.seed + 6, tilt_half))
        angles = tf.data.Dataset.zip(parts).map(lambda a, b, c: tf.stack([a, b, c]))
    else:
        angles = tf.data.Dataset.from_tensors(tf.zeros(3)).repeat()
    ds = tf.data.Dataset.zip((ds, angles)).map(_tf_load, num_parallel_calls=2, deterministic=True)
    if training and t.flip:
        coins = tf.data.Dataset.random(seed=t.seed + 1)

        def _maybe_flip(pair, coin):
            img, lab = pair
            return tf.cond(coin % 2 == 0, lambda: flip_horizontal(img, lab), lambda: (img, lab))

        ds = tf.data.Dataset.zip((ds, coins)).map(_maybe_flip, num_parallel_calls=2, deterministic=True)
    crop = t.crop_width
    if training and crop and crop < cfg.width:
        starts = tf.data.Dataset.random(seed=t.seed + 2)

        def _crop(pair, r):
            img, lab = pair
            c0 = tf.cast(r % (cfg.width - crop + 1), tf.int32)
            return img[:, c0:c0 + crop], lab[:, c0:c0 + crop]

        ds = tf.data.Dataset.zip((ds, starts)).map(_crop, num_parallel_calls=2, deterministic=True)
    if training and enabled(t):
        seeds = tf.data.Dataset.random(seed=t.seed + 3).batch(2)

        def _augment(pair, seed):
            return augment(pair[0], pair[1], seed, t)

        ds = tf.data.Dataset.zip((ds, seeds)).map(_augment, num_parallel_calls=2, deterministic=True)
    if training and t.range_weight > 0:  # after augmentation: the weights follow the scaled ranges
        from squeezeseg.losses import with_range_weights

        ds = ds.map(lambda img, lab: (img, with_range_weights(img, lab, t.range_weight, t.range_weight_ref)),
                    num_parallel_calls=2, deterministic=True)
    return ds.batch(bs, drop_remainder=training).prefetch(2)
