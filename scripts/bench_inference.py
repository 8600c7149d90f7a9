#!/usr/bin/env python3
"""Inference latency of SqueezeSegV2 with CRF against a plain Keras SqueezeSeg (no CRF, no batch norm),
both built in the same run at the same input size, batch 1, as compiled tf.functions with a fixed
input signature. Runs are interleaved so both models see the same machine load.

Usage: .venv/bin/python scripts/bench_inference.py [--runs 50] [--height 64 --width 512] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def compiled(model, shape):
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--width-multiplier", type=float, default=1.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from squeezeseg.models import build_model, load_model_config
    from squeezeseg.models.fold import fold_batch_norm

    def cfg_for(name, crf):
        c = load_model_config(name)
        c.height, c.width, c.width_multiplier = args.height, args.width, args.width_multiplier
        c.crf.enabled = crf
        return c

    v1 = cfg_for("squeezeseg", False)
    v2 = cfg_for("squeezesegv2", True)
    v2_model = build_model(v2)
    shape = (1, args.height, args.width, 6)
    fns = {
        "squeezeseg_plain": compiled(build_model(v1), shape),  # baseline: no CRF, no batch norm
        "squeezesegv2_crf": compiled(v2_model, shape),  # as trained (batch norm layers)
        "squeezesegv2_crf_folded": compiled(fold_batch_norm(v2_model, v2), shape),  # deployed form
    }
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    x[..., 4] = np.abs(x[..., 4]) * 10
    x[..., 5] = 1.0
    x = tf.constant(x)
    for f in fns.values():
        for _ in range(args.warmup):
            f(x).numpy()
    times = {k: [] for k in fns}
    for _ in range(args.runs):
        for k, f in fns.items():
            t = time.perf_counter()
            f(x).numpy()
            times[k].append(time.perf_counter() - t)
    med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    base = med["squeezeseg_plain"]
    result = {
        "input": list(shape), "runs": args.runs, "median_ms": {k: round(v, 2) for k, v in med.items()},
        "ratio_to_plain": {k: round(v / base, 3) for k, v in med.items()},
        "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0], "machine": platform.processor(),
        "tensorflow": tf.__version__,
    }
    for k in fns:
        print(f"{k:<26} median {med[k]:8.2f} ms   ratio {med[k] / base:5.2f}x")
    print(f"load average (1 min) during the run: {result['load_avg_1min']:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
