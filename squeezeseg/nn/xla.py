"""XLA fusion for the memory-bound parts of the networks (the CRF's mean field, context aggregation).

They are long chains of small elementwise ops on CPU; compiled as one XLA cluster they fuse into a
few kernels. Convolutions stay outside, on oneDNN, whose CPU convolutions beat XLA's. Converters
that do not inline compiled functions (tf2onnx) trace the model inside ``xla_fusion(False)``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import keras

_STATE = {"enabled": True}


@contextlib.contextmanager
def xla_fusion(enabled: bool) -> Iterator[None]:
    """XLA compilation of the fused parts on or off inside the block (on by default)."""
    previous = _STATE["enabled"]
    _STATE["enabled"] = bool(enabled)
    try:
        yield
    finally:
        _STATE["enabled"] = previous


def xla_enabled() -> bool:
    """Whether fused parts run XLA-compiled now (only on the TensorFlow backend)."""
    return _STATE["enabled"] and keras.backend.backend() == "tensorflow"


@functools.cache
def compiled(fn: Callable) -> Callable:
    """``fn`` as a ``tf.function(jit_compile=True)``, made once per function; it retraces per input
    shape and per value of its Python (non-tensor) arguments."""
    import tensorflow as tf

    return tf.function(fn, jit_compile=True, autograph=False)
