"""SqueezeSegV2 (Wu et al., ICRA 2019): SqueezeSeg plus batch norm after every convolution, context
aggregation after conv1, fire2 and fire3, and the mask as an input channel (trained with focal loss)."""

from __future__ import annotations

import keras

from squeezeseg.models.config import ModelConfig
from squeezeseg.models.squeezeseg import build_segmentation_net


def build_squeezesegv2(cfg: ModelConfig) -> keras.Model:
    """SqueezeSegV2 from ``cfg`` (CRF on or off as configured)."""
    return build_segmentation_net(cfg, batch_norm=True, context_aggregation=True, mask_channel=True,
                                  name=cfg.name)
