"""Training augmentation of range images, in TensorFlow ops for the ``tf.data`` pipeline.

Every switch lives in the model config's ``train`` section (0 turns it off):

| key | what it does to one frame |
| --- | --- |
| ``flip`` | mirror left/right with probability 1/2: columns reversed, y negated |
| ``rotate_deg`` | (point-cloud data only) the scan turned by U(-r, r) degrees about z before projection |
| ``tilt_deg`` | (point-cloud data only) the scan pitched and rolled by U(-t, t) degrees before projection |
| ``scale`` | x, y, z and range multiplied by one factor U(1 - s, 1 + s) (angles, so pixels, unchanged) |
| ``z_shift`` | z + U(-h, h) metres (sensor height jitter), range recomputed from x, y, z |
| ``intensity_gain`` | intensity multiplied by U(1 - g, 1 + g) |
| ``intensity_noise`` | intensity + N(0, s) per pixel |
| ``intensity_zero`` | with this probability the whole intensity channel is 0 (a sensor without it) |
| ``object_intensity_gain`` | object pixels (label >= 1) times 2 ** U(-a, a), one draw per class |
| ``object_intensity_shuffle`` | with this probability object pixels take random background intensities |
| ``ring_dropout`` | each row (laser ring) emptied with this probability |
| ``point_dropout`` | each pixel emptied with this probability |

The two object switches are domain randomisation against the simulator's car paint: simulated cars
return 0 on 62-74 % of their points (their paint's reflectivity is low and falls with range), real
KITTI cars on 29-62 %, a quarter of their points above 0.28-0.38 (``scripts/intensity_by_class.py``);
a network trained on the first learns "dark = car" (the darker a real scan, the more the shipped
model calls car). They read the simulated labels only. One run with both scored lower on the real
sets than its control and did not find the far cars (docs/domain-adaptation.md, "Intensity").

Intensity stays in [0, 1] (KITTI reflectance, the simulator's range). An emptied pixel follows the
network-input rule (:mod:`squeezeseg.datasets.network_input`): all six channels 0 and label -1, so the
losses skip it. Empty pixels stay empty under every augmentation. The model normalises its raw input
itself (``RangeNormalization``), so augmenting raw values keeps the normalisation right.
"""

from __future__ import annotations

import tensorflow as tf

# switches of TrainConfig applied by :func:`augment` (``flip`` and ``rotate_deg`` act elsewhere)
AUGMENT_KEYS = ("scale", "z_shift", "intensity_gain", "intensity_noise", "intensity_zero",
                "object_intensity_gain", "object_intensity_shuffle", "ring_dropout", "point_dropout")
N_OBJECT_CLASSES = 16  # object_intensity_gain draws one factor per label value below this


def flip_horizontal(image, labels):
    """Mirror left/right: columns reversed and y negated (the 90-degree window is symmetric about x).

    The model normalises the raw input itself, so the flipped y is normalised with the same numbers.
    """
    image = tf.reverse(image, axis=[-2])
    labels = tf.reverse(labels, axis=[-1])
    sign = tf.constant([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], image.dtype)
    return image * sign, labels


def enabled(train_cfg) -> bool:
    """True when any of :data:`AUGMENT_KEYS` is switched on."""
    return any(getattr(train_cfg, k) for k in AUGMENT_KEYS)


def augment(image, labels, seed, train_cfg):
    """One frame ``image (H, W, 6)`` x, y, z, intensity, range, mask and ``labels (H, W)`` augmented as
    ``train_cfg`` says; ``seed`` is a (2,) integer tensor (stateless random ops: same seed, same result)."""
    t = train_cfg
    image = tf.convert_to_tensor(image, tf.float32)
    labels = tf.convert_to_tensor(labels)
    seed = tf.cast(seed, tf.int64)

    def sub(k):
        return tf.random.experimental.stateless_fold_in(seed, k)

    x, y, z, inten, rng, mask = tf.unstack(image, axis=-1)
    valid = mask > 0
    zero = tf.zeros_like(x)
    if t.scale:
        f = tf.random.stateless_uniform([], sub(0), 1.0 - t.scale, 1.0 + t.scale)
        x, y, z, rng = x * f, y * f, z * f, rng * f
    if t.z_shift:
        dz = tf.random.stateless_uniform([], sub(1), -t.z_shift, t.z_shift)
        z = tf.where(valid, z + dz, zero)
        rng = tf.where(valid, tf.sqrt(x * x + y * y + z * z), zero)
    if t.intensity_gain:
        g = t.intensity_gain
        inten = inten * tf.random.stateless_uniform([], sub(2), 1.0 - g, 1.0 + g)
    if t.object_intensity_gain or t.object_intensity_shuffle:
        inten = object_intensity(inten, labels, valid, sub(7), t.object_intensity_gain,
                                 t.object_intensity_shuffle)
    if t.intensity_noise:
        inten = inten + t.intensity_noise * tf.random.stateless_normal(tf.shape(inten), sub(3))
    if t.intensity_zero:
        keep = tf.random.stateless_uniform([], sub(4)) >= t.intensity_zero
        inten = inten * tf.cast(keep, inten.dtype)
    inten = tf.where(valid, tf.clip_by_value(inten, 0.0, 1.0), zero)
    image = tf.stack([x, y, z, inten, rng, mask], axis=-1)
    drop = tf.zeros_like(valid)
    if t.ring_dropout:
        rows = tf.random.stateless_uniform(tf.shape(x)[:1], sub(5)) < t.ring_dropout
        drop = drop | rows[:, None]
    if t.point_dropout:
        drop = drop | (tf.random.stateless_uniform(tf.shape(x), sub(6)) < t.point_dropout)
    image = tf.where(drop[..., None], tf.zeros_like(image), image)
    labels = tf.where(drop, tf.constant(-1, labels.dtype), labels)
    return image, labels


def object_intensity(inten, labels, valid, seed, gain_log2: float, shuffle: float):
    """Object pixels' intensity (label >= 1) decoupled from the simulator's materials: with
    probability ``shuffle`` replaced by the intensities of random valid background pixels of the same
    frame (object intensity then says nothing about the class), else each class times 2 ** U(-a, a)
    with ``a = gain_log2``. Frames without background pixels keep their intensity."""
    obj = valid & (tf.cast(labels, tf.int32) >= 1)
    if gain_log2:
        cls = tf.clip_by_value(tf.cast(labels, tf.int32), 0, N_OBJECT_CLASSES - 1)
        exps = tf.random.stateless_uniform([N_OBJECT_CLASSES], tf.random.experimental.stateless_fold_in(
            seed, 0), -gain_log2, gain_log2)
        inten = tf.where(obj, inten * tf.pow(2.0, tf.gather(exps, cls)), inten)
    if shuffle:
        background = tf.boolean_mask(inten, valid & ~obj)
        n = tf.shape(background)[0]
        coin = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed, 1)) < shuffle
        pick = tf.random.stateless_uniform(tf.shape(inten), tf.random.experimental.stateless_fold_in(seed, 2),
                                           0, tf.maximum(n, 1), dtype=tf.int32)
        drawn = tf.gather(tf.concat([background, tf.zeros([1], inten.dtype)], 0), pick)
        inten = tf.where(obj & coin & (n > 0), drawn, inten)
    return inten
