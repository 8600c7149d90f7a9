"""ONNX export through tf2onnx (``convert.from_function`` on the traced Keras model, since tf2onnx's
Keras path predates Keras 3); the model description goes into the ONNX ``metadata_props``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from squeezeseg.atomic import atomic_write_bytes
from squeezeseg.errors import InputError
from squeezeseg.export.meta import META_KEY, encode
from squeezeseg.nn.xla import xla_fusion

OPSET = 17


def convert_onnx(model, opset: int = OPSET):
    """The ``onnx.ModelProto`` of a Keras model (batch 1, float input named "input")."""
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda x: model(x, training=False))
    spec = (tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="input"),)
    try:
        with xla_fusion(False):  # tf2onnx does not inline XLA-compiled functions
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset)
    except Exception as exc:  # tf2onnx raises ValueError/RuntimeError naming the op it cannot map
        raise InputError(f"ONNX conversion failed: {str(exc).strip().splitlines()[-1]}") from None
    return proto


def export_onnx(model, out: str | Path, meta: dict[str, Any], opset: int = OPSET) -> Path:
    """Convert and write ``out`` atomically with ``meta`` in its metadata; returns the path."""
    proto = convert_onnx(model, opset)
    entry = proto.metadata_props.add()
    entry.key = META_KEY
    entry.value = encode({**meta, "format": "onnx", "opset": opset}).decode("utf-8")
    out = Path(out)
    atomic_write_bytes(out, proto.SerializeToString())
    return out
