"""Exported segmentation models (TFLite float32/INT8, ONNX) run through LiteRT/onnxruntime as drop-in
replacements for the Keras model; bad inputs are clear errors that leave no half-written file."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.errors import InputError

pytest.importorskip("ai_edge_litert")


@pytest.fixture(autouse=True)
def _no_model_cache(monkeypatch):
    """``infer`` (engine auto) would export a LiteRT copy of every test model into the user's cache:
    off here; tests/test_model_cache.py covers the copies."""
    monkeypatch.setenv("SQUEEZESEG_MODEL_CACHE", "0")


@pytest.fixture(scope="module")
def tiny_model(save_tiny_segmenter):
    """A tiny SqueezeSegV2 (64x64, CRF on) saved as .keras, and some synthetic inputs."""
    from squeezeseg.export.calibration import synthetic_inputs

    path, model, cfg = save_tiny_segmenter(0)
    inputs = np.stack(synthetic_inputs({"kind": "squeezeseg", "config": cfg.to_dict()}, 4, seed=100))
    return path, model, inputs


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    """float32 and INT8 TFLite and ONNX exports of the tiny model (INT8 calibrated on synthetic frames),
    the CRF run after the network (the default), and a float32 TFLite file with the CRF inside its
    graph (the form exported before, which must keep working)."""
    from squeezeseg.export.exporter import export_model

    path = tiny_model[0]
    out = tmp_path_factory.mktemp("exported")
    return {
        "float32": export_model(path, "float32", out / "m32.tflite"),
        "int8": export_model(path, "int8", out / "m8.tflite", calibration="synthetic", count=8),
        "onnx": export_model(path, "onnx", out / "m.onnx"),
        "graph32": export_model(path, "float32", out / "g32.tflite", crf="graph"),
    }


def keras_logits(model, inputs):
    return np.asarray(model(inputs, training=False))


@pytest.mark.parametrize("fmt,engine", [("float32", "tflite"), ("onnx", "onnx"), ("graph32", "tflite")])
def test_float_exports_match_keras(tiny_model, exported, fmt, engine):
    import squeezeseg

    _, model, inputs = tiny_model
    seg = squeezeseg.load_model(exported[fmt], engine=engine)
    assert seg.classes == ["unknown", "car", "pedestrian", "cyclist"]
    np.testing.assert_allclose(seg.logits(inputs), keras_logits(model, inputs), atol=2e-4, rtol=1e-3)
    keras_seg = squeezeseg.load_model(tiny_model[0])
    for img in inputs:
        np.testing.assert_array_equal(seg.predict_range_image(img[..., :5]),
                                      keras_seg.predict_range_image(img[..., :5]))


def test_int8_export_is_integer_and_close_to_float(tiny_model, exported):
    import squeezeseg
    from squeezeseg.export.graph import op_precisions

    _, model, inputs = tiny_model
    ops = op_precisions(exported["int8"])
    convs = [o for o in ops if o["op"] == "CONV_2D"]
    # every convolution is int8 but the last one, conv14, which writes the float logits; the CRF is
    # not in the graph but runs after it (squeezeseg.crf_kernel)
    assert sum(o["precision"] == "int8" for o in convs) >= 10
    assert [o["index"] for o in convs if o["precision"] != "int8"] == [ops[-1]["index"]]
    assert not {o["layer"] for o in ops} & {"crf", "crf_points"} and "EXP" not in {o["op"] for o in ops}
    graph_layers = {o["layer"] for o in op_precisions(exported["graph32"])}
    assert "crf" in graph_layers  # the older form has it inside
    # batch norm is folded before export, also after the fire-deconvolutions' sub-pixel reshape,
    # where the converter cannot fold it (it left a MUL and an ADD requantizing the upsampled tensor)
    deconv = {o["op"] for o in ops if o["layer"] in {"fire10", "fire11", "fire12", "fire13"}}
    assert deconv == {"CONV_2D", "RESHAPE", "CONCATENATION"}
    seg = squeezeseg.load_model(exported["int8"], engine="tflite")
    assert seg.predict_fn.crf is not None and seg.predict_fn.crf.iterations == 1
    q, f = seg.logits(inputs).ravel(), keras_logits(model, inputs).ravel()
    cos = float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f)))
    assert cos > 0.995  # input normalisation and CRF in float; 0.97 when they are quantized too
    # smaller than the float file even at this tiny size (config and CRF constants weigh the same)
    assert exported["int8"].stat().st_size < 0.85 * exported["float32"].stat().st_size


def test_predict_points_through_engine_matches_keras(tiny_model, exported, shared_data):
    import squeezeseg
    from squeezeseg.io import read_points

    pts = read_points(shared_data / "kitti_object" / "training" / "velodyne" / "000000.bin")
    keras_seg = squeezeseg.load_model(tiny_model[0])
    seg = squeezeseg.load_model(exported["float32"], engine="tflite")
    want = keras_seg.predict_points(pts, full_circle=False)
    got = seg.predict_points(pts, full_circle=False)
    assert got.shape == (len(pts),)
    assert (got == want).mean() > 0.999


@pytest.mark.slow
def test_int8_io_model_takes_float_arrays(tiny_model, tmp_path):
    from squeezeseg.export.exporter import export_model
    from squeezeseg.runtime import TFLiteRunner

    out = export_model(tiny_model[0], "int8", tmp_path / "io8.tflite", calibration="synthetic", count=4,
                       int8_io=True)
    runner = TFLiteRunner(out, threads=1)
    assert runner.input["dtype"] == np.int8 and runner.output["dtype"] == np.int8
    _, model, inputs = tiny_model
    q, f = runner(inputs).ravel(), keras_logits(model, inputs).ravel()
    assert float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f))) > 0.95


def test_quantize_all_quantizes_the_network_and_refuses_a_crf_in_the_graph(tiny_model, tmp_path):
    from squeezeseg.cli import main
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.graph import op_precisions
    from squeezeseg.runtime import TFLiteRunner

    out = export_model(tiny_model[0], "int8", tmp_path / "all8.tflite", calibration="synthetic", count=4,
                       quantize_all=True)
    ops = op_precisions(out)
    assert {o["precision"] for o in ops if o["op"] == "CONV_2D"} == {"int8"}
    assert {o["precision"] for o in ops if o["layer"] == "normalize"} == {"int8"}  # quantized too
    _, model, inputs = tiny_model
    q, f = TFLiteRunner(out, threads=1)(inputs).ravel(), keras_logits(model, inputs).ravel()
    assert float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f))) > 0.95  # runs, unlike an int8 CRF
    with pytest.raises(InputError, match="cannot quantize a CRF inside the graph"):
        export_model(tiny_model[0], "int8", tmp_path / "g8.tflite", calibration="synthetic", count=4,
                     quantize_all=True, crf="graph")
    for flag in ("--quantize-all", "--int8-io"):
        rc = main(["export", str(tiny_model[0]), "--out", str(tmp_path / "cli.tflite"), "--calibration",
                   "synthetic", "--count", "4", "--crf", "graph", flag])
        assert rc == 2
    assert not (tmp_path / "g8.tflite").exists() and not (tmp_path / "cli.tflite").exists()


def test_keep_float_runs_the_named_layers_in_float(tiny_model, tmp_path):
    from squeezeseg.cli import main
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.graph import op_precisions
    from squeezeseg.runtime import TFLiteRunner

    rc = main(["export", str(tiny_model[0]), "--out", str(tmp_path / "mixed.tflite"), "--calibration",
               "synthetic", "--count", "4", "--keep-float", "fire6", "fire7"])
    assert rc == 0
    ops = op_precisions(tmp_path / "mixed.tflite")
    kept = {o["precision"] for o in ops if o["layer"] in ("fire6", "fire7") and o["op"] == "CONV_2D"}
    others = {o["precision"] for o in ops if o["layer"] in ("fire4", "fire5") and o["op"] == "CONV_2D"}
    assert kept == {"float32"} and others == {"int8"}
    _, model, inputs = tiny_model
    q = TFLiteRunner(tmp_path / "mixed.tflite", threads=1)(inputs).ravel()
    f = keras_logits(model, inputs).ravel()
    assert float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f))) > 0.95
    with pytest.raises(InputError, match="no layer named fire99.*fire6"):
        export_model(tiny_model[0], "int8", tmp_path / "bad.tflite", calibration="synthetic", count=4,
                     keep_float=["fire99"])
    with pytest.raises(InputError, match="INT8 exports only"):
        export_model(tiny_model[0], "float32", tmp_path / "bad.tflite", keep_float=["fire6"])
    rc = main(["export", str(tiny_model[0]), "--out", str(tmp_path / "bad.tflite"), "--calibration",
               "synthetic", "--count", "4", "--keep-float", "fire6", "--int8-io"])
    assert rc == 2 and not (tmp_path / "bad.tflite").exists()


def no_leftovers(folder, keep=()):
    """Exported or temporary files left in ``folder`` (besides ``keep``)."""
    return [p.name for p in folder.iterdir()
            if p.name not in keep and (p.name.startswith(".") or p.suffix in (".tflite", ".onnx", ".tmp"))]


def test_empty_or_wrong_calibration_is_an_error_and_writes_nothing(tiny_model, tmp_path):
    from squeezeseg.export.exporter import export_model

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no scans or range images found"):
        export_model(tiny_model[0], "int8", tmp_path / "out" / "m.tflite", calibration=empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "000000.npy", np.zeros((32, 512, 6), np.float32))
    with pytest.raises(InputError, match=r"000000\.npy.*shape \(32, 512, 6\)"):
        export_model(tiny_model[0], "int8", tmp_path / "out" / "m.tflite", calibration=bad)
    with pytest.raises(InputError, match="needs calibration data"):
        export_model(tiny_model[0], "int8", tmp_path / "out" / "m.tflite")
    out = tmp_path / "out"
    assert not out.exists() or no_leftovers(out) == []


def test_foreign_files_are_rejected(tmp_path, exported):
    import keras

    import squeezeseg
    from squeezeseg.export.exporter import export_model

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(InputError, match="not a SqueezeSeg or SqueezeDet model"):
        export_model(tmp_path / "plain.keras", "float32", tmp_path / "x.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a TFLite model"):
        squeezeseg.load_model(junk, engine="tflite")
    junk_onnx = tmp_path / "junk.onnx"
    junk_onnx.write_bytes(b"hello")
    with pytest.raises(InputError, match="onnxruntime cannot load"):
        squeezeseg.load_model(junk_onnx, engine="onnx")
    with pytest.raises(InputError, match="not a TFLite model"):  # an ONNX file handed to LiteRT
        squeezeseg.load_model(exported["onnx"], engine="tflite")
    assert no_leftovers(tmp_path, keep=("junk.tflite", "junk.onnx")) == []


def test_missing_engine_package_is_a_clear_error(exported, monkeypatch):
    import sys

    import squeezeseg

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(InputError, match="needs the ai-edge-litert package"):
        squeezeseg.load_model(exported["int8"], engine="tflite")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(InputError, match="needs the onnxruntime package"):
        squeezeseg.load_model(exported["onnx"], engine="onnx")


def test_infer_cli_runs_the_exported_model(tiny_model, exported, tmp_path):
    from squeezeseg.cli import main
    from squeezeseg.io import read_semantickitti_labels, write_points

    img = tiny_model[2][0]
    valid = img[..., 5] > 0
    write_points(tmp_path / "scan.bin", img[valid][:, :4])
    args = ["infer", str(tmp_path / "scan.bin"), "--no-png", "--no-progress"]
    assert main([*args, "--model", str(tiny_model[0]), "--out", str(tmp_path / "k")]) == 0
    tfl = ["--model", str(exported["float32"]), "--engine", "tflite"]
    assert main([*args, *tfl, "--out", str(tmp_path / "t")]) == 0
    want = read_semantickitti_labels(tmp_path / "k" / "scan.label")[0]
    got = read_semantickitti_labels(tmp_path / "t" / "scan.label")[0]
    assert len(got) == valid.sum() and (got == want).mean() > 0.999
    bad = [*args, "--model", str(exported["float32"]), "--engine", "onnx", "--out", str(tmp_path / "x")]
    assert main(bad) == 2  # a TFLite file handed to onnxruntime is a clear error


def test_quantize_report_lists_ops_layers_and_task_metrics(tiny_model, exported, tmp_path):
    import json

    from squeezeseg.cli import main
    from squeezeseg.data.synthetic import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "sim", frames=3, height=64, width=64, val=2, seed=50)
    out = tmp_path / "report"
    rc = main(["quantize-report", str(tiny_model[0]), str(exported["int8"]), "--data", str(data),
               "--out", str(out), "--frames", "2", "--runs", "2", "--threads", "1"])
    assert rc == 0
    rep = json.loads((out / "parity.json").read_text())
    precision = {(o["op"], o["precision"]) for o in rep["ops"]}
    assert ("CONV_2D", "int8") in precision and "EXP" not in rep["float_ops"]  # the CRF runs after it
    float_convs = [o for o in rep["ops"] if o["op"] == "CONV_2D" and o["precision"] == "float32"]
    assert len(float_convs) == 1  # conv14, writing the float logits; the network's others are int8
    layers = {r["layer"]: r for r in rep["layers"]}
    assert {"conv1_relu", "fire2", "fire9", "fire13_fuse"} <= set(layers)
    # the float logits: TF 2.21's converter names the output tensor after conv14, 2.20's plain
    # "Identity", which the report gives to the model's output layer (logits)
    assert {"conv14", "logits"} & set(layers)
    assert layers["fire2"]["cosine"] > 0.99 and layers["fire2"]["sqnr_db"] > 15
    assert set(rep["task"]) == {"keras", "tflite"}
    assert set(rep["task"]["keras"]["iou"]) == {"unknown", "car", "pedestrian", "cyclist"}
    assert rep["size_bytes"]["tflite"] == exported["int8"].stat().st_size
    md = (out / "parity.md").read_text()
    assert "| CONV_2D | int8 |" in md and "## Per-layer agreement" in md
    assert rep["quantization"]["ranges"] == "percentile" and "crf" in rep["quantization"]["float_layers"]
    assert "INT8 activation ranges: percentile" in md
    assert main(["quantize-report", str(tiny_model[0]), str(tiny_model[0]), "--out", str(out)]) == 2
