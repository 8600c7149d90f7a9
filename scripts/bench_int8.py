"""Benchmark: INT8 TFLite (LiteRT, XNNPACK) against the float Keras model in the same run.

SqueezeSegV2 64x512: latency of the float Keras model (compiled tf.function, batch 1) and of the INT8
model through LiteRT (median of --repeat runs after warm-up; the ratio INT8/Keras is the figure), file
size, and class IoU of float vs INT8 on the evaluation data (simulated held-out range images and the
real KITTI frames in ../shared/data). SqueezeDet: INT8 vs float AP on the real KITTI images, latency
ratio.

Latency and size use the full-size config (``--seg-config squeezesegv2``, built fresh: weights do not
change either); accuracy needs trained weights (``--seg-model``, default the shipped model).

Usage: .venv/bin/python scripts/bench_int8.py [--repeat 20] [--threads 2] [--sim-data runs/default_sim]
       [--seg-model M.keras] [--det-model M.keras] [--skip-det] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def seg_latency(cfg_name: str, calibration: str, repeat: int, threads: int, tmp: Path) -> dict:
    """Float Keras vs INT8 LiteRT latency and file sizes of a freshly built model of ``cfg_name``."""
    import keras
    import numpy as np

    from squeezeseg.export.calibration import load_inputs
    from squeezeseg.export.engines import load_segmenter
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.report import median_latency_ms
    from squeezeseg.models import build_model, load_model_config
    from squeezeseg.segmenter import Segmenter, keras_predict_fn

    keras.utils.set_random_seed(0)
    cfg = load_model_config(cfg_name)
    model = build_model(cfg)
    path = tmp / f"{cfg.name}.keras"
    model.save(path)
    t = time.perf_counter()
    int8 = export_model(path, "int8", tmp / f"{cfg.name}.int8.tflite", calibration=calibration, count=32)
    convert_s = time.perf_counter() - t
    f32 = export_model(path, "float32", tmp / f"{cfg.name}.f32.tflite")
    x = np.stack(load_inputs(calibration, {"kind": "squeezeseg", "config": cfg.to_dict()}, 1))
    keras_seg = Segmenter(keras_predict_fn(model, cfg), cfg, path)
    runtimes = {
        "keras": keras_seg,
        "tflite_int8": load_segmenter(int8, "tflite", threads),
        "tflite_f32": load_segmenter(f32, "tflite", threads),
    }
    lat = {k: median_latency_ms(s.logits, x, repeat, warmup=3) for k, s in runtimes.items()}
    return {
        "config": cfg_name,
        "params": int(model.count_params()),
        "threads": threads,
        "latency_ms": lat,
        "ratio_int8_vs_keras": lat["tflite_int8"] / lat["keras"],
        "ratio_f32tflite_vs_keras": lat["tflite_f32"] / lat["keras"],
        "xnnpack": runtimes["tflite_int8"].predict_fn.delegate,
        "size_mb": {
            "keras": path.stat().st_size / 1e6,
            "int8": int8.stat().st_size / 1e6,
            "float32_tflite": f32.stat().st_size / 1e6,
        },
        "int8_convert_s": convert_s,
    }


def seg_accuracy(
    model_path: Path, calibration: str, sim_data: Path | None, kitti: Path | None, threads: int, tmp: Path
) -> dict:
    """Class IoU of the float model and its INT8 export on simulated held-out frames and real KITTI."""
    from squeezeseg.export.engines import load_segmenter
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.report import seg_task

    int8 = export_model(model_path, "int8", tmp / "trained.int8.tflite", calibration=calibration, count=64)
    out = {"model": str(model_path), "size_mb_int8": int8.stat().st_size / 1e6}
    segs = {"keras": load_segmenter(model_path, "keras"), "int8": load_segmenter(int8, "tflite", threads)}
    for name, data in (("sim_val", sim_data), ("kitti_real", kitti)):
        if data is not None and data.is_dir():
            out[name] = {k: seg_task(s, data) for k, s in segs.items()}
    return out


def det_bench(model_path: Path, kitti: Path, repeat: int, threads: int, tmp: Path) -> dict:
    """SqueezeDet float vs INT8: AP on the KITTI images, latency ratio, sizes."""
    import numpy as np

    from squeezeseg.detection.data import load_image, resize_image
    from squeezeseg.export.engines import load_detector
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.report import det_task, median_latency_ms

    int8 = export_model(model_path, "int8", tmp / "det.int8.tflite", calibration=kitti / "image_2", count=64)
    dets = {"keras": load_detector(model_path, "keras"), "int8": load_detector(int8, "tflite", threads)}
    img = next(iter(sorted((kitti / "image_2").glob("*.png"))))
    x = resize_image(load_image(img), dets["keras"].config.input_size)[None].astype(np.float32)
    lat = {k: median_latency_ms(d.raw, x, repeat, warmup=3) for k, d in dets.items()}
    return {
        "model": str(model_path),
        "latency_ms": lat,
        "ratio_int8_vs_keras": lat["int8"] / lat["keras"],
        "size_mb": {"keras": model_path.stat().st_size / 1e6, "int8": int8.stat().st_size / 1e6},
        "ap": {k: det_task(d, kitti) for k, d in dets.items()},
    }


def main() -> None:
    from squeezeseg.resources import shared_data_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seg-config", default="squeezesegv2", help="config for latency and size")
    p.add_argument("--seg-model", type=Path, default=REPO / "squeezeseg" / "weights" / "default.keras")
    p.add_argument(
        "--det-model", type=Path, default=REPO / "squeezeseg" / "weights" / "squeezedet_small.keras"
    )
    p.add_argument(
        "--sim-data",
        type=Path,
        default=REPO / "runs" / "default_sim",
        help="simulated SqueezeSeg-layout folder (its val split is the held-out set)",
    )
    p.add_argument("--skip-det", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="write bench_int8.json here")
    args = p.parse_args()
    kitti = shared_data_dir() / "kitti_object" / "training"
    sim = args.sim_data / "lidar_2d" if (args.sim_data / "lidar_2d").is_dir() else None
    calibration = str(sim) if sim else "synthetic"
    res: dict = {"calibration": calibration}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        res["seg_latency"] = seg_latency(args.seg_config, calibration, args.repeat, args.threads, tmp)
        print(json.dumps(res["seg_latency"], indent=1), flush=True)
        if args.seg_model.is_file():
            res["seg_accuracy"] = seg_accuracy(
                args.seg_model,
                calibration,
                args.sim_data if sim else None,
                kitti if kitti.is_dir() else None,
                args.threads,
                tmp,
            )
            print(json.dumps(res["seg_accuracy"], indent=1), flush=True)
        else:
            print(f"no trained segmentation model at {args.seg_model}: accuracy skipped", flush=True)
        if not args.skip_det and args.det_model.is_file() and kitti.is_dir():
            res["det"] = det_bench(args.det_model, kitti, args.repeat, args.threads, tmp)
            print(json.dumps(res["det"], indent=1), flush=True)
        elif not args.skip_det:
            print(f"no trained SqueezeDet model at {args.det_model} (or no KITTI data): detection skipped")
    if args.out:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.out / "bench_int8.json", json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
