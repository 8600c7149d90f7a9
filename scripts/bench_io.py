"""Benchmark: reading and writing one real KITTI scan in every point-cloud format (median of repeats).

Usage: .venv/bin/python scripts/bench_io.py [--repeat 15]. Open3D's PCD reader (x, y, z only) is
the baseline for the PCD rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from squeezeseg.io import read_points, write_points
from squeezeseg.resources import shared_data_dir


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    scan = shared_data_dir() / "kitti_object" / "training" / "velodyne" / "000000.bin"
    if not scan.exists():
        raise SystemExit(f"{scan} not found: the benchmark needs the real sample data")
    points = read_points(scan)
    print(f"scan: {scan.name}, {len(points)} points, median of {args.repeat} runs")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("bin", "a.bin", "binary"), ("npy", "a.npy", "binary"), ("ply", "a.ply", "binary")]
        cases += [(f"pcd {e}", f"{e}.pcd", e) for e in ("binary", "binary_compressed", "ascii")]
        for name, file, enc in cases:
            path = Path(tmp) / file
            w = median_ms(lambda path=path, enc=enc: write_points(path, points, encoding=enc), args.repeat)
            r = median_ms(lambda path=path: read_points(path), args.repeat)
            print(f"{name:24s} write {w:8.2f} ms   read {r:8.2f} ms")
        try:
            import open3d as o3d
        except ImportError:
            return
        for enc in ("binary", "binary_compressed"):
            path = str(Path(tmp) / f"{enc}.pcd")
            r = median_ms(lambda path=path: o3d.io.read_point_cloud(path), args.repeat)
            print(f"open3d pcd {enc:13s}       read {r:8.2f} ms (x, y, z only; baseline)")


if __name__ == "__main__":
    main()
