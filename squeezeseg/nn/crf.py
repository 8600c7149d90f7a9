"""Recurrent CRF (SqueezeSeg): mean-field inference unrolled as an RNN on top of the class logits.

Each iteration takes the softmax of the current logits, passes messages inside a local ``size``
(3x5) window with two Gaussian kernels, transforms them with learnable 1x1 compatibility matrices and
subtracts the result from the unary logits:

* angular kernel ``exp(-(drow^2 + dcol^2) / theta_a^2)`` (fixed);
* bilateral kernel ``exp(-(drow^2 + dcol^2) / theta_a^2) * exp(-|dxyz|^2 / (2 theta_r^2))`` times the
  neighbour's mask, computed once per input from the (normalised) x, y, z channels, then reused by all
  iterations.

Both kernels read the same shifted slices of the softmax and accumulate offset by offset (no
per-pixel loops, no (B, H, W, K, C) intermediates, and no depthwise convolution, whose CPU gradient
is slow). On the TensorFlow backend the mean-field loop runs as one XLA cluster
(:mod:`squeezeseg.nn.xla`): its ~300 small elementwise ops fuse into a few kernels, several times
faster on CPU than running them one by one.

Kernel widths are per class, as in the papers (cars get wider kernels than pedestrians).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from squeezeseg.crf_kernel import angular_weights, window_offsets  # shared with the exported CRF
from squeezeseg.nn.xla import compiled, xla_enabled


def shifted(t, size: Sequence[int]) -> list:
    """The ``size`` window as K shifted copies of (B, H, W, C) ``t`` (zeros outside the image)."""
    kh, kw = size
    ph, pw = kh // 2, kw // 2
    h, w = ops.shape(t)[1], ops.shape(t)[2]
    padded = ops.pad(t, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
    return [padded[:, ph + dy: ph + dy + h, pw + dx: pw + dx + w, :] for dy, dx in window_offsets(size)]


def bilateral_kernel(points, size: Sequence[int], bi_ang: np.ndarray, inv_2r2: np.ndarray,
                     fused: bool = True) -> list:
    """K tensors (B, H, W, C): the bilateral weight of each neighbour offset of ``points`` (x, y, z,
    mask), computed once per input.

    The weight is symmetric, ``W[-k](p) == W[k](p - k)``, so only the second half of the offsets is
    evaluated (on a grid one window larger) and the first half are shifted views of it: half the
    exponentials. ``fused`` is the form written for XLA; op by op the squared distance goes to the
    classes' exponents through one 1x1 convolution (a channel sum and per-class scales cost three
    slow ops each in TFLite/ONNX runtimes).
    """
    kh, kw = size
    ph, pw = kh // 2, kw // 2
    h, w = ops.shape(points)[1], ops.shape(points)[2]
    offsets = window_offsets(size)
    n = len(offsets)
    grow = [[0, 0], [2 * ph, 2 * ph], [2 * pw, 2 * pw], [0, 0]]
    xyz, mask = ops.pad(points[..., :3], grow), ops.pad(points[..., 3:4], grow)

    def window(t, dy, dx):  # every q of the image grown by the window's half size, moved by (dy, dx)
        return t[:, ph + dy: ph + dy + h + 2 * ph, pw + dx: pw + dx + w + 2 * pw, :]

    q_xyz, q_mask = window(xyz, 0, 0), window(mask, 0, 0)
    out = [None] * n
    for k in range(n // 2, n):  # offsets after the centre in row-major order; k's opposite is n-1-k
        dy, dx = offsets[k]
        d = ops.square(window(xyz, dy, dx) - q_xyz)
        e = _offset_weight(d, bi_ang[k], inv_2r2, fused) * (window(mask, dy, dx) * q_mask)
        out[k] = e[:, ph: ph + h, pw: pw + w, :]
        out[n - 1 - k] = e[:, ph - dy: ph - dy + h, pw - dx: pw - dx + w, :]  # bi_ang[k] == bi_ang[n-1-k]
    return out


def _offset_weight(d, bi_ang_k: np.ndarray, inv_2r2: np.ndarray, fused: bool):
    """``bi_ang_k * exp(-|d|^2 * inv_2r2)`` per class from squared coordinate differences ``d``."""
    if fused:
        return ops.exp(-ops.sum(d, axis=-1, keepdims=True) * inv_2r2) * bi_ang_k
    scale = np.broadcast_to(-inv_2r2, (1, 1, 3, len(inv_2r2))).astype(np.float32)
    log_ang = np.log(np.maximum(bi_ang_k, np.finfo(np.float32).tiny))  # 0 -> ~1e-38, no log(0)
    return ops.exp(ops.conv(d, scale) + log_ang.astype(np.float32))


PAIRWISE_SOFTMAX_MAX_CLASSES = 6  # C^2 exponentials: 16 for 4 classes, 400 for SemanticKITTI's 20


def pairwise_softmax(x):
    """Softmax over the last axis as ``1 / sum_j exp(x_j - x_c)`` with two 1x1 convolutions: the same
    values, at half the cost of the SOFTMAX kernel of TFLite's XNNPACK on 4 channels. Differences are
    capped at 80 so that neither the sum nor its gradient overflows (the error is below 1e-34). It
    takes C^2 exponentials, so above ``PAIRWISE_SOFTMAX_MAX_CLASSES`` it is the plain softmax."""
    c = x.shape[-1]
    if c > PAIRWISE_SOFTMAX_MAX_CLASSES:
        return ops.softmax(x, axis=-1)
    diff = np.zeros((1, 1, c, c * c), np.float32)
    total = np.zeros((1, 1, c * c, c), np.float32)
    for i in range(c):
        for j in range(c):
            diff[0, 0, j, i * c + j] += 1.0
            diff[0, 0, i, i * c + j] -= 1.0
            total[0, 0, i * c + j, i] = 1.0
    return 1.0 / ops.conv(ops.exp(ops.minimum(ops.conv(x, diff), 80.0)), total)


def compatibility(t, matrix, unrolled: bool):
    """``t @ matrix`` over the class axis; ``unrolled`` writes the tiny CxC product as C broadcast
    multiplies, which XLA fuses with the message sums; op by op it is a 1x1 convolution (cheaper than
    a matmul in TFLite)."""
    if not unrolled:
        return ops.conv(t, ops.reshape(matrix, (1, 1, *matrix.shape)))
    return sum(t[..., c: c + 1] * matrix[c] for c in range(t.shape[-1]))


def angular_conv_kernel(size: Sequence[int], ang: np.ndarray, compat):
    """(kh, kw, C, C) kernel of one convolution that sends the angular messages and applies their
    compatibility matrix at once (the angular kernel is the same at every pixel)."""
    kh, kw = size
    taps = np.zeros((kh, kw, ang.shape[1], 1), np.float32)
    for k, (dy, dx) in enumerate(window_offsets(size)):
        taps[dy + kh // 2, dx + kw // 2, :, 0] = ang[k]
    return taps * compat[None, None]


def mean_field(unary, points, ang_compat, bi_compat, *, iterations: int, size: Sequence[int],
               ang: np.ndarray, bi_ang: np.ndarray, inv_2r2: np.ndarray, fused: bool = False):
    """``iterations`` mean-field updates of ``unary`` logits (B, H, W, C) given ``points``.

    ``fused`` (the caller compiles it with XLA) sums the angular messages over shifted slices, which
    XLA fuses with the bilateral ones; op by op (exported graphs) they are one convolution instead
    of 14 broadcast products.
    """
    # The kernel depends on the input only: no gradient flows through it.
    bi_w = [ops.stop_gradient(w) for w in bilateral_kernel(points, size, bi_ang, inv_2r2, fused)]
    ang_kernel = None if fused else angular_conv_kernel(size, ang, ang_compat)
    x = unary
    for _ in range(iterations):
        q = ops.softmax(x, axis=-1) if fused else pairwise_softmax(x)
        a, b = 0.0, 0.0
        # accumulate offset by offset: no (B, H, W, K, C) intermediate, which is memory-bound on CPU
        for k, s in enumerate(shifted(q, size)):
            if fused:
                a = a + s * ang[k]
            b = b + s * bi_w[k]
        a = compatibility(a, ang_compat, True) if fused else ops.conv(q, ang_kernel, padding="same")
        x = unary - a - compatibility(b, bi_compat, fused)
    return x


def _fused_mean_field(unary, points, ang_compat, bi_compat, *, iterations, size, ang, bi_ang, inv_2r2):
    """:func:`mean_field` written for XLA (see :mod:`squeezeseg.nn.xla`)."""
    return mean_field(unary, points, ang_compat, bi_compat, iterations=iterations, size=size,
                      ang=ang, bi_ang=bi_ang, inv_2r2=inv_2r2, fused=True)


@keras.saving.register_keras_serializable(package="squeezeseg")
class RecurrentCRF(layers.Layer):
    """Call with ``[logits (B, H, W, C), points (B, H, W, 4)]``: points are x, y, z (as fed to the
    network) and the mask; returns refined logits (B, H, W, C)."""

    def __init__(
        self,
        iterations: int = 3,
        size: Sequence[int] = (3, 5),
        bilateral_theta_a: Sequence[float] = (0.9, 0.9, 0.6, 0.6),
        bilateral_theta_r: Sequence[float] = (0.015, 0.015, 0.01, 0.01),
        bilateral_coef: float = 0.1,
        angular_theta_a: Sequence[float] = (0.9, 0.9, 0.6, 0.6),
        angular_coef: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.iterations = int(iterations)
        self.size = tuple(int(s) for s in size)
        self.bilateral_theta_a = [float(v) for v in bilateral_theta_a]
        self.bilateral_theta_r = [float(v) for v in bilateral_theta_r]
        self.bilateral_coef = float(bilateral_coef)
        self.angular_theta_a = [float(v) for v in angular_theta_a]
        self.angular_coef = float(angular_coef)

    def build(self, input_shape):
        logits_shape = input_shape[0]
        c = int(logits_shape[-1])
        for key in ("bilateral_theta_a", "bilateral_theta_r", "angular_theta_a"):
            if len(getattr(self, key)) != c:
                raise ValueError(f"RecurrentCRF: {key} has {len(getattr(self, key))} values for {c} classes")
        potts = (1.0 - np.eye(c)).astype(np.float32)
        self.bi_compat = self.add_weight(
            name="bilateral_compatibility", shape=(c, c),
            initializer=keras.initializers.Constant(potts * self.bilateral_coef))
        self.ang_compat = self.add_weight(
            name="angular_compatibility", shape=(c, c),
            initializer=keras.initializers.Constant(potts * self.angular_coef))
        self._ang = angular_weights(self.size, self.angular_theta_a)  # (K, C)
        self._bi_ang = angular_weights(self.size, self.bilateral_theta_a)  # (K, C)
        self._inv_2r2 = (1.0 / (2.0 * np.asarray(self.bilateral_theta_r) ** 2)).astype(np.float32)
        self.built = True

    def call(self, inputs):
        unary, points = inputs
        points = ops.cast(points, unary.dtype)
        kw = {"iterations": self.iterations, "size": self.size, "ang": self._ang,
              "bi_ang": self._bi_ang, "inv_2r2": self._inv_2r2}
        if xla_enabled():  # the backend variables (tf.Variable), which tf.function can trace
            return compiled(_fused_mean_field)(unary, points, self.ang_compat.value, self.bi_compat.value,
                                               **kw)
        return mean_field(unary, points, self.ang_compat, self.bi_compat, **kw)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "iterations": self.iterations,
            "size": list(self.size),
            "bilateral_theta_a": self.bilateral_theta_a,
            "bilateral_theta_r": self.bilateral_theta_r,
            "bilateral_coef": self.bilateral_coef,
            "angular_theta_a": self.angular_theta_a,
            "angular_coef": self.angular_coef,
        }
