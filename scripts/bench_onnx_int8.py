"""Does ONNX Runtime's static INT8 pay off for the shipped segmenter where LiteRT INT8 does not?

Issue #21 item 4 asks for INT8 at most 0.45x the float Keras latency of one 64x512 window in the same
run. LiteRT INT8 (XNNPACK) misses it at width 0.25 because its int8 convolutions are slower than its
float ones at 4-64 channels on this AVX2 CPU (docs/export.md). ONNX Runtime's MLAS has its own u8s8
AVX2 kernels, so this script measures that path: the float ONNX of ``squeezeseg export --format onnx``
(the network up to the CRF's input logits, the CRF after it as the compiled kernel, as in LiteRT),
quantized by ``onnxruntime.quantization.quantize_static`` (QDQ and QOperator formats, per-channel
weights, 99.99th-percentile activation ranges as the LiteRT export's default, calibrated on the same
frames as the LiteRT INT8 export of ``bench_infer`` / ``profile_int8_parts`` / ``width_study``), then
timed against float Keras, float ONNX, LiteRT float32 and LiteRT INT8 in turn on one real window
(``bench_int8.interleaved_ms``: median of ``--repeat`` interleaved rounds), each with the CRF kernel.
With ``--iou`` (or when an INT8 ONNX meets 0.45x) it also runs the real validation of float Keras and
the fastest INT8 ONNX (``squeezeseg.evaluate.evaluate_real`` through a Segmenter with engine "onnx").

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python scripts/bench_onnx_int8.py [--repeat 20] [--threads 2]
        [--count 32] [--out runs/ortq] [--iou]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

TARGET = 0.45
QUANT_FORMATS = ("qdq", "qoperator")


def quantize_onnx(float_path: Path, out: Path, inputs: Sequence, fmt: str = "qdq",
                  percentile: float = 99.99, reduce_range: bool = True) -> Path:
    """Static INT8 of the float ONNX at ``float_path`` (u8 activations, s8 per-channel weights,
    ranges from the ``percentile`` of each activation's histogram over ``inputs``, (H, W, C) frames),
    written to ``out`` with the float file's metadata (the model description the runners read: ORT's
    quantizer drops ``metadata_props``). ``fmt`` "qdq" inserts QuantizeLinear/DequantizeLinear pairs
    that ORT fuses into integer kernels at load; "qoperator" writes QLinearConv etc. directly.
    ``reduce_range`` keeps the weights to 7 bits: MLAS's u8s8 kernels on AVX2 without VNNI add pairs
    of u8 x s8 products in int16 (``vpmaddubsw``), which saturates with full 8-bit weights (on a
    one-conv test graph 2 % of the outputs were off by over 6 % of the range; ORT's documentation
    recommends this setting there). It does not change the kernels, so not the latency."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if fmt not in QUANT_FORMATS:
        raise ValueError(f"unknown quantization format '{fmt}' (choose from {', '.join(QUANT_FORMATS)})")
    name = onnx.load(str(float_path), load_external_data=False).graph.input[0].name

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(inputs)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: np.asarray(x, np.float32)[None]}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    pre = out.with_suffix(".pre.onnx")  # ORT's recommended shape inference and graph optimisation
    try:
        quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=True)  # static shapes: no sympy
        quantize_static(str(pre), str(tmp), Frames(),
                        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                        per_channel=True, reduce_range=reduce_range,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile,
                        extra_options={"CalibPercentile": percentile})
        src, q = onnx.load(str(float_path)), onnx.load(str(tmp))
        del q.metadata_props[:]
        q.metadata_props.extend(src.metadata_props)
        onnx.save(q, str(tmp))
        os.replace(tmp, out)
    finally:  # a failure leaves nothing behind
        for p in (pre, tmp):
            p.unlink(missing_ok=True)
    return out


def op_census(path: Path) -> dict[str, int]:
    """Node count per op type of an ONNX file (how much of the graph is integer)."""
    import collections

    import onnx

    return dict(collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node).most_common())


def op_time_ms(path: Path, x, threads: int, runs: int = 10) -> dict[str, float]:
    """Milliseconds per call spent in each op type of the ONNX file at ``path`` on input ``x`` (ORT's
    own profiler, the runner's session settings: all graph optimisations, ``threads`` intra-op
    threads), after the fused graph's op types (e.g. QLinearConv, NhwcMaxPool), largest first."""
    import collections

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.enable_profiling = True
    opts.profile_file_prefix = str(path.with_suffix(""))
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    sess.run(None, feed)
    for _ in range(runs):
        sess.run(None, feed)
    trace = Path(sess.end_profiling())
    per: collections.Counter = collections.Counter()
    for ev in json.loads(trace.read_text()):
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            per[ev["args"]["op_name"]] += ev["dur"] / 1000 / (runs + 1)
    trace.unlink()
    return {k: round(v, 2) for k, v in per.most_common()}


def export_all(model: Path, out: Path, cal: list[str], count: int) -> tuple[dict[str, Path], dict]:
    """Float ONNX, its two INT8 forms, LiteRT float32 and INT8 of ``model`` under ``out``."""
    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.meta import keras_model_meta

    out.mkdir(parents=True, exist_ok=True)
    files = {"onnx_f32": export_model(model, "onnx", out / "default.onnx")}
    frames = mixed_inputs(cal, keras_model_meta(model)[1], count)
    errors = {}
    for fmt in QUANT_FORMATS:
        try:
            files[f"onnx_int8_{fmt}"] = quantize_onnx(files["onnx_f32"], out / f"default.int8.{fmt}.onnx",
                                                      frames, fmt)
        except Exception as exc:  # noqa: BLE001 - the report says which form ORT refused and why
            errors[f"onnx_int8_{fmt}"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    files["litert_f32"] = export_model(model, "float32", out / "default.f32.tflite")
    files["litert_int8"] = export_model(model, "int8", out / "default.int8.tflite", cal, count)
    return files, errors


def main(argv: Sequence[str] | None = None) -> int:
    from bench_int8 import calibration_sources, interleaved_ms, uptime

    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.export.meta import keras_model_meta
    from squeezeseg.resources import default_model_path
    from squeezeseg.runtime import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "ortq")
    ap.add_argument("--count", type=int, default=32, help="calibration frames (bench_infer's default)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="LiteRT / ORT threads (profile_int8_parts')")
    ap.add_argument("--iou", action="store_true", help="real validation even if 0.45x is missed")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.count < 2:
        print("--repeat must be >= 1 and --count >= 2", file=sys.stderr)
        return 2
    res: dict = {"model": str(args.model), "uptime_start": uptime(), "threads": args.threads}
    cal = calibration_sources()
    files, res["quantize_errors"] = export_all(args.model, args.out, cal, args.count)
    res["calibration"], res["count"] = cal, args.count
    res["census"] = {k: op_census(f) for k, f in files.items() if k.startswith("onnx")}
    segs = {"keras": load_model(args.model, "keras")}
    for k, f in files.items():
        segs[k] = load_model(f, "onnx" if k.startswith("onnx") else "tflite", args.threads)
    x = mixed_inputs(cal[-1], keras_model_meta(args.model)[1], 1)[0][None]  # a real scan
    lat = interleaved_ms({k: s.logits for k, s in segs.items()}, x, args.repeat)
    res["op_time_ms"] = {k: op_time_ms(f, x, args.threads) for k, f in files.items() if k.startswith("onnx")}
    res["latency_ms"], res["uptime_end"] = lat, uptime()
    ratio = {k: v / lat["keras"] for k, v in lat.items()}
    res["ratio_vs_keras"] = ratio
    int8 = {k: r for k, r in ratio.items() if k.startswith("onnx_int8")}
    best = min(int8, key=int8.get) if int8 else None
    res["met"] = bool(best and int8[best] <= TARGET)
    if best and (res["met"] or args.iou):
        res["iou"] = real_iou(segs["keras"], segs[best])
        res["iou_engine"] = best
    (args.out / "result.json").write_text(json.dumps(res, indent=1) + "\n")
    report(res)
    return 0


def real_iou(keras_seg, int8_seg) -> dict:
    """{set: {class: (Keras %, INT8 %)}} of the real validation."""
    from squeezeseg.evaluate import evaluate_real, real_summary

    a, b = (real_summary(evaluate_real(s)) for s in (keras_seg, int8_seg))

    def pct(v):
        return float("nan") if v is None else 100 * v

    return {name: {c: (pct(v["iou"]), pct(b[name][c]["iou"])) for c, v in per.items()}
            for name, per in a.items() if isinstance(per, dict)}


def report(res: dict) -> None:
    """The markdown table of the latencies and, when measured, the class IoU."""
    print(res["uptime_start"], "\n", res["uptime_end"])
    for k, e in res["quantize_errors"].items():
        print(f"{k}: quantization failed: {e}")
    print("\n| variant (+ CRF kernel) | ms | ratio to float Keras |\n| --- | ---: | ---: |")
    for k, v in res["latency_ms"].items():
        print(f"| {k} | {v:.1f} | {res['ratio_vs_keras'][k]:.2f}x |")
    print(f"\nbest ONNX INT8 <= {TARGET}x: {res['met']}")
    for k, per in res["op_time_ms"].items():
        print(f"{k} ms per op type (ORT profiler): " + ", ".join(f"{o} {t:.1f}" for o, t in per.items()))
    for name, per in res.get("iou", {}).items():
        cells = ", ".join(f"{c} {a:.1f} / {b:.1f}" for c, (a, b) in per.items())
        print(f"| {name}: class IoU Keras / {res['iou_engine']} (%) | {cells} |")


if __name__ == "__main__":
    sys.exit(main())
