"""Fire module (SqueezeNet): squeeze 1x1, then expand 1x1 and 3x3 concatenated.

Shared by SqueezeSeg, SqueezeSegV2 and SqueezeDet. With ``batch_norm=True`` (SqueezeSegV2) every
convolution is followed by batch normalisation before its ReLU, and the convolutions carry no bias.
"""

from __future__ import annotations

import keras
from keras import layers


def conv_bn_relu(
    filters: int,
    kernel_size: int | tuple[int, int],
    batch_norm: bool,
    name: str,
    strides: int | tuple[int, int] = 1,
    relu: bool = True,
) -> list[layers.Layer]:
    """The sub-layers of one convolution [+ batch norm] [+ ReLU], as a list applied in order."""
    out: list[layers.Layer] = [
        layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer="glorot_uniform",
            name=f"{name}_conv",
        )
    ]
    if batch_norm:
        out.append(layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name=f"{name}_bn"))
    if relu:
        out.append(layers.ReLU(name=f"{name}_relu"))
    return out


def apply_seq(seq: list[layers.Layer], x, training=None):
    """Apply a list of sub-layers in order (batch norm gets the ``training`` flag)."""
    for layer in seq:
        x = layer(x, training=training) if isinstance(layer, layers.BatchNormalization) else layer(x)
    return x


def build_seq(seq: list[layers.Layer], input_shape) -> tuple:
    """Build each sub-layer in order so weights exist before the first call (needed to reload)."""
    shape = tuple(input_shape)
    for layer in seq:
        layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


@keras.saving.register_keras_serializable(package="squeezeseg")
class Fire(layers.Layer):
    """Fire module: ``squeeze`` 1x1 filters, then ``expand1x1`` 1x1 and ``expand3x3`` 3x3 filters.

    Output channels: ``expand1x1 + expand3x3``; spatial size unchanged.
    """

    def __init__(self, squeeze: int, expand1x1: int, expand3x3: int, batch_norm: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.squeeze = int(squeeze)
        self.expand1x1 = int(expand1x1)
        self.expand3x3 = int(expand3x3)
        self.batch_norm = bool(batch_norm)
        self.sq = conv_bn_relu(self.squeeze, 1, self.batch_norm, "squeeze1x1")
        self.e1 = conv_bn_relu(self.expand1x1, 1, self.batch_norm, "expand1x1")
        self.e3 = conv_bn_relu(self.expand3x3, 3, self.batch_norm, "expand3x3")

    def build(self, input_shape):
        s = build_seq(self.sq, input_shape)
        build_seq(self.e1, s)
        build_seq(self.e3, s)
        self.built = True

    def call(self, x, training=None):
        s = apply_seq(self.sq, x, training)
        return keras.ops.concatenate([apply_seq(self.e1, s, training), apply_seq(self.e3, s, training)], -1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.expand1x1 + self.expand3x3)

    def get_config(self):
        return {
            **super().get_config(),
            "squeeze": self.squeeze,
            "expand1x1": self.expand1x1,
            "expand3x3": self.expand3x3,
            "batch_norm": self.batch_norm,
        }
