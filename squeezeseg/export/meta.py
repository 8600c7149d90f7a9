"""The model description embedded in every exported file (TFLite metadata entry, ONNX metadata_props):
kind ("squeezeseg" or "squeezedet"), the model config, and how the file was made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from squeezeseg.errors import InputError

META_KEY = "squeezeseg_model"
KINDS = ("squeezeseg", "squeezedet")


def keras_model_meta(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load a ``.keras`` segmentation or detection model; returns ``(keras model, meta dict)``.

    Segmentation models carry their config inside; SqueezeDet models keep it in the ``.json`` beside.
    Anything else is an InputError naming the file ("not one of ours").
    """
    from squeezeseg.models import load_keras_file

    path = Path(path)
    model = load_keras_file(path, "a Keras model file (.keras) to export")
    names = {layer.name for layer in model.layers}
    if "normalize" in names:
        from squeezeseg.models import check_model_matches_config, config_of

        cfg = config_of(model, path)
        check_model_matches_config(model, cfg, path)
        return model, {"kind": "squeezeseg", "config": cfg.to_dict()}
    if "conv_det" in names:
        from squeezeseg.detection.detect import read_model_meta

        return model, {"kind": "squeezedet", "config": read_model_meta(path).get("config", {})}
    raise InputError("not a SqueezeSeg or SqueezeDet model (no 'normalize' or 'conv_det' layer)", path)


def check_meta(meta: Any, source: str | Path) -> dict[str, Any]:
    """``meta`` if it is a description this package wrote, else InputError naming ``source``."""
    if (
        not isinstance(meta, dict)
        or meta.get("kind") not in KINDS
        or not isinstance(meta.get("config"), dict)
    ):
        raise InputError(
            "exported model carries no SqueezeSeg/SqueezeDet description (not exported by "
            "`squeezeseg export`)",
            source,
        )
    return meta


def encode(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode("utf-8")


def decode(data: bytes, source: str | Path) -> dict[str, Any]:
    try:
        return check_meta(json.loads(bytes(data).decode("utf-8")), source)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("damaged model description in the exported file", source) from None


def add_tflite_metadata(flatbuffer: bytes, meta: dict[str, Any]) -> bytes:
    """``flatbuffer`` with ``meta`` stored as the TFLite metadata entry ``META_KEY``."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buf = schema.BufferT()
    buf.data = list(encode(meta))
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = META_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != META_KEY.encode()] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(path: str | Path) -> dict[str, Any]:
    """The description stored by :func:`add_tflite_metadata` (reads the flatbuffer without TensorFlow)."""
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    data = path.read_bytes()
    try:
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ValueError("no TFL3 identifier")
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            m = model.Metadata(i)
            if m.Name() == META_KEY.encode():
                return decode(model.Buffers(m.Buffer()).DataAsNumpy().tobytes(), path)
    except InputError:
        raise
    except Exception:
        raise InputError("not a TFLite model file", path) from None
    return check_meta(None, path)
