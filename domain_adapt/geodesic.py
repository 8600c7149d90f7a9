"""Geodesic correlation alignment (SqueezeSegV2, Sec. 4.2; Morerio et al. 2018): the distance between
the covariance matrices of the network's outputs on a synthetic and a real batch, measured on the
manifold of symmetric positive-definite matrices as ``|| log(C_s) - log(C_t) ||_F^2``.

Numerical care: covariances are regularised (``+ eps * I``) so rank-deficient batches (fewer valid
pixels than channels, constant channels) still have a finite logarithm, the logarithm comes from a
symmetric eigen-decomposition in float64, and its gradient is the Daleckii-Krein formula with divided
differences that fall back to the derivative ``1/lambda`` for (near-)equal eigenvalues, where
TensorFlow's own ``eigh`` gradient divides by zero.
"""

from __future__ import annotations

import tensorflow as tf

DEFAULT_EPS = 1e-3


def covariance(features: tf.Tensor, eps: float = DEFAULT_EPS) -> tf.Tensor:
    """(C, C) float64 covariance of (N, C) samples plus ``eps * I`` (N may be 0 or 1)."""
    x = tf.cast(features, tf.float64)
    n = tf.cast(tf.shape(x)[0], tf.float64)
    centred = x - tf.reduce_sum(x, axis=0, keepdims=True) / tf.maximum(n, 1.0)
    cov = tf.matmul(centred, centred, transpose_a=True) / tf.maximum(n - 1.0, 1.0)
    c = tf.shape(x)[1]
    return 0.5 * (cov + tf.transpose(cov)) + eps * tf.eye(c, dtype=tf.float64)


@tf.custom_gradient
def spd_logm(a: tf.Tensor):
    """Matrix logarithm of a symmetric positive-definite (C, C) float64 matrix, with a finite gradient."""
    a = 0.5 * (a + tf.transpose(a))
    w, v = tf.linalg.eigh(a)
    w = tf.maximum(w, tf.constant(1e-12, w.dtype))
    logw = tf.math.log(w)
    out = tf.matmul(v * logw[None, :], v, transpose_b=True)

    def grad(g):
        g = 0.5 * (g + tf.transpose(g))
        dw = w[:, None] - w[None, :]
        dl = logw[:, None] - logw[None, :]
        close = tf.abs(dw) <= 1e-9 * tf.reduce_max(w)
        mean_w = 0.5 * (w[:, None] + w[None, :])
        k = tf.where(close, 1.0 / mean_w, dl / tf.where(close, tf.ones_like(dw), dw))
        inner = k * tf.matmul(tf.matmul(v, g, transpose_a=True), v)
        return tf.matmul(tf.matmul(v, inner), v, transpose_b=True)

    return out, grad


def geodesic_distance(cov_a: tf.Tensor, cov_b: tf.Tensor) -> tf.Tensor:
    """Squared log-Euclidean geodesic distance ``||log A - log B||_F^2`` of two SPD matrices."""
    diff = spd_logm(cov_a) - spd_logm(cov_b)
    return tf.reduce_sum(tf.square(diff))


def geodesic_correlation_loss(source: tf.Tensor, target: tf.Tensor, eps: float = DEFAULT_EPS) -> tf.Tensor:
    """float32 scalar: geodesic distance between the regularised covariances of (N, C) and (M, C)
    output samples (e.g. the logits of the valid pixels of a synthetic and a real batch)."""
    d = geodesic_distance(covariance(source, eps), covariance(target, eps))
    return tf.cast(d, tf.float32)
