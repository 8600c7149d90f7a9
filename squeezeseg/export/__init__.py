"""Export of the SqueezeSeg and SqueezeDet networks (TFLite float32/float16/dynamic-range/INT8, ONNX,
SavedModel), the float-vs-quantized parity report and the low-precision study; the engines that run
exported files (LiteRT, onnxruntime) are in :mod:`squeezeseg.runtime`.

Every exported file carries the model's config (classes, input size, normalisation, anchors) so the
engines give the same answers as the Keras model without any side file.
"""

from __future__ import annotations

FORMATS = ("float32", "float16", "dynamic", "int8", "onnx", "savedmodel")
