"""Start-up and inference speed of the command-line tools, measured as a user sees them.

    .venv/bin/python scripts/bench_infer.py [--scans DIR] [--runs 5] [--dense 16]

* start-up: wall time of ``squeezeseg --help``, ``squeezedet --help``, ``lidarsim --help`` and
  ``squeezeseg project <one scan>`` in fresh processes (median of ``--runs``);
* ``squeezeseg infer`` on a folder of full HDL-64E scans (default: the 26 KITTI scans of
  ``../shared/data/kitti_pcd/data_2``), with and without PNGs: first result (command start to the first
  ``.label`` file), per-scan marginal (time between the first and the last ``.label`` over the scans
  in between), peak memory of the process (``getrusage`` of the child);
* peak memory of ``infer`` on one dense cloud (the first scan repeated ``--dense`` times with jitter,
  about 2 million points), to show that memory does not grow with point density;
* the network alone: the shipped model on one batch of 4 windows in this process, as the reference
  for how busy the machine was;
* INT8 (issue #21 item 4): the shipped model exported to LiteRT INT8 (calibrated on the simulated training
  scans and the unlabelled real scans of ``bench_int8.calibration_sources``, 32 frames) and float32, both
  as exported by default (the CRF after the network, ``squeezeseg.crf_kernel``), and INT8 with the CRF
  inside the graph (``--crf graph``, the earlier form), timed against the float Keras model on one real
  window in turn (median of ``--int8-repeat`` rounds): the INT8 / Keras ratio; with ``--int8-iou`` also
  the real validation (squeezeseg.evaluate.evaluate_real) of Keras and INT8, class IoU side by side.
  ``--only-int8`` measures this part alone.

``infer`` runs with its default engine (auto) and a fresh model cache (``$SQUEEZESEG_CACHE_DIR`` in a
temporary folder): the warm-up run goes through Keras and leaves the checked LiteRT copy, the timed runs
start from it; one labels-only run with ``--engine keras`` is timed as well.

Prints a markdown table; docs/models.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATA = ROOT.parent / "shared" / "data"
CHILD = (
    "import resource, subprocess, sys, time\n"
    "t = time.time()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "print(t, time.time(), rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` in a fresh process: start and end time (s), exit status, peak RSS (MB)."""
    out = subprocess.run([sys.executable, "-c", CHILD, *cmd], capture_output=True, text=True, check=True)
    start, end, rc, rss = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {rc}")
    t0, t1 = float(start), float(end)
    return {"start": t0, "end": t1, "wall": t1 - t0, "rss_mb": int(rss) / 1024}


def startup(runs: int, scan: Path, tmp: Path) -> dict[str, float]:
    cmds = {
        "squeezeseg --help": [str(BIN / "squeezeseg"), "--help"],
        "squeezedet --help": [str(BIN / "squeezedet"), "--help"],
        "lidarsim --help": [str(BIN / "lidarsim"), "--help"],
        "squeezeseg project (one scan)": [str(BIN / "squeezeseg"), "project", str(scan),
                                          "--out", str(tmp / "p")],
    }
    res = {}
    for name, cmd in cmds.items():
        timed(cmd)  # warm the file cache and numba's kernel cache
        res[name] = statistics.median(timed(cmd)["wall"] for _ in range(runs))
    return res


def infer(scans: Path, tmp: Path, png: bool, extra: list[str] = (), name: str | None = None
          ) -> dict[str, float]:
    out = tmp / (name or ("infer_png" if png else "infer"))
    cmd = [str(BIN / "squeezeseg"), "infer", str(scans), "--out", str(out), "--no-progress", *extra]
    if not png:
        cmd.append("--no-png")
    r = timed(cmd)
    done = sorted(p.stat().st_mtime for p in out.glob("*.label"))
    n = len(done)
    return {
        "scans": n,
        "first_s": done[0] - r["start"],
        "marginal_ms": 1000 * (done[-1] - done[0]) / max(n - 1, 1),
        "total_s": r["wall"],
        "rss_mb": r["rss_mb"],
    }


def dense(scan: Path, tmp: Path, repeat: int) -> dict[str, float]:
    import numpy as np

    from squeezeseg.io import read_points, write_points

    pts = read_points(scan)[:, :4]
    rng = np.random.default_rng(0)
    cloud = np.concatenate([pts + np.r_[rng.normal(0, 0.01, 3), 0].astype(np.float32) for _ in range(repeat)])
    folder = tmp / "dense"
    write_points(folder / "dense.bin", cloud)
    r = timed([str(BIN / "squeezeseg"), "infer", str(folder), "--out", str(tmp / "dense_out"),
               "--no-progress"])
    return {"points": len(cloud), "rss_mb": r["rss_mb"], "total_s": r["wall"]}


def network_ms(runs: int = 10) -> float:
    import numpy as np
    import tensorflow as tf

    import squeezeseg

    seg = squeezeseg.load_model()
    x = np.random.default_rng(0).random((4, seg.config.height, seg.config.width, 6), dtype=np.float32)
    seg.predict_fn(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        seg.predict_fn(x)
        times.append(time.perf_counter() - t)
    del tf
    return 1000 * statistics.median(times)


def int8_ratio(tmp: Path, repeat: int, iou: bool, count: int = 32) -> dict:
    """Float Keras vs LiteRT float32 and INT8 of the shipped model on one real window, in turn; with
    ``iou`` the real validation of Keras and INT8 (class IoU per set, points of difference)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_int8 import calibration_sources, interleaved_ms

    import squeezeseg
    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.meta import keras_model_meta
    from squeezeseg.resources import default_model_path

    model = default_model_path()
    cal = calibration_sources()
    files = {"litert_int8": export_model(model, "int8", tmp / "default.int8.tflite", cal, count),
             "litert_f32": export_model(model, "float32", tmp / "default.f32.tflite"),
             "litert_int8_crf_graph": export_model(model, "int8", tmp / "graph.int8.tflite", cal, count,
                                                   crf="graph")}
    segs = {"keras": squeezeseg.load_model(model, engine="keras"),
            **{k: squeezeseg.load_model(f, engine="tflite") for k, f in files.items()}}
    x = mixed_inputs(cal[-1], keras_model_meta(model)[1], 1)[0][None]
    lat = interleaved_ms({k: s.logits for k, s in segs.items()}, x, repeat)
    out = {"calibration": cal, "count": count, "latency_ms": lat, "load_average": os.getloadavg(),
           "ratio_int8": lat["litert_int8"] / lat["keras"], "ratio_f32": lat["litert_f32"] / lat["keras"],
           "ratio_int8_crf_graph": lat["litert_int8_crf_graph"] / lat["keras"]}
    if iou:
        from squeezeseg.evaluate import evaluate_real, real_summary

        keras, int8 = (real_summary(evaluate_real(segs[k])) for k in ("keras", "litert_int8"))
        def pct(v):  # None: the class is in neither the labels nor the prediction
            return float("nan") if v is None else 100 * v

        out["iou"] = {name: {c: (pct(v["iou"]), pct(int8[name][c]["iou"])) for c, v in per.items()}
                      for name, per in keras.items() if isinstance(per, dict)}
    return out


def print_int8(q: dict) -> None:
    """The INT8 rows of the table."""
    lat = q["latency_ms"]
    print(f"| one window: Keras float / LiteRT float32 / LiteRT INT8 (CRF after the network) | "
          f"{lat['keras']:.1f} / {lat['litert_f32']:.1f} / {lat['litert_int8']:.1f} ms | |")
    print(f"| one window: LiteRT INT8 with the CRF in the graph (`--crf graph`) | "
          f"{lat['litert_int8_crf_graph']:.1f} ms ({q['ratio_int8_crf_graph']:.2f}x) | |")
    print(f"| INT8 / float Keras latency | {q['ratio_int8']:.2f}x | <= 0.45x |")
    for name, per in q.get("iou", {}).items():
        cells = ", ".join(f"{c} {a:.1f} / {b:.1f}" for c, (a, b) in per.items())
        print(f"| real validation {name}: class IoU Keras / INT8 (%) | {cells} | within 1 point |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=Path, default=DATA / "kitti_pcd" / "data_2", help="folder of full scans")
    ap.add_argument("--runs", type=int, default=5, help="start-up runs per command (median)")
    ap.add_argument("--dense", type=int, default=16, help="copies of one scan in the dense cloud (0: skip)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--int8-repeat", type=int, default=20, help="interleaved rounds of the INT8 timing")
    ap.add_argument("--int8-iou", action="store_true", help="also the real validation of Keras and INT8")
    ap.add_argument("--skip-int8", action="store_true")
    ap.add_argument("--only-int8", action="store_true", help="measure the INT8 ratio (and --int8-iou) only")
    args = ap.parse_args()
    if not args.scans.is_dir():
        raise SystemExit(f"{args.scans}: no such folder of scans (real data lives in ../shared/data)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    scan = sorted(p for p in args.scans.iterdir() if p.is_file())[0]
    res: dict = {"load_average_start": os.getloadavg()}
    if args.only_int8:
        with tempfile.TemporaryDirectory() as d:
            res["int8"] = int8_ratio(Path(d), args.int8_repeat, args.int8_iou)
        res["load_average"] = os.getloadavg()
        print("| measurement | value | target |\n| --- | --- | --- |")
        print_int8(res["int8"])
        print(f"\nload average at the start / end: {res['load_average_start'][0]:.2f} / "
              f"{res['load_average'][0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(res, indent=1) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["SQUEEZESEG_CACHE_DIR"] = str(tmp / "cache")  # a fresh model cache, kept for the run
        os.environ.pop("SQUEEZESEG_MODEL_CACHE", None)
        res["startup_s"] = startup(args.runs, scan, tmp)
        res["infer_keras_first_run"] = infer(args.scans, tmp, png=False, extra=["--engine", "keras"],
                                             name="infer_keras")
        warm = timed([str(BIN / "squeezeseg"), "infer", *[str(p) for p in sorted(args.scans.iterdir())[:4]],
                      "--out", str(tmp / "warm"), "--no-progress"])
        res["litert_copy_s"] = warm["wall"]  # Keras run of 4 scans, then the export of the copy
        res["infer_labels"] = infer(args.scans, tmp, png=False)
        res["infer_labels_png"] = infer(args.scans, tmp, png=True)
        if args.dense:
            res["dense"] = dense(scan, tmp, args.dense)
        res["network_4_windows_ms"] = network_ms()
        if not args.skip_int8:
            res["int8"] = int8_ratio(tmp, args.int8_repeat, args.int8_iou)
    res["load_average"] = os.getloadavg()
    print("| measurement | value | target |\n| --- | --- | --- |")
    for name, t in res["startup_s"].items():
        print(f"| `{name}` | {t:.2f} s | <= 1 s |")
    for key, label in (("infer_labels", "labels only"), ("infer_labels_png", "labels + PNG")):
        r = res[key]
        print(f"| `infer` {label}: per-scan marginal ({r['scans']} scans) | {r['marginal_ms']:.0f} ms "
              "| <= 150 ms |")
        print(f"| `infer` {label}: first result from command start | {r['first_s']:.1f} s | <= 5 s |")
        print(f"| `infer` {label}: peak memory | {r['rss_mb']:.0f} MB | |")
    if "dense" in res:
        r = res["dense"]
        print(f"| `infer` of one {r['points'] / 1e6:.1f}-million-point cloud: peak memory "
              f"| {r['rss_mb']:.0f} MB | independent of density |")
    r = res["infer_keras_first_run"]
    print(f"| `infer --engine keras` labels only: first result / per-scan marginal | {r['first_s']:.1f} s / "
          f"{r['marginal_ms']:.0f} ms | |")
    print(f"| first `infer` ever (4 scans through Keras, then the LiteRT copy exported) | "
          f"{res['litert_copy_s']:.1f} s | once per weights |")
    net = res["network_4_windows_ms"]
    print(f"| network alone, 4 windows in one batch (this process) | {net:.0f} ms | |")
    if "int8" in res:
        print_int8(res["int8"])
    print(f"\nload average during the run: {', '.join(f'{v:.2f}' for v in res['load_average'])}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
