"""SqueezeDet inference speed and size: median latency at 1248x384, batch 1, float32, on this machine.

The network runs as one compiled tf.function (as `model.predict` would), after warm-up runs; the
figure is the median of ``--repeats`` timed runs, with the post-processing (top-64 + NMS, NumPy)
timed separately. Model size = float32 parameter bytes (the paper's 7.9 MB) and the saved .keras file.

    .venv/bin/python scripts/bench_squeezedet.py [--config squeezedet] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="squeezedet", help="model config (squeezedet, squeezedet_plus, ...)")
    p.add_argument("--model", default=None, help="time a trained .keras model instead of a fresh one")
    p.add_argument("--width", type=int, default=1248)
    p.add_argument("--height", type=int, default=384)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()

    import numpy as np
    import tensorflow as tf

    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.model import build_squeezedet, load_squeezedet_config
    from squeezeseg.detection.postprocess import postprocess
    from squeezeseg.detection.train import save_model

    if args.model:
        det = SqueezeDetector.load(args.model)
        model, config = det.model, det.config
        file_mb = Path(args.model).stat().st_size / 2**20
    else:
        config = load_squeezedet_config(args.config, input_width=args.width, input_height=args.height)
        model = build_squeezedet(config)
        with tempfile.TemporaryDirectory() as tmp:
            file_mb = save_model(model, config, Path(tmp) / "m.keras").stat().st_size / 2**20
    W, H = config.input_size
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, H, W, 3)).astype(np.float32))
    forward = tf.function(lambda t: model(t, training=False))
    anchors = config.anchors()
    for _ in range(args.warmup):
        out = forward(x).numpy()
    net, post = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = forward(x).numpy()
        t1 = time.perf_counter()
        postprocess(out, anchors, len(config.classes), config.input_size, config.top_n, config.nms_threshold)
        t2 = time.perf_counter()
        net.append(t1 - t0)
        post.append(t2 - t1)
    res = {
        "config": config.name,
        "input": f"{W}x{H}",
        "batch": 1,
        "dtype": "float32",
        "repeats": args.repeats,
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "median_network_ms": round(1000 * statistics.median(net), 2),
        "median_postprocess_ms": round(1000 * statistics.median(post), 3),
        "median_total_ms": round(1000 * statistics.median(np.add(net, post)), 2),
        "fps": round(1 / statistics.median(np.add(net, post)), 2),
        "params": int(model.count_params()),
        "param_mb": round(model.count_params() * 4 / 2**20, 2),
        "keras_file_mb": round(file_mb, 2),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
