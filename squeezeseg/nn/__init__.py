"""Keras 3 layers shared by the SqueezeSeg family: fire, fire-deconvolution, context aggregation,
recurrent CRF and the input normalisation. Importing this package registers them all with Keras, so
saved models reload with plain ``keras.saving.load_model``."""

from __future__ import annotations

from squeezeseg.nn.context_aggregation import ContextAggregation
from squeezeseg.nn.crf import RecurrentCRF
from squeezeseg.nn.fire import Fire
from squeezeseg.nn.fire_deconv import FireDeconv
from squeezeseg.nn.normalize import RangeNormalization

__all__ = ["Fire", "FireDeconv", "ContextAggregation", "RecurrentCRF", "RangeNormalization"]
