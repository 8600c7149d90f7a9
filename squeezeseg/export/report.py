"""Parity report of an exported model against its float Keras original: every op of the exported
model and the precision it runs in, per-layer agreement of activations (cosine similarity, RMSE,
signal-to-quantization-noise ratio), end-task metrics side by side (class IoU or detection AP), file
sizes and engine latencies. Written as JSON and Markdown.

Per-layer agreement compares the exported TFLite model with a float32 TFLite conversion of the same
Keras model (identical op and tensor names), tensor by tensor; the last tensor of each Keras layer
stands for that layer's output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from squeezeseg.atomic import atomic_write_text
from squeezeseg.errors import InputError
from squeezeseg.export.graph import interpreter, layer_of, onnx_ops, op_precisions, summarize_ops


def agreement(ref: np.ndarray, got: np.ndarray) -> dict[str, float]:
    """Cosine similarity, RMSE and SQNR (dB) of ``got`` against the float reference ``ref``."""
    r, g = ref.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    noise = float(np.sum((r - g) ** 2))
    signal = float(np.sum(r**2))
    denom = np.linalg.norm(r) * np.linalg.norm(g)
    return {
        "cosine": float(r @ g / denom) if denom > 0 else float(np.array_equal(r, g)),
        "rmse": float(np.sqrt(noise / max(len(r), 1))),
        "sqnr_db": float(10 * np.log10(signal / noise)) if noise > 0 and signal > 0 else float("inf"),
    }


def _all_tensors(it, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor (dequantized to float) after running ``x`` (1, ...) float through ``it``."""
    inp = it.get_input_details()[0]
    if inp["dtype"] != np.float32:
        s, z = inp["quantization"]
        x = np.clip(np.round(x / s + z), -128, 127).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    it.invoke()
    out = {}
    for t in it.get_tensor_details():
        try:
            v = it.get_tensor(t["index"])
        except ValueError:
            continue
        if v.dtype in (np.int8, np.uint8, np.int16) and t["quantization"][0] > 0:
            v = (v.astype(np.float32) - t["quantization"][1]) * t["quantization"][0]
        elif v.dtype != np.float32:
            continue
        out[t["name"]] = v
    return out


def _output_layer(keras_model) -> str:
    """Name of the Keras layer that writes the model's output: some converter versions name the output
    tensor plain "Identity", without the layer path that :func:`layer_of` reads."""
    history = getattr(keras_model.outputs[0], "_keras_history", None)
    return history[0].name if history else keras_model.layers[-1].name


def layer_agreement(keras_model, exported: str | Path, inputs: list[np.ndarray]) -> list[dict[str, Any]]:
    """Per Keras layer (in execution order): agreement of its output tensor over ``inputs``."""
    from squeezeseg.export.tflite import convert_tflite

    ref_it = interpreter(convert_tflite(keras_model, "float32"), preserve=True)
    q_it = interpreter(exported, preserve=True)
    refs: dict[str, list] = {}
    gots: dict[str, list] = {}
    for x in inputs:
        r, q = _all_tensors(ref_it, x[None]), _all_tensors(q_it, x[None])
        for name, v in q.items():
            if name in r and r[name].shape == v.shape:
                refs.setdefault(name, []).append(r[name])
                gots.setdefault(name, []).append(v)
    last: dict[str, str] = {}  # layer -> its last shared tensor (in the quantized model's order)
    output = q_it.get_output_details()[0]["name"]
    for name in gots:
        layer = layer_of(name) or (_output_layer(keras_model) if name == output else None)
        if layer:
            last[layer] = name
    rows = []
    for layer, name in last.items():
        rows.append(
            {
                "layer": layer,
                "tensor": name,
                **agreement(np.concatenate(refs[name]), np.concatenate(gots[name])),
            }
        )
    return rows


def median_latency_ms(fn, x: np.ndarray, runs: int = 10, warmup: int = 2) -> float:
    """Median wall time (ms) of ``fn(x)`` over ``runs`` calls after ``warmup``."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def file_size(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    )


def seg_frames(data: str | Path, cfg):
    """(image (H, W, 6), labels (H, W), -1 empty) of a SqueezeSeg-format folder (the val split if any)."""
    from squeezeseg.data.sources import load_squeezeseg, squeezeseg_frames

    root = Path(data)
    split = "val" if (root / "ImageSet" / "val.txt").is_file() else "all"
    return [load_squeezeseg(f, cfg) for f in squeezeseg_frames(root, split)]


def seg_task(seg, data: Path) -> dict[str, Any]:
    """Class-level scores of a segmenter on range images or KITTI object frames."""
    from squeezeseg.evaluate import evaluate_kitti_object, evaluate_range_images

    if (data / "velodyne").is_dir() and (data / "label_2").is_dir():
        rep = evaluate_kitti_object(seg, data)
    else:
        rep = evaluate_range_images(seg, seg_frames(data, seg.config))
    return {
        "frames": rep["frames"],
        "miou": rep["miou"],
        "iou": {k: v["iou"] for k, v in rep["class"].items()},
    }


def det_task(det, data: Path, split: str | None = None) -> dict[str, Any]:
    """AP (R40, moderate) per class of a detector on a KITTI object folder (its ``split`` when given)."""
    from squeezeseg.detection.evaluate import evaluate_model

    res = evaluate_model(det, data, method="curve", split=split)[det.config.nms_threshold]
    ap = {c: (None if np.isnan(r["moderate"].ap40) else float(r["moderate"].ap40)) for c, r in res.items()}
    vals = [v for v in ap.values() if v is not None]
    return {"ap": ap, "map": float(np.mean(vals)) if vals else None}


def parity_report(
    float_model: str | Path,
    exported: str | Path,
    data: str | Path | None = None,
    layer_frames: int = 4,
    runs: int = 10,
    threads: int | None = None,
) -> dict[str, Any]:
    """The whole report as a dict (see the module docstring). ``data``: a SqueezeSeg ``.npy`` folder,
    a KITTI object ``training`` folder, or None for synthetic inputs and no end-task metrics."""
    from squeezeseg.export.calibration import load_inputs
    from squeezeseg.export.exporter import inference_graph, place_crf
    from squeezeseg.export.meta import keras_model_meta, read_tflite_metadata
    from squeezeseg.runtime import engine_for, load_detector, load_model

    float_model, exported = Path(float_model), Path(exported)
    engine = engine_for(exported)
    if engine == "keras":
        raise InputError("the exported model must be a .tflite or .onnx file", exported)
    model, meta = keras_model_meta(float_model)
    model = inference_graph(model, meta)  # the graph the exporter converted: tensor names match
    if engine == "tflite" and "crf_kernel" in read_tflite_metadata(exported):  # CRF after the graph
        model = place_crf(model, meta, "kernel", False, float_model)[0]
    kind = meta["kind"]
    load = load_detector if kind == "squeezedet" else load_model
    runtime = load(exported, engine, threads)
    ref = load(float_model, "keras")
    inputs = (
        load_inputs(_input_folder(Path(data), kind), meta, layer_frames)
        if data is not None
        else load_inputs("synthetic", meta, layer_frames)
    )
    ops = op_precisions(exported) if engine == "tflite" else onnx_ops(exported)
    report: dict[str, Any] = {
        "float_model": str(float_model),
        "exported": str(exported),
        "engine": engine,
        "kind": kind,
        "ops": ops,
        "op_summary": summarize_ops(ops),
        "float_ops": sorted({o["op"] for o in ops if o["precision"] == "float32"}),
        "quantization": _quantization_meta(exported) if engine == "tflite" else {},
        "layers": layer_agreement(model, exported, inputs) if engine == "tflite" else [],
        "size_bytes": {"keras": file_size(float_model), engine: file_size(exported)},
    }
    raw = (lambda m: m.raw) if kind == "squeezedet" else (lambda m: m.logits)  # noqa: E731
    x = inputs[0][None]
    report["output"] = agreement(raw(ref)(x), raw(runtime)(x))
    report["latency_ms"] = {
        "keras": median_latency_ms(raw(ref), x, runs),
        engine: median_latency_ms(raw(runtime), x, runs),
    }
    if data is not None:
        task = det_task if kind == "squeezedet" else seg_task
        report["task"] = {"keras": task(ref, Path(data)), engine: task(runtime, Path(data))}
    return report


def _quantization_meta(path: Path) -> dict[str, Any]:
    """How a TFLite file was quantized, from its embedded description (mode, float layers, ranges)."""
    from squeezeseg.export.meta import read_tflite_metadata

    meta = read_tflite_metadata(path)
    return {k: meta.get(k) for k in ("mode", "int8_io", "float_layers", "ranges")}


def _input_folder(data: Path, kind: str) -> Path:
    """Where the inputs of ``data`` live (image_2 / velodyne of a KITTI folder, else ``data`` itself)."""
    sub = data / ("image_2" if kind == "squeezedet" else "velodyne")
    return sub if sub.is_dir() else data


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def format_markdown(rep: dict[str, Any]) -> str:
    """Human-readable report (the JSON holds the same numbers and the full op list)."""
    eng = rep["engine"]
    lines = [
        f"# Parity report: {Path(rep['exported']).name} ({eng}) vs {Path(rep['float_model']).name}",
        "",
        f"Output agreement: cosine {rep['output']['cosine']:.4f}, RMSE {rep['output']['rmse']:.4g}, "
        f"SQNR {rep['output']['sqnr_db']:.1f} dB",
        "",
        "| | keras | " + eng + " |",
        "| --- | ---: | ---: |",
        f"| size (MB) | {rep['size_bytes']['keras'] / 1e6:.2f} | {rep['size_bytes'][eng] / 1e6:.2f} |",
        f"| latency (ms, median) | {rep['latency_ms']['keras']:.1f} | {rep['latency_ms'][eng]:.1f} |",
    ]
    task = rep.get("task")
    if task and rep["kind"] == "squeezeseg":
        for cls in task["keras"]["iou"]:
            lines.append(
                f"| IoU {cls} (%) | {_pct(task['keras']['iou'][cls])} | {_pct(task[eng]['iou'][cls])} |"
            )
        lines.append(f"| mIoU (%) | {_pct(task['keras']['miou'])} | {_pct(task[eng]['miou'])} |")
    elif task:
        for cls in task["keras"]["ap"]:
            lines.append(
                f"| AP {cls} moderate (%) | {_pct(task['keras']['ap'][cls])} | {_pct(task[eng]['ap'][cls])} |"
            )
        lines.append(f"| mAP (%) | {_pct(task['keras']['map'])} | {_pct(task[eng]['map'])} |")
    q = rep.get("quantization") or {}
    if q.get("mode") == "int8":
        lines += [
            "",
            f"INT8 activation ranges: {q.get('ranges') or 'minmax'}; Keras layers kept in float: "
            f"{', '.join(q.get('float_layers') or []) or 'none'}.",
        ]
    lines += [
        "",
        f"Ops running in float: {', '.join(rep['float_ops']) or 'none'}.",
        "",
        "## Ops and precision",
        "",
        "| op | precision | count |",
        "| --- | --- | ---: |",
    ]
    lines += [f"| {o['op']} | {o['precision']} | {o['count']} |" for o in rep["op_summary"]]
    if rep["layers"]:
        lines += [
            "",
            "## Per-layer agreement (float32 TFLite vs exported)",
            "",
            "| layer | cosine | RMSE | SQNR (dB) |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r['layer']} | {r['cosine']:.4f} | {r['rmse']:.4g} | {r['sqnr_db']:.1f} |"
            for r in rep["layers"]
        ]
    return "\n".join(lines) + "\n"


def write_parity_report(rep: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """``out_dir/parity.json`` and ``out_dir/parity.md``, written atomically."""
    out = Path(out_dir)
    j, m = out / "parity.json", out / "parity.md"
    atomic_write_text(j, json.dumps(rep, indent=1, default=float) + "\n")
    atomic_write_text(m, format_markdown(rep))
    return j, m
