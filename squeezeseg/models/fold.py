"""Batch-norm folding for inference: every convolution followed by batch norm becomes one
convolution with a bias, so SqueezeSegV2 runs as fast as a network without batch norm."""

from __future__ import annotations

import numpy as np
from keras import layers

from squeezeseg.models.config import ModelConfig


def _fold_pair(conv, bn) -> list[np.ndarray]:
    """Folded (kernel, bias) of ``conv`` (no bias) followed by inference-mode ``bn``."""
    gamma, beta, mean, var = (np.asarray(w) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel = np.asarray(conv.get_weights()[0])
    axis = 2 if isinstance(conv, layers.Conv2DTranspose) else 3  # output-channel axis
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    return [kernel * scale.reshape(shape), beta - mean * scale]


def _copy_seq(src: list, dst: list) -> None:
    """Copy a [conv, bn, relu] sub-layer list into a [conv (with bias), relu] one."""
    convs = [s for s in src if isinstance(s, layers.Conv2D | layers.Conv2DTranspose)]
    bns = [s for s in src if isinstance(s, layers.BatchNormalization)]
    target = [d for d in dst if isinstance(d, layers.Conv2D | layers.Conv2DTranspose)]
    for conv, bn, out in zip(convs, bns, target):
        out.set_weights(_fold_pair(conv, bn))


def fold_batch_norm(model, cfg: ModelConfig):
    """A copy of SqueezeSegV2 ``model`` with batch norm folded into the convolutions (same outputs)."""
    from squeezeseg.models.squeezeseg import build_segmentation_net
    from squeezeseg.nn import Fire, FireDeconv

    if not cfg.batch_norm:
        return model
    folded = build_segmentation_net(cfg, batch_norm=False, context_aggregation=True, mask_channel=True,
                                    name=f"{cfg.name}_folded")
    names = {x.name for x in model.layers}
    for layer in folded.layers:
        if not layer.weights:
            continue
        if isinstance(layer, Fire | FireDeconv):
            src = model.get_layer(layer.name)
            for part in ("sq", "up", "e1", "e3"):
                if hasattr(layer, part):
                    _copy_seq(getattr(src, part), getattr(layer, part))
        elif layer.name.endswith("_conv") and layer.name.replace("_conv", "_bn") in names:
            layer.set_weights(_fold_pair(model.get_layer(layer.name),
                                         model.get_layer(layer.name.replace("_conv", "_bn"))))
        else:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return folded
