"""Context aggregation module (SqueezeSegV2): a 7x7 max-pooled view of the features gates the
features, so pixels whose neighbourhood is empty (LiDAR dropout) borrow context from further away."""

from __future__ import annotations

import keras
from keras import layers, ops

from squeezeseg.nn.xla import compiled, xla_enabled


def gate(x, squeeze_kernel, squeeze_bias, excite_kernel, excite_bias, *, pool_size: int):
    """``x * sigmoid(excite(relu(squeeze(maxpool(x)))))`` on plain tensors, so the memory-bound chain
    (two pooling passes, gating, product) can run as one XLA cluster."""
    pooled = ops.max_pool(ops.max_pool(x, (1, pool_size), strides=1, padding="same"),
                          (pool_size, 1), strides=1, padding="same")
    hidden = ops.relu(ops.conv(pooled, squeeze_kernel) + squeeze_bias)
    return x * ops.sigmoid(ops.conv(hidden, excite_kernel) + excite_bias)


@keras.saving.register_keras_serializable(package="squeezeseg")
class ContextAggregation(layers.Layer):
    """``x * sigmoid(conv1x1(relu(conv1x1(maxpool7x7(x)))))``, hidden width ``channels // reduction``."""

    def __init__(self, reduction: int = 16, pool_size: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)
        self.pool_size = int(pool_size)
        # a k x k max pool is a 1 x k pool followed by a k x 1 pool (2k instead of k^2 comparisons)
        self.pool_w = layers.MaxPooling2D((1, self.pool_size), strides=1, padding="same", name="pool_w")
        self.pool_h = layers.MaxPooling2D((self.pool_size, 1), strides=1, padding="same", name="pool_h")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.reduction)
        self.squeeze = layers.Conv2D(hidden, 1, activation="relu", name="squeeze")
        self.excite = layers.Conv2D(channels, 1, activation="sigmoid", name="excite")
        self.squeeze.build(tuple(input_shape))
        self.excite.build((*tuple(input_shape)[:-1], hidden))
        self.built = True

    def call(self, x):
        if xla_enabled():
            weights = (w.value for w in (self.squeeze.kernel, self.squeeze.bias, self.excite.kernel,
                                         self.excite.bias))
            return compiled(gate)(x, *weights, pool_size=self.pool_size)
        return x * self.excite(self.squeeze(self.pool_h(self.pool_w(x))))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction, "pool_size": self.pool_size}
