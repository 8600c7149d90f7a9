"""Fire-deconvolution module (SqueezeSeg): squeeze 1x1, transposed 1x4 convolution that doubles the
width only (LiDAR range images are short and wide), then expand 1x1 and 3x3 concatenated.

The transposed convolution runs in its sub-pixel form: one regular 1x3 convolution with ``factor``
times the channels, then a reshape that interleaves them along the width. The values are those of
the transposed convolution (its weights, saved as before), and TFLite's INT8 kernels run the regular
convolution 1.5-2.5x faster than TRANSPOSE_CONV (TensorFlow runs both at the same speed).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from squeezeseg.nn.fire import apply_seq, build_seq, conv_bn_relu


def subpixel_kernel(kernel, factor: int):
    """(1, 3, in, factor * out) kernel of the 'same' convolution whose output, reshaped to ``factor``
    times the width, equals the 'same' transposed convolution with ``kernel`` (1, 2 * factor, out,
    in) and stride (1, factor): output column ``factor * j + r`` reads input columns j-1, j, j+1
    through taps ``k = factor * (j - i) + r + factor // 2`` of the transposed kernel."""
    taps = np.zeros((3, 2 * factor, factor), np.float32)
    for t in range(3):
        for r in range(factor):
            k = factor * (1 - t) + r + factor // 2
            if 0 <= k < 2 * factor:
                taps[t, k, r] = 1.0
    sub = ops.einsum("tkr,koi->tiro", taps, kernel[0])
    return ops.reshape(sub, (1, 3, kernel.shape[3], factor * kernel.shape[2]))


@keras.saving.register_keras_serializable(package="squeezeseg")
class FireDeconv(layers.Layer):
    """Fire module with a ``(1, 2*factor)`` transposed convolution, stride ``(1, factor)``, after the squeeze.

    Output: height unchanged, width times ``factor``, ``expand1x1 + expand3x3`` channels.
    """

    def __init__(
        self,
        squeeze: int,
        expand1x1: int,
        expand3x3: int,
        factor: int = 2,
        batch_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.squeeze = int(squeeze)
        self.expand1x1 = int(expand1x1)
        self.expand3x3 = int(expand3x3)
        self.factor = int(factor)
        self.batch_norm = bool(batch_norm)
        self.sq = conv_bn_relu(self.squeeze, 1, self.batch_norm, "squeeze1x1")
        deconv = layers.Conv2DTranspose(
            self.squeeze,
            (1, 2 * self.factor),
            strides=(1, self.factor),
            padding="same",
            use_bias=not self.batch_norm,
            name="deconv_conv",
        )
        self.up = [deconv] + ([layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="deconv_bn")]
                              if self.batch_norm else []) + [layers.ReLU(name="deconv_relu")]
        self.e1 = conv_bn_relu(self.expand1x1, 1, self.batch_norm, "expand1x1")
        self.e3 = conv_bn_relu(self.expand3x3, 3, self.batch_norm, "expand3x3")

    def build(self, input_shape):
        s = build_seq(self.sq, input_shape)
        u = build_seq(self.up, s)
        build_seq(self.e1, u)
        build_seq(self.e3, u)
        self.built = True

    def upsample(self, x):
        """The transposed convolution of ``self.up[0]`` in its sub-pixel form (see the module doc)."""
        deconv = self.up[0]
        y = ops.conv(x, subpixel_kernel(deconv.kernel, self.factor), padding="same")
        if deconv.use_bias:
            y = y + ops.tile(deconv.bias, [self.factor])
        h, w = ops.shape(x)[1], ops.shape(x)[2]
        return ops.reshape(y, (-1, h, w * self.factor, deconv.filters))

    def call(self, x, training=None):
        u = apply_seq(self.up[1:], self.upsample(apply_seq(self.sq, x, training)), training)
        return keras.ops.concatenate([apply_seq(self.e1, u, training), apply_seq(self.e3, u, training)], -1)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = tuple(input_shape)
        return (b, h, None if w is None else w * self.factor, self.expand1x1 + self.expand3x3)

    def get_config(self):
        return {
            **super().get_config(),
            "squeeze": self.squeeze,
            "expand1x1": self.expand1x1,
            "expand3x3": self.expand3x3,
            "factor": self.factor,
            "batch_norm": self.batch_norm,
        }
