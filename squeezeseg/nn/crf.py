"""Recurrent CRF (SqueezeSeg): mean-field inference unrolled as an RNN on top of the class logits.

Each iteration takes the softmax of the current logits, passes messages inside a local ``size``
(3x5) window with two Gaussian kernels, transforms them with learnable 1x1 compatibility matrices and
subtracts the result from the unary logits:

* angular kernel ``exp(-(drow^2 + dcol^2) / theta_a^2)`` (fixed, a depthwise convolution);
* bilateral kernel ``exp(-(drow^2 + dcol^2) / theta_a^2) * exp(-|dxyz|^2 / (2 theta_r^2))`` times the
  neighbour's mask, computed once per input from the (normalised) x, y, z channels, then reused by all
  iterations (shifted slices, no per-pixel loops).

Kernel widths are per class, as in the papers (cars get wider kernels than pedestrians).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops


def window_offsets(size: Sequence[int]) -> list[tuple[int, int]]:
    """(drow, dcol) of every neighbour in a ``size`` window, the centre excluded, row-major."""
    kh, kw = size
    return [(dy, dx) for dy in range(-(kh // 2), kh // 2 + 1) for dx in range(-(kw // 2), kw // 2 + 1)
            if (dy, dx) != (0, 0)]


def angular_weights(size: Sequence[int], theta: Sequence[float]) -> np.ndarray:
    """(K, C) angular Gaussian weight of each neighbour offset for each class."""
    offs = np.array(window_offsets(size), dtype=np.float64)
    d2 = (offs**2).sum(1)[:, None]
    return np.exp(-d2 / np.asarray(theta, dtype=np.float64)[None, :] ** 2).astype(np.float32)


def neighbours(t, size: Sequence[int]):
    """Stack the ``size`` window of every pixel: (B, H, W, C) -> (B, H, W, K, C), zeros outside the image."""
    kh, kw = size
    ph, pw = kh // 2, kw // 2
    h, w = ops.shape(t)[1], ops.shape(t)[2]
    padded = ops.pad(t, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
    return ops.stack(
        [padded[:, ph + dy: ph + dy + h, pw + dx: pw + dx + w, :] for dy, dx in window_offsets(size)], axis=3
    )


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
        kh, kw = self.size
        ang = np.zeros((kh * kw, c), np.float32)
        centre = (kh // 2) * kw + kw // 2
        ang[np.arange(kh * kw) != centre] = angular_weights(self.size, self.angular_theta_a)
        self._ang_kernel = ang.reshape(kh, kw, c, 1)
        self._bi_ang = angular_weights(self.size, self.bilateral_theta_a)  # (K, C)
        self._inv_2r2 = (1.0 / (2.0 * np.asarray(self.bilateral_theta_r) ** 2)).astype(np.float32)
        self.built = True

    def bilateral_kernel(self, points):
        """(B, H, W, K, C) bilateral weights, computed once per input."""
        xyz, mask = points[..., :3], points[..., 3:4]
        nb = neighbours(points[..., :4], self.size)
        d2 = ops.sum(ops.square(nb[..., :3] - xyz[:, :, :, None, :]), axis=-1, keepdims=True)
        return self._bi_ang * ops.exp(-d2 * self._inv_2r2) * nb[..., 3:4] * mask[:, :, :, None, :]

    def call(self, inputs):
        unary, points = inputs
        bi_w = self.bilateral_kernel(ops.cast(points, unary.dtype))
        ang_kernel = ops.convert_to_tensor(self._ang_kernel, dtype=unary.dtype)
        x = unary
        for _ in range(self.iterations):
            q = ops.softmax(x, axis=-1)
            ang = ops.depthwise_conv(q, ang_kernel, strides=1, padding="same")
            bi = ops.sum(bi_w * neighbours(q, self.size), axis=3)
            x = unary - ops.matmul(ang, self.ang_compat) - ops.matmul(bi, self.bi_compat)
        return x

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
