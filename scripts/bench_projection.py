#!/usr/bin/env python
"""Benchmark spherical projection and unprojection on a real ~120k-point KITTI scan.

Prints, per case, the median / min / 90th percentile wall time, the median CPU time of this
process (less disturbed when other jobs share the cores) and the minor page faults per call.
Target from issue 2: project to 64x512 and 64x2048, and unproject back, each <= 5 ms median.

    .venv/bin/python scripts/bench_projection.py [--scan FILE] [--repeats 50] [--kernels compiled]
        [--profile] [--cold-start]

``--kernels`` picks the projection kernels timed (``compiled``, the numba loops a long run uses, by
default; ``numpy``, what a process uses for its first scans; see projection.set_kernels).

``--profile`` adds where the time of the two projections goes: the functions (Python, NumPy and
the compiled kernels) with the most own time, from cProfile over the same runs. ``--cold-start``
adds the first projection of a fresh process: with the NumPy kernels (what a CLI call pays by
default), and with the compiled ones, once with an empty numba cache (compiling the kernels) and once
with that cache filled.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from squeezeseg.io import read_points
from squeezeseg.projection import KERNEL_KINDS, SphericalProjection, set_kernels
from squeezeseg.resources import shared_data_dir

TARGET_MS = 5.0


def default_scan() -> Path:
    """The KITTI object frame of the shared data closest to 120,000 points."""
    files = sorted((shared_data_dir() / "kitti_object" / "training" / "velodyne").glob("*.bin"))
    if not files:
        sys.exit(f"no KITTI scans under {shared_data_dir()}; pass --scan")
    return min(files, key=lambda f: abs(f.stat().st_size // 16 - 120_000))


def measure(fn, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Wall and CPU times (ms) of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / repeats
    w, c = np.array(wall) * 1e3, np.array(cpu) * 1e3
    return {"median": float(np.median(w)), "min": float(w.min()), "p90": float(np.percentile(w, 90)),
            "cpu_median": float(np.median(c)), "faults": faults}


def profile(cases, repeats: int, top: int = 12) -> None:
    """Print the functions with the most own time over ``repeats`` runs of each case.

    NumPy ufunc calls (arithmetic, comparisons) count as own time of the function that makes them,
    so the projection stages show up by name; methods such as take or ufunc.at appear on their own.
    """
    for name, fn, _ in cases:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(repeats):
            fn()
        prof.disable()
        stats = pstats.Stats(prof).stats  # {(file, line, function): (cc, nc, own, cumulative, callers)}
        rows = sorted(((v[2], k) for k, v in stats.items()), reverse=True)[:top]
        print(f"\nprofile: {name}; own time per call, ms (cProfile adds a little)")
        for own, (file, line, func) in rows:
            where = f"{Path(file).name}:{line} " if line else ""
            print(f"  {own * 1e3 / repeats:7.3f}  {where}{func}")


_FIRST_CALL = """
import time
t0 = time.perf_counter()
from squeezeseg.io import read_points
from squeezeseg.projection import SphericalProjection
t1 = time.perf_counter()
points = read_points({scan!r})
proj = SphericalProjection.from_sensor({sensor!r}, width=512, fov_deg=90.0)
t2 = time.perf_counter()
proj.project(points)
t3 = time.perf_counter()
proj.project(points)
t4 = time.perf_counter()
print(t1 - t0, t3 - t2, t4 - t3)
"""


def cold_start(scan: Path, sensor: str) -> None:
    """Print the first projection of fresh processes: NumPy kernels, then compiled ones with an
    empty and then a filled numba cache.

    NUMBA_CACHE_DIR points numba at a new directory, so the first compiled run compiles every
    kernel and the second loads them, as every later process that uses them does.
    """
    code = _FIRST_CALL.format(scan=str(scan), sensor=sensor)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = (("NumPy kernels", "numpy"), ("empty numba cache (compiles)", "compiled"),
                ("filled numba cache", "compiled"))
        for label, kind in runs:
            env["SQUEEZESEG_PROJECTION_KERNELS"] = kind
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            imp, first, second = (float(v) for v in out[-3:])
            print(f"first projection, {label:<30} {first:7.3f} s  (import {imp:.3f} s, "
                  f"second call {second * 1e3:.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scan", type=Path, default=None, help="point cloud (default: KITTI frame ~120k points)")
    ap.add_argument("--sensor", default="hdl64e")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--kernels", choices=KERNEL_KINDS, default="compiled",
                    help="projection kernels to time (default compiled: the loops of a long run)")
    ap.add_argument("--profile", action="store_true", help="also print where the projection time goes")
    ap.add_argument("--cold-start", action="store_true",
                    help="also time the first projection of a fresh process (empty and filled numba cache)")
    args = ap.parse_args(argv)
    set_kernels(args.kernels)
    scan = args.scan or default_scan()
    points = read_points(scan)
    front = SphericalProjection.from_sensor(args.sensor, width=512, fov_deg=90.0)
    full = SphericalProjection.from_sensor(args.sensor, width=2048, fov_deg=360.0)
    ri_front, ri_full = front.project(points), full.project(points)
    rng = np.random.default_rng(0)
    lab_front = rng.integers(0, 4, ri_front.shape).astype(np.int32)
    lab_full = rng.integers(0, 4, ri_full.shape).astype(np.int32)
    cases = [
        (f"project 64x512 front 90 deg (rows: {ri_front.row_mode})", lambda: front.project(points), True),
        (f"project 64x2048 full circle (rows: {ri_full.row_mode})", lambda: full.project(points), True),
        ("unproject 64x512 -> points", lambda: front.unproject(lab_front, ri_front), True),
        ("unproject 64x2048 -> points", lambda: full.unproject(lab_full, ri_full), True),
        ("project 64x2048, rows by elevation table", lambda: full.project(points, rows="table"), False),
        ("unproject 64x2048 + 5-NN vote (5x5 window)",
         lambda: full.unproject(lab_full, ri_full, knn=5), False),
    ]
    load = os.getloadavg()
    print(f"scan: {scan} ({len(points):,} points), sensor {args.sensor}, {args.repeats} runs each, "
          f"{args.kernels} kernels")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}")
    print(f"{'case':<48} {'median':>8} {'min':>8} {'p90':>8} {'cpu med':>8} {'faults':>7}  target")
    failed = False
    for name, fn, gated in cases:
        m = measure(fn, args.repeats)
        verdict = ("ok" if m["median"] <= TARGET_MS else "OVER") if gated else "(info)"
        failed |= gated and m["median"] > TARGET_MS
        print(f"{name:<48} {m['median']:8.2f} {m['min']:8.2f} {m['p90']:8.2f} "
              f"{m['cpu_median']:8.2f} {m['faults']:7.0f}  {verdict}")
    print("times in ms (wall median/min/p90, process CPU median), minor page faults per call;")
    print("target <= 5 ms median for the gated cases. Page faults of fresh arrays cost CPU; with")
    print("MALLOC_MMAP_THRESHOLD_=536870912 MALLOC_TRIM_THRESHOLD_=536870912 glibc keeps them mapped.")
    if args.profile:
        profile(cases[:2], args.repeats)
    if args.cold_start:
        print()
        cold_start(scan, args.sensor)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
