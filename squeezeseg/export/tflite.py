"""TFLite conversion: float32, float16, dynamic-range and full-integer INT8 (per-channel weights,
representative dataset, float or int8 input/output).

Ops without an integer kernel stay in float (TFLITE_BUILTINS next to TFLITE_BUILTINS_INT8), with
quantize/dequantize around them; :mod:`squeezeseg.export.graph` lists every op and its precision.
The converter works on a concrete function with a fixed batch of 1, the size the engines run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from squeezeseg.atomic import atomic_write_bytes
from squeezeseg.errors import InputError
from squeezeseg.nn.xla import xla_fusion

TFLITE_MODES = ("float32", "float16", "dynamic", "int8")


def concrete_function(model):
    """``model(x, training=False)`` traced for one input of the model's shape (batch 1), as plain ops:
    with XLA fusion off, since the converter's per-op quantization and float deny-list need the ops
    and layer names that a compiled function would hide."""
    import tensorflow as tf

    shape = (1, *model.input_shape[1:])
    fn = tf.function(
        lambda x: model(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32, name="input")]
    )
    with xla_fusion(False):
        return fn.get_concrete_function()


def frozen_function(model):
    """:func:`concrete_function` with the weights folded in as constants (Keras 3 variables are not
    tracked by the TFLite converter, which would otherwise emit READ_VARIABLE ops)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(concrete_function(model))


#: Layers the INT8 export keeps in float by default: the input normalisation (per-tensor int8 of raw
#: x, y, z, intensity, range would leave intensity a single step) and the recurrent CRF (its bilateral
#: kernel resolves centimetres of normalised distance).
FLOAT_LAYERS = ("normalize", "crf_points", "crf", "logits")


def convert_tflite(
    model,
    mode: str = "int8",
    representative: Callable[[], Iterable[np.ndarray]] | None = None,
    int8_io: bool = False,
    float_layers: Sequence[str] = FLOAT_LAYERS,
    range_method: str = "percentile",
) -> bytes:
    """The TFLite flatbuffer of a Keras model.

    ``representative`` yields (1, ...) float32 inputs for INT8 calibration. ``float_layers`` (Keras
    layer names) stay in float in an INT8 model with a float interface; ops without integer kernels
    stay in float anyway. ``int8_io`` makes the whole model integer, input and output tensors included
    (scale and zero point in the file), for integer-only accelerators. ``range_method`` sets the
    activation ranges from the calibration frames (:mod:`squeezeseg.export.ranges`: "percentile"
    (99.99th, the default), "mse" or TFLite's own "minmax").
    """
    import tensorflow as tf

    if mode not in TFLITE_MODES:
        raise InputError(f"unknown TFLite mode '{mode}' (choose from {', '.join(TFLITE_MODES)})")
    conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen_function(model)])
    if mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if representative is None:
            raise InputError("INT8 export needs calibration data (--calibration DIR or 'synthetic')")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([np.asarray(x, np.float32)] for x in representative())
        ops = tf.lite.OpsSet
        conv.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8, ops.TFLITE_BUILTINS]
        layers = () if int8_io else tuple(float_layers)
        return _run(lambda: calibrated_int8(conv, layers, range_method, int8_io), mode)
    return _run(lambda: bytes(conv.convert()), mode)


def _run(convert: Callable[[], bytes], mode: str) -> bytes:
    try:
        return convert()
    except InputError:
        raise
    except Exception as exc:  # the converter raises ConverterError / RuntimeError with the MLIR log
        raise InputError(f"TFLite conversion ({mode}) failed: {str(exc).strip().splitlines()[-1]}") from None


def calibrated_int8(conv, float_layers: Sequence[str], range_method: str, int8_io: bool = False) -> bytes:
    """INT8 in three steps: calibrate (TFLite records every activation's min/max), replace those
    ranges by ``range_method`` ones (:func:`squeezeseg.export.ranges.choose_ranges`), quantize.

    The ops of ``float_layers`` (and every op reading the raw input) are deny-listed, so they stay in
    float: what TensorFlow's public ``QuantizationDebugger`` does for selective quantization, without
    its second calibration pass. ``int8_io`` quantizes everything, the input and output included.
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as tfl_convert

    from squeezeseg.export.graph import float_layer_nodes, model_input_index
    from squeezeseg.export.ranges import choose_ranges, write_ranges

    frames = conv.representative_dataset
    conv._experimental_calibrate_only = True
    calibrated = conv.convert()
    ranges = choose_ranges(calibrated, frames, range_method, skip=[model_input_index(calibrated)])
    calibrated = write_ranges(calibrated, ranges)
    io_type = tf.int8 if int8_io else tf.float32
    return bytes(
        tfl_convert.mlir_quantize(
            calibrated,
            disable_per_channel=False,
            input_data_type=io_type,
            output_data_type=io_type,
            denylisted_nodes=float_layer_nodes(calibrated, float_layers) if float_layers else None,
        )
    )


def export_tflite(
    model,
    out: str | Path,
    meta: dict[str, Any],
    mode: str = "int8",
    representative: Callable[[], Iterable[np.ndarray]] | None = None,
    int8_io: bool = False,
    float_layers: Sequence[str] = FLOAT_LAYERS,
    range_method: str = "percentile",
) -> Path:
    """Convert and write ``out`` atomically with ``meta`` embedded; returns the path."""
    from squeezeseg.export.meta import add_tflite_metadata

    data = convert_tflite(model, mode, representative, int8_io, float_layers, range_method)
    meta = {
        **meta,
        "format": "tflite",
        "mode": mode,
        "int8_io": bool(int8_io and mode == "int8"),
        "float_layers": list(float_layers) if mode == "int8" and not int8_io else [],
        "ranges": range_method if mode == "int8" else None,
    }
    out = Path(out)
    atomic_write_bytes(out, add_tflite_metadata(data, meta))
    return out
