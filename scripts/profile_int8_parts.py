"""Where LiteRT INT8 spends its time on a segmentation model, and what the CRF's placement changes:
the model exported with its CRF inside the graph (``--crf graph``, the older form) and after it
(``--crf kernel``, the default: the network in LiteRT, the CRF as the compiled mean field of
``squeezeseg.crf_kernel``), each as float32 and INT8 LiteRT, INT8 ``--quantize-all`` with the CRF
after the graph, and the parts on their own (the network alone in LiteRT, the CRF kernel alone on one
and on ``--threads`` threads), timed against the float Keras model (folded batch norm, XLA-fused CRF)
in turn in one process (median of ``--repeat`` interleaved rounds, so every variant sees the same
machine load), plus the op census of the INT8 graphs (ops per type and precision, the ops left in
float).

    .venv/bin/python scripts/profile_int8_parts.py [--model squeezeseg/weights/default.keras]
        [--calibration DIR ...] [--count 32] [--repeat 20] [--threads 2] [--json FILE]

LiteRT's Python package has no per-op profiler, so the per-op view is the census: XNNPACK runs each
op as a pass over memory, and the float ops of an INT8 graph (and QUANTIZE/DEQUANTIZE between them)
are where an INT8 graph can lose to float.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def census(path: Path) -> dict:
    """Ops of an exported graph per type and precision, and the Keras layers of its float ops."""
    from squeezeseg.export.graph import op_precisions

    ops = op_precisions(path)
    per = collections.Counter(f"{o['op']} {o['precision']}" for o in ops)
    float_layers = collections.Counter(o["layer"] for o in ops if o["precision"] == "float32")
    return {"ops": len(ops), "per_op": dict(per.most_common()), "float_ops_by_layer": dict(float_layers)}


def main() -> int:
    from bench_int8 import calibration_sources, interleaved_ms

    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.resources import default_model_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--calibration", nargs="+", default=None,
                    help="INT8 calibration sources (default: bench_int8.calibration_sources(), "
                    "simulated training scans and unlabelled real scans, in equal shares)")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cal = args.calibration or calibration_sources()
    from squeezeseg.export.meta import keras_model_meta
    from squeezeseg.runtime import load_model

    meta = keras_model_meta(args.model)[1]
    x = mixed_inputs(cal[-1], meta, 1)[0][None]  # a real scan where there is one
    res: dict = {"model": str(args.model), "calibration": cal, "threads": args.threads,
                 "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = {}
        for place in ("graph", "kernel"):
            files[f"litert_f32_{place}"] = export_model(args.model, "float32", tmp / f"{place}.f32.tflite",
                                                        crf=place)
            files[f"litert_int8_{place}"] = export_model(args.model, "int8", tmp / f"{place}.int8.tflite",
                                                         cal, args.count, crf=place)
        files["litert_int8_all_kernel"] = export_model(args.model, "int8", tmp / "all.int8.tflite", cal,
                                                       args.count, quantize_all=True)
        for key in ("litert_int8_graph", "litert_int8_kernel", "litert_int8_all_kernel"):
            res[f"census_{key}"] = census(files[key])
        engines = {"keras": load_model(args.model, "keras")}
        engines.update({k: load_model(f, "tflite", args.threads) for k, f in files.items()})
        fns = {k: s.logits for k, s in engines.items()}
        for key in ("litert_f32_kernel", "litert_int8_kernel"):  # the network alone, before the CRF
            fns[key.replace("_kernel", "_network_alone")] = engines[key].predict_fn.run_one
        runner = engines["litert_int8_kernel"].predict_fn
        unary = runner.run_one(x)
        fns["crf_kernel_1_thread"] = _crf_fn(runner.crf, unary, x, 1)
        fns[f"crf_kernel_{args.threads}_threads"] = _crf_fn(runner.crf, unary, x, args.threads)
        res["delegate"] = {k: getattr(s.predict_fn, "delegate", "tf") for k, s in engines.items()}
        lat = interleaved_ms(fns, x, args.repeat)
    res["latency_ms"] = lat
    ref = lat["keras"]
    res["ratio_vs_keras"] = {k: v / ref for k, v in lat.items()}
    res["load_average_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    print("\n| variant | ms | ratio to float Keras |\n| --- | ---: | ---: |")
    for k, v in lat.items():
        print(f"| {k} | {v:.1f} | {v / ref:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


def _crf_fn(crf, unary, x, threads: int):
    """The CRF kernel of an exported model on fixed logits, on ``threads`` threads."""
    import dataclasses

    kernel = dataclasses.replace(crf, threads=threads)
    return lambda _: kernel(unary, x)


if __name__ == "__main__":
    sys.exit(main())
