"""scripts/bench_onnx_int8.py: ORT static INT8 of an ONNX file keeps the runners' metadata and runs
integer convolutions that track the float model (a tiny hand-built graph, no TensorFlow)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from bench_onnx_int8 import op_census, op_time_ms, quantize_onnx  # noqa: E402


def _conv_model(path: Path) -> None:
    """Conv (3 -> 8 channels, 3x3) + Relu on (1, 3, 16, 16), with a metadata entry."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(8, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["out"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 16, 16])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entry = model.metadata_props.add()
    entry.key, entry.value = "squeezeseg", '{"kind": "test"}'
    onnx.save(model, str(path))


@pytest.mark.parametrize("fmt, ops", [("qoperator", {"QLinearConv"}), ("qdq", {"QuantizeLinear", "Conv"})])
def test_quantize_keeps_metadata_and_tracks_float(tmp_path, fmt, ops):
    src = tmp_path / "f.onnx"
    _conv_model(src)
    frames = list(np.random.default_rng(1).random((8, 3, 16, 16), dtype=np.float32))
    out = quantize_onnx(src, tmp_path / f"q.{fmt}.onnx", frames, fmt)
    assert {p.key: p.value for p in onnx.load(str(out)).metadata_props} == {"squeezeseg": '{"kind": "test"}'}
    assert ops <= set(op_census(out)) and ("Conv" in ops) == ("Conv" in op_census(out))
    assert not list(tmp_path.glob("*.tmp.onnx")) and not list(tmp_path.glob("*.pre.onnx"))
    x = frames[0][None]
    ref, got = (ort.InferenceSession(str(p)).run(None, {"input": x})[0] for p in (src, out))
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()  # int8 steps, not another model
    assert "QLinearConv" in op_time_ms(out, x, threads=1, runs=2)  # ORT fuses QDQ pairs at load


def test_unknown_format_is_refused(tmp_path):
    src = tmp_path / "f.onnx"
    _conv_model(src)
    with pytest.raises(ValueError, match="unknown quantization format"):
        quantize_onnx(src, tmp_path / "q.onnx", [], "int4")
