"""``tf.data`` pipelines: shuffled, augmented (horizontal flip), batched range images with labels."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from squeezeseg.models.config import ModelConfig


def flip_horizontal(image, labels):
    """Mirror left/right: columns reversed and y negated (the 90-degree window is symmetric about x).

    The model normalises the raw input itself, so the flipped y is normalised with the same numbers.
    """
    image = tf.reverse(image, axis=[-2])
    labels = tf.reverse(labels, axis=[-1])
    sign = tf.constant([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], image.dtype)
    return image * sign, labels


def make_dataset(
    cfg: ModelConfig,
    split: str | None = None,
    training: bool = True,
    root: str | None = None,
    batch_size: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``(image (B, H, W, 6), labels (B, H, W))``; training sets repeat, shuffle and flip."""
    from squeezeseg.data.sources import frames_and_loader

    split = split or (cfg.data.train_split if training else cfg.data.val_split)
    frames, load = frames_and_loader(cfg, split, root)
    bs = batch_size or cfg.train.batch_size

    def _load(i):
        img, lab = load(frames[int(i)])
        return img, lab

    def _tf_load(i):
        img, lab = tf.numpy_function(_load, [i], (tf.float32, tf.int32), stateful=False)
        img.set_shape((cfg.height, cfg.width, 6))
        lab.set_shape((cfg.height, cfg.width))
        return img, lab

    ds = tf.data.Dataset.from_tensor_slices(np.arange(len(frames), dtype=np.int64))
    if training:
        ds = ds.shuffle(len(frames), seed=cfg.train.seed, reshuffle_each_iteration=True).repeat()
    ds = ds.map(_tf_load, num_parallel_calls=2, deterministic=True)
    if training and cfg.train.flip:
        coins = tf.data.Dataset.random(seed=cfg.train.seed + 1)

        def _maybe_flip(pair, coin):
            img, lab = pair
            return tf.cond(coin % 2 == 0, lambda: flip_horizontal(img, lab), lambda: (img, lab))

        ds = tf.data.Dataset.zip((ds, coins)).map(_maybe_flip, num_parallel_calls=2, deterministic=True)
    crop = cfg.train.crop_width
    if training and crop and crop < cfg.width:
        starts = tf.data.Dataset.random(seed=cfg.train.seed + 2)

        def _crop(pair, r):
            img, lab = pair
            c0 = tf.cast(r % (cfg.width - crop + 1), tf.int32)
            return img[:, c0:c0 + crop], lab[:, c0:c0 + crop]

        ds = tf.data.Dataset.zip((ds, starts)).map(_crop, num_parallel_calls=2, deterministic=True)
    return ds.batch(bs, drop_remainder=training).prefetch(2)
