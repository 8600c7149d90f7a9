"""Where LiteRT INT8 spends its time on a segmentation model: the network with and without its CRF,
each as float Keras, float32 LiteRT and INT8 LiteRT, timed in turn in one process (median of
``--repeat`` interleaved rounds, so every variant sees the same machine load), plus the op census
of the INT8 graph (ops per type and precision, quantize/dequantize glue, the ops left in float).

    .venv/bin/python scripts/profile_int8_parts.py [--model squeezeseg/weights/default.keras]
        [--calibration DIR ...] [--count 32] [--repeat 20] [--threads 2] [--json FILE]

The CRF's share is the difference of the two builds (same weights; the one without the CRF is the
same network with ``crf.enabled`` off). LiteRT's Python package has no per-op profiler, so the
per-op view is the census: XNNPACK runs consecutive supported ops as one delegate, and the parts
left outside it (float ops of an INT8 graph, QUANTIZE/DEQUANTIZE between them) are where an INT8
graph can lose to float.
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


def without_crf(model_path: Path, out: Path) -> Path:
    """``model_path`` rebuilt with its CRF off and every other weight copied; saved to ``out``."""
    from squeezeseg.models import build_model, load_keras_model

    model, cfg = load_keras_model(model_path)
    cfg.crf.enabled = False
    bare = build_model(cfg)
    by_name = {layer.name: layer for layer in model.layers}
    for layer in bare.layers:
        if layer.weights and layer.name in by_name:
            layer.set_weights(by_name[layer.name].get_weights())
    bare.save(out)
    return out


def census(path: Path) -> dict:
    """Ops of an exported graph per type and precision, and the Keras layers of its float ops."""
    from squeezeseg.export.graph import op_precisions

    ops = op_precisions(path)
    per = collections.Counter(f"{o['op']} {o['precision']}" for o in ops)
    float_layers = collections.Counter(o["layer"] for o in ops if o["precision"] == "float32")
    return {"ops": len(ops), "per_op": dict(per.most_common()), "float_ops_by_layer": dict(float_layers)}


def main() -> int:
    from bench_int8 import interleaved_ms

    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.resources import default_model_path, shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--calibration", nargs="+", default=None,
                    help="INT8 calibration sources (default: runs/sim2_kr200 and the real KITTI object "
                    "scans, unlabelled, in equal shares)")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cal = args.calibration or [str(p) for p in (REPO / "runs" / "sim2_kr200",
                                               shared_data_dir() / "kitti_object" / "training" / "velodyne")
                               if p.is_dir()] or ["synthetic"]
    from squeezeseg.export.meta import keras_model_meta
    from squeezeseg.runtime import load_model

    meta = keras_model_meta(args.model)[1]
    x = mixed_inputs(cal[-1], meta, 1)[0][None]  # a real scan where there is one
    res: dict = {"model": str(args.model), "calibration": cal, "threads": args.threads,
                 "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        builds = {"crf": args.model, "no_crf": without_crf(args.model, tmp / "no_crf.keras")}
        engines = {}
        for tag, path in builds.items():
            engines[f"keras_{tag}"] = load_model(path, "keras")
            f32 = export_model(path, "float32", tmp / f"{tag}.f32.tflite")
            i8 = export_model(path, "int8", tmp / f"{tag}.int8.tflite", cal, args.count)
            engines[f"litert_f32_{tag}"] = load_model(f32, "tflite", args.threads)
            engines[f"litert_int8_{tag}"] = load_model(i8, "tflite", args.threads)
            res[f"census_int8_{tag}"] = census(i8)
        allq = export_model(args.model, "int8", tmp / "all.int8.tflite", cal, args.count, quantize_all=True)
        res["census_int8_all_crf"] = census(allq)
        seg = load_model(allq, "tflite", args.threads)
        try:
            seg.logits(x)
            engines["litert_int8_all_crf"] = seg
        except RuntimeError as exc:  # e.g. an integer DIV meeting a zero divisor
            res["int8_all_error"] = str(exc).splitlines()[0]
        res["delegate"] = {k: getattr(s.predict_fn, "delegate", "tf") for k, s in engines.items()}
        lat = interleaved_ms({k: s.logits for k, s in engines.items()}, x, args.repeat)
    res["latency_ms"] = lat
    ref = lat["keras_crf"]
    res["ratio_vs_keras_crf"] = {k: v / ref for k, v in lat.items()}
    res["crf_ms"] = {e: lat[f"{e}_crf"] - lat[f"{e}_no_crf"] for e in ("keras", "litert_f32", "litert_int8")}
    res["load_average_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    print("\n| variant | with CRF (ms) | without CRF (ms) | CRF share (ms) | ratio to Keras with CRF |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for e in ("keras", "litert_f32", "litert_int8"):
        print(f"| {e} | {lat[f'{e}_crf']:.1f} | {lat[f'{e}_no_crf']:.1f} | {res['crf_ms'][e]:.1f} | "
              f"{lat[f'{e}_crf'] / ref:.2f}x |")
    if "litert_int8_all_crf" in lat:
        print(f"| litert_int8 --quantize-all | {lat['litert_int8_all_crf']:.1f} | | | "
              f"{lat['litert_int8_all_crf'] / ref:.2f}x |")
    else:
        print(f"| litert_int8 --quantize-all | fails: {res['int8_all_error']} | | | |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
