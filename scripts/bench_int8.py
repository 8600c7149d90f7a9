"""Benchmark: INT8 TFLite (LiteRT, XNNPACK) against the float Keras model in the same run.

SqueezeSegV2 64x512: latency of the float Keras model (compiled tf.function, batch 1) and of the INT8
model through LiteRT (median of --repeat runs after warm-up; the ratio INT8/Keras is the figure), file
size, and class IoU of float vs INT8 on the evaluation data (simulated held-out range images, the
real KITTI object frames and the real SqueezeSeg sample frame in ../shared/data). INT8 calibration
uses the training split of --sim-data (never its held-out frames); --ranges picks the activation
ranges (several: one INT8 export each, e.g. ``--ranges minmax percentile`` for before and after);
--real-calibration adds exports calibrated on the simulated frames and unlabelled real scans in equal
shares (the real scans' labels are never read).
SqueezeDet: INT8 vs float AP on the held-out split of --det-sim-data (calibrated on its training
split) and on the real KITTI images, latency ratio. Make --det-sim-data with the command recorded in
squeezeseg/weights/squeezedet_small.json (``lidarsim generate --frames 4 --sequences 60 --seed 7
--layout kitti-object --camera --out runs/squeezedet_sim``, about 30 s).

Latency and size use the full-size config (``--seg-config squeezesegv2``, built fresh: weights do not
change either); accuracy needs trained weights (``--seg-model``, default the shipped model).

Usage: .venv/bin/python scripts/bench_int8.py [--repeat 20] [--threads 2] [--sim-data runs/default_sim]
       [--seg-model M.keras] [--det-model M.keras] [--det-sim-data DIR] [--ranges percentile ...]
       [--count 64] [--skip-det] [--skip-latency] [--out DIR]
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


def uptime() -> str:
    """``uptime``'s line: the load averages a benchmark records before and after it runs."""
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def calibration_sources() -> list[str]:
    """The INT8 calibration sources of the segmenter benchmarks, those present: the shipped model's
    simulated training scans (``runs/sim2_kr200``) and the unlabelled real scans its batch norm was
    calibrated on (``train_default_model.CALIBRATION_SOURCES``); ``synthetic`` if none. Never a labelled
    validation scan: the INT8 copy is scored on those (before 6 Dec evening it was calibrated on the
    labelled ``kitti_object/training`` scans)."""
    from squeezeseg.resources import shared_data_dir

    sys.path.insert(0, str(REPO / "scripts"))
    from train_default_model import CALIBRATION_SOURCES

    root = shared_data_dir()
    candidates = (REPO / "runs" / "sim2_kr200", *(root / sub for sub in CALIBRATION_SOURCES))
    found = [str(p) for p in candidates if p.is_dir()]
    return found or ["synthetic"]


def interleaved_ms(fns: dict, x, repeat: int, warmup: int = 3) -> dict:
    """Median ms of each ``fn(x)``, timed in turn within each round so that all of them see the same
    load on a shared machine (the ratio is the figure)."""
    import numpy as np

    for fn in fns.values():
        for _ in range(warmup):
            fn(x)
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn(x)
            times[k].append(1000 * (time.perf_counter() - t))
    return {k: float(np.median(v)) for k, v in times.items()}


def seg_latency(cfg_name: str, calibration: str, repeat: int, threads: int, tmp: Path) -> dict:
    """Float Keras vs TFLite (INT8 as exported, INT8 with everything quantized, float32) latency and file
    sizes of a freshly built model of ``cfg_name``, with and without the CRF."""
    import keras
    import numpy as np

    from squeezeseg.export.calibration import load_inputs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.models import build_model, load_model_config
    from squeezeseg.runtime import keras_predict_fn, load_model
    from squeezeseg.segmenter import Segmenter

    out = {"config": cfg_name, "threads": threads, "repeat": repeat}
    for crf in (True, False):
        keras.utils.set_random_seed(0)
        cfg = load_model_config(cfg_name)
        cfg.crf.enabled = crf
        model = build_model(cfg)
        tag = "crf" if crf else "no_crf"
        path = tmp / f"{cfg.name}_{tag}.keras"
        model.save(path)
        files = {"tflite_int8": export_model(path, "int8", tmp / f"{tag}.int8.tflite", calibration, 32)}
        if crf:
            files["tflite_int8_all"] = export_model(
                path, "int8", tmp / f"{tag}.all.tflite", calibration, 32, quantize_all=True
            )
            files["tflite_f32"] = export_model(path, "float32", tmp / f"{tag}.f32.tflite")
        x = np.stack(load_inputs(calibration, {"kind": "squeezeseg", "config": cfg.to_dict()}, 1))
        runtimes = {"keras": Segmenter(keras_predict_fn(model, cfg), cfg, path)}
        runtimes.update({k: load_model(f, "tflite", threads) for k, f in files.items()})
        lat = interleaved_ms({k: s.logits for k, s in runtimes.items()}, x, repeat)
        out[tag] = {
            "params": int(model.count_params()),
            "latency_ms": lat,
            "ratio_vs_keras": {k: v / lat["keras"] for k, v in lat.items() if k != "keras"},
            "xnnpack": {k: runtimes[k].predict_fn.delegate for k in files},
            "size_mb": {
                "keras": path.stat().st_size / 1e6,
                **{k: f.stat().st_size / 1e6 for k, f in files.items()},
            },
        }
        print(json.dumps({tag: out[tag]}, indent=1), flush=True)
    return out


def seg_accuracy(
    model_path: Path,
    calibrations: dict[str, str | list[str]],
    data: dict[str, Path | None],
    threads: int,
    tmp: Path,
    ranges: list[str],
    count: int,
) -> dict:
    """Class IoU of the float model and of its INT8 export with each calibration of ``calibrations``
    (name -> source or sources) and each range method of ``ranges`` on the ``data`` sets
    (name -> folder), with the IoU differences INT8 - float in points."""
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.report import seg_task
    from squeezeseg.runtime import load_model

    out: dict = {"model": str(model_path), "calibration_frames": count, "calibrations": calibrations}
    out["size_mb_int8"] = {}
    segs = {"keras": load_model(model_path, "keras")}
    for cal_name, calibration in calibrations.items():
        for method in ranges:
            key = f"int8_{method}" + ("" if cal_name == "sim" else f"_{cal_name}")
            t = time.perf_counter()
            f = tmp / f"trained.{key}.tflite"
            export_model(model_path, "int8", f, calibration, count, ranges=method)
            out.setdefault("export_s", {})[key] = time.perf_counter() - t
            out["size_mb_int8"][key] = f.stat().st_size / 1e6
            segs[key] = load_model(f, "tflite", threads)
    for name, folder in data.items():
        if folder is None or not folder.is_dir():
            continue
        res = {k: seg_task(s, folder) for k, s in segs.items()}
        ref = res["keras"]
        for k in segs:
            if k != "keras":
                res[k]["delta_points"] = {
                    c: 100 * (res[k]["iou"][c] - ref["iou"][c]) for c in ref["iou"]
                } | {"miou": 100 * (res[k]["miou"] - ref["miou"])}
        out[name] = res
    return out


def det_bench(model_path: Path, kitti: Path, sim: Path | None, repeat: int, threads: int, tmp: Path) -> dict:
    """SqueezeDet float vs INT8: AP (R40, moderate) on the simulated held-out split of ``sim`` and on
    the real KITTI images, latency ratio, sizes. INT8 is calibrated on the training split of ``sim``
    (never the images it is scored on); without ``sim``, on the real images, as a last resort."""
    import numpy as np

    from squeezeseg.detection.data import load_image, resize_image
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.report import det_task
    from squeezeseg.runtime import load_detector

    calibration = sim if sim is not None else kitti / "image_2"
    int8 = export_model(model_path, "int8", tmp / "det.int8.tflite", calibration=calibration, count=64)
    dets = {"keras": load_detector(model_path, "keras"), "int8": load_detector(int8, "tflite", threads)}
    img = next(iter(sorted((kitti / "image_2").glob("*.png"))))
    x = resize_image(load_image(img), dets["keras"].config.input_size)[None].astype(np.float32)
    lat = interleaved_ms({k: d.raw for k, d in dets.items()}, x, repeat)
    out = {
        "model": str(model_path),
        "calibration": str(calibration) + (" (train split)" if sim is not None else ""),
        "latency_ms": lat,
        "ratio_int8_vs_keras": lat["int8"] / lat["keras"],
        "size_mb": {"keras": model_path.stat().st_size / 1e6, "int8": int8.stat().st_size / 1e6},
        "ap_real": {k: det_task(d, kitti) for k, d in dets.items()},
    }
    if sim is not None:
        out["ap_sim_val"] = {k: det_task(d, sim / "training", split="val") for k, d in dets.items()}
    for key in ("ap_sim_val", "ap_real"):
        if key in out:
            ref, q = out[key]["keras"]["ap"], out[key]["int8"]["ap"]
            both = [c for c in ref if ref[c] is not None and q[c] is not None]
            out[key]["delta_points"] = {c: 100 * (q[c] - ref[c]) for c in both}
    return out


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
    p.add_argument(
        "--det-sim-data",
        type=Path,
        default=REPO / "runs" / "squeezedet_sim",
        help="simulated KITTI-object folder of the SqueezeDet training (INT8 calibrated on its train split, "
        "AP scored on its val split)",
    )
    p.add_argument(
        "--ranges",
        nargs="+",
        default=["percentile"],
        choices=["percentile", "mse", "minmax"],
        help="INT8 activation range methods to score (one export each)",
    )
    p.add_argument("--count", type=int, default=64, help="INT8 calibration frames (training split)")
    p.add_argument(
        "--real-calibration",
        type=Path,
        default=None,
        help="also score an INT8 export calibrated on --sim-data and these unlabelled real scans in equal "
        "shares (e.g. ../shared/data/kitti_object/testing/velodyne)",
    )
    p.add_argument("--skip-det", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="write bench_int8.json here")
    args = p.parse_args()
    kitti = shared_data_dir() / "kitti_object" / "training"
    sim = (args.sim_data / "lidar_2d").is_dir()
    calibration = str(args.sim_data) if sim else "synthetic"  # a dataset root: its training split
    res: dict = {"calibration": calibration, "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_latency:
            res["seg_latency"] = seg_latency(args.seg_config, calibration, args.repeat, args.threads, tmp)
        if args.seg_model.is_file():
            data = {
                "sim_val": args.sim_data if sim else None,
                "kitti_real": kitti if kitti.is_dir() else None,
                "squeezeseg_sample_real": shared_data_dir() / "squeezeseg_sample",
            }
            calibrations = {"sim": calibration}
            if args.real_calibration is not None and sim:
                calibrations["sim_real"] = [calibration, str(args.real_calibration)]
            res["seg_accuracy"] = seg_accuracy(
                args.seg_model, calibrations, data, args.threads, tmp, args.ranges, args.count
            )
            print(json.dumps(res["seg_accuracy"], indent=1), flush=True)
        else:
            print(f"no trained segmentation model at {args.seg_model}: accuracy skipped", flush=True)
        if not args.skip_det and args.det_model.is_file() and kitti.is_dir():
            from squeezeseg.detection.data import split_file

            has_splits = all(split_file(args.det_sim_data, n) for n in ("train", "val"))
            det_sim = args.det_sim_data if has_splits else None
            if det_sim is None:
                print(f"no simulated SqueezeDet data at {args.det_sim_data}: AP on the real images only")
            res["det"] = det_bench(args.det_model, kitti, det_sim, args.repeat, args.threads, tmp)
            print(json.dumps(res["det"], indent=1), flush=True)
        elif not args.skip_det:
            print(f"no trained SqueezeDet model at {args.det_model} (or no KITTI data): detection skipped")
    res["load_average_end"] = os.getloadavg()
    if args.out:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.out / "bench_int8.json", json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
