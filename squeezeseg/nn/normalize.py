"""Input layer of the segmentation models: normalise the raw range image with the training-set
statistics stored in the model, zero empty pixels, optionally append the mask as a channel, and
optionally ignore the intensity (``use_intensity=False``: it is read as 0 whatever the sensor says).

Keeping the statistics inside the saved model means inference can never use different numbers than
training did, and a horizontal flip of the raw input (y -> -y) stays correct by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="squeezeseg")
class RangeNormalization(layers.Layer):
    """(B, H, W, 6) raw x, y, z, intensity, range, mask -> normalised (B, H, W, 5 [+ mask]).

    ``model_config`` is carried along unchanged so a saved model describes itself (classes, sensor).
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        append_mask: bool = True,
        model_config: dict[str, Any] | None = None,
        use_intensity: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self.append_mask = bool(append_mask)
        self.model_config = model_config or {}
        self.use_intensity = bool(use_intensity)
        self._mean = np.asarray(self.mean, np.float32)
        self._inv_std = (1.0 / np.asarray(self.std, np.float32)).astype(np.float32)
        # Without intensity the channel holds what a raw intensity of 0 normalises to, on valid
        # pixels: the same input a model trained with every frame's intensity zeroed saw.
        self._keep = np.array([1, 1, 1, 1 if self.use_intensity else 0, 1], np.float32)

    def call(self, x):
        mask = x[..., 5:6]
        raw = x[..., :5] if self.use_intensity else x[..., :5] * self._keep
        norm = (raw - self._mean) * self._inv_std * mask
        return ops.concatenate([norm, mask], axis=-1) if self.append_mask else norm

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], 6 if self.append_mask else 5)

    def get_config(self):
        return {
            **super().get_config(),
            "mean": self.mean,
            "std": self.std,
            "append_mask": self.append_mask,
            "model_config": self.model_config,
            "use_intensity": self.use_intensity,
        }
