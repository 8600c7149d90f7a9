"""What an exported graph holds: its ops with their precision, the Keras layer each belongs to, the
model input; read with LiteRT (TFLite) or onnx. Used by the exporter (which ops stay float) and by
the parity report, so neither imports the other."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def interpreter(model: str | Path | bytes, preserve: bool = False):
    """A LiteRT interpreter without XNNPACK (which cannot keep intermediate INT8 tensors)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    it = Interpreter(
        **kw,
        experimental_preserve_all_tensors=preserve,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    return it


def op_precisions(model: str | Path | bytes) -> list[dict[str, Any]]:
    """Every op of a TFLite model in execution order: name, input and output dtypes, precision
    ("int8", "float32", ... or "float32->int8" for conversions) and the Keras layer it belongs to."""
    it = interpreter(model)
    tensors = it.get_tensor_details()
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in tensors}
    names = {t["index"]: t["name"] for t in tensors}
    ops = []
    for op in it._get_ops_details():  # the public API has no op list; this is what the analyzer reads
        ins = [dtypes.get(i, "?") for i in op["inputs"] if i >= 0]
        outs = [dtypes.get(i, "?") for i in op["outputs"] if i >= 0]
        name = op["op_name"]
        data_in = ins[1] if name == "TRANSPOSE_CONV" and len(ins) > 2 else (ins[0] if ins else "-")
        prec = f"{data_in}->{outs[0]}" if name in ("QUANTIZE", "DEQUANTIZE") else (outs[0] if outs else "-")
        first = next((i for i in op["outputs"] if i >= 0), None)
        ops.append({"index": op["index"], "op": name, "inputs": ins, "outputs": outs, "precision": prec,
                    "layer": layer_of(names.get(first, ""))})
    return ops


def onnx_ops(path: str | Path) -> list[dict[str, Any]]:
    """Every node of an ONNX graph (tf2onnx exports run in float32)."""
    import onnx

    graph = onnx.load(str(path)).graph
    return [
        {"index": i, "op": n.op_type, "inputs": [], "outputs": [], "precision": "float32"}
        for i, n in enumerate(graph.node)
    ]


def summarize_ops(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{op, precision, count}]`` sorted by op name."""
    counts: dict[tuple[str, str], int] = {}
    for o in ops:
        key = (o["op"], o["precision"])
        counts[key] = counts.get(key, 0) + 1
    return [{"op": k[0], "precision": k[1], "count": v} for k, v in sorted(counts.items())]


def layer_of(tensor_name: str) -> str | None:
    """Keras layer of a TFLite tensor name ("model_1/fire2_1/concat" -> "fire2")."""
    parts = tensor_name.split(";")[0].split("/")
    return re.sub(r"_\d+$", "", parts[1]) if len(parts) > 2 else None


def model_input_index(model: bytes) -> int:
    """Tensor index of the (single) input of a TFLite model."""
    return int(interpreter(model).get_input_details()[0]["index"])


def float_layer_nodes(model: bytes, layers: Sequence[str]) -> list[str]:
    """Output tensor names of the ops of ``layers``, of every op that reads the model input, and of the
    glue ops outside any layer (e.g. the slice of normalised x, y, z that feeds the CRF)."""
    it = interpreter(model)
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    inp = it.get_input_details()[0]["index"]
    nodes = []
    for op in it._get_ops_details():
        outs = [names[i] for i in op["outputs"] if i >= 0]
        if inp in op["inputs"] or any(layer_of(n) in layers or layer_of(n) is None for n in outs):
            nodes += outs
    return nodes
