"""SqueezeSeg (Wu et al., ICRA 2018): SqueezeNet 1.1 encoder that downsamples width only, fire
deconvolutions with skip additions, dropout, conv14 and the recurrent CRF.

The builder also serves SqueezeSegV2 (:mod:`squeezeseg.models.squeezesegv2`), which switches on batch
norm, context aggregation and the mask input channel.
"""

from __future__ import annotations

import keras
from keras import layers

from squeezeseg.models.config import ModelConfig
from squeezeseg.nn import ContextAggregation, Fire, FireDeconv, RecurrentCRF
from squeezeseg.nn.fire import apply_seq, conv_bn_relu
from squeezeseg.nn.normalize import RangeNormalization

INPUT_CHANNELS = 6  # raw x, y, z, intensity, range, mask


def scaled(channels: int, multiplier: float) -> int:
    """Channel count times the width multiplier, at least 2."""
    return max(2, int(round(channels * multiplier)))


def build_segmentation_net(
    cfg: ModelConfig, batch_norm: bool, context_aggregation: bool, mask_channel: bool, name: str
) -> keras.Model:
    """The SqueezeSeg encoder/decoder; V1 and V2 differ only in the three switches."""
    s = lambda c: scaled(c, cfg.width_multiplier)  # noqa: E731
    bn = batch_norm
    raw = keras.Input((cfg.height, cfg.width, INPUT_CHANNELS), name="range_image")
    x = RangeNormalization(cfg.mean, cfg.std, append_mask=mask_channel,
                           model_config=cfg.to_dict(), use_intensity=cfg.use_intensity,
                           name="normalize")(raw)

    def cam(t, n):
        return ContextAggregation(name=f"cam{n}")(t) if context_aggregation else t

    def pool(t, n):
        return layers.MaxPooling2D(3, strides=(1, 2), padding="same", name=f"pool{n}")(t)

    conv1 = cam(apply_seq(conv_bn_relu(2 * s(32), 3, bn, "conv1", strides=(1, 2)), x), 1)
    conv1_skip = apply_seq(conv_bn_relu(2 * s(32), 1, bn, "conv1_skip"), x)
    f2 = cam(Fire(s(16), s(64), s(64), bn, name="fire2")(pool(conv1, 1)), 2)
    f3 = cam(Fire(s(16), s(64), s(64), bn, name="fire3")(f2), 3)
    f4 = Fire(s(32), s(128), s(128), bn, name="fire4")(pool(f3, 3))
    f5 = Fire(s(32), s(128), s(128), bn, name="fire5")(f4)
    f6 = Fire(s(48), s(192), s(192), bn, name="fire6")(pool(f5, 5))
    f7 = Fire(s(48), s(192), s(192), bn, name="fire7")(f6)
    f8 = Fire(s(64), s(256), s(256), bn, name="fire8")(f7)
    f9 = Fire(s(64), s(256), s(256), bn, name="fire9")(f8)
    f10 = layers.Add(name="fire10_fuse")([FireDeconv(s(64), s(128), s(128), 2, bn, name="fire10")(f9), f5])
    f11 = layers.Add(name="fire11_fuse")([FireDeconv(s(32), s(64), s(64), 2, bn, name="fire11")(f10), f3])
    f12 = layers.Add(name="fire12_fuse")([FireDeconv(s(16), s(32), s(32), 2, bn, name="fire12")(f11), conv1])
    f13 = layers.Add(name="fire13_fuse")(
        [FireDeconv(s(16), s(32), s(32), 2, bn, name="fire13")(f12), conv1_skip])
    drop = layers.Dropout(cfg.dropout, name="drop13")(f13)
    logits = layers.Conv2D(cfg.num_classes, 3, padding="same", name="conv14")(drop)
    if cfg.crf.enabled:
        points = layers.Concatenate(name="crf_points")([x[..., :3], raw[..., 5:6]])
        c = cfg.crf
        crf = RecurrentCRF(c.iterations, c.size, c.bilateral_theta_a, c.bilateral_theta_r,
                           c.bilateral_coef, c.angular_theta_a, c.angular_coef, name="crf")
        logits = crf([logits, points])
    out = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(raw, out, name=name)


def build_squeezeseg(cfg: ModelConfig) -> keras.Model:
    """SqueezeSeg V1: no batch norm, no context aggregation, x/y/z/intensity/range input."""
    return build_segmentation_net(cfg, batch_norm=False, context_aggregation=False, mask_channel=False,
                                  name=cfg.name)
