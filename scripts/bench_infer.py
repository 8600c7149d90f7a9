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
  for how busy the machine was.

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


def infer(scans: Path, tmp: Path, png: bool) -> dict[str, float]:
    out = tmp / ("infer_png" if png else "infer")
    cmd = [str(BIN / "squeezeseg"), "infer", str(scans), "--out", str(out), "--no-progress"]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=Path, default=DATA / "kitti_pcd" / "data_2", help="folder of full scans")
    ap.add_argument("--runs", type=int, default=5, help="start-up runs per command (median)")
    ap.add_argument("--dense", type=int, default=16, help="copies of one scan in the dense cloud (0: skip)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    if not args.scans.is_dir():
        raise SystemExit(f"{args.scans}: no such folder of scans (real data lives in ../shared/data)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    scan = sorted(p for p in args.scans.iterdir() if p.is_file())[0]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        res = {"startup_s": startup(args.runs, scan, tmp)}
        timed([str(BIN / "squeezeseg"), "infer", str(scan), "--out", str(tmp / "warm"), "--no-progress"])
        res["infer_labels"] = infer(args.scans, tmp, png=False)
        res["infer_labels_png"] = infer(args.scans, tmp, png=True)
        if args.dense:
            res["dense"] = dense(scan, tmp, args.dense)
    res["network_4_windows_ms"] = network_ms()
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
    net = res["network_4_windows_ms"]
    print(f"| network alone, 4 windows in one batch (this process) | {net:.0f} ms | |")
    print(f"\nload average during the run: {', '.join(f'{v:.2f}' for v in res['load_average'])}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
