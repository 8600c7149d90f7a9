"""Keras 3 layers shared by the SqueezeSeg family: fire, fire-deconvolution, context aggregation, CRF."""

from __future__ import annotations

from squeezeseg.nn.fire import Fire

__all__ = ["Fire", "FireDeconv", "ContextAggregation", "RecurrentCRF"]


def __getattr__(name: str):
    # Lazy imports keep `from squeezeseg.nn import Fire` cheap and independent of the other layers.
    if name == "FireDeconv":
        from squeezeseg.nn.fire_deconv import FireDeconv

        return FireDeconv
    if name == "ContextAggregation":
        from squeezeseg.nn.context_aggregation import ContextAggregation

        return ContextAggregation
    if name == "RecurrentCRF":
        from squeezeseg.nn.crf import RecurrentCRF

        return RecurrentCRF
    raise AttributeError(name)
