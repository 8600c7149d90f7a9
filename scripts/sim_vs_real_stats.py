#!/usr/bin/env python
"""Statistics of simulated HDL-64E scans next to the real KITTI object frames in ../shared/data:
points per scan, ground fraction, points on a car at 10 m and 40 m; prints the table and the ratios.

Points on a car: the real frames hold cars only at 35 m and 61 m, so both real and simulated counts
are scaled to 10 m and 40 m by the inverse-square law (geometric mean over the cars in the camera
view). A second row measures the simulator directly: one sedan alone on the road 10 m / 40 m ahead.

    .venv/bin/python scripts/sim_vs_real_stats.py [--seeds 8]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from simulation.sequence import SequenceSimulator
from simulation.stats import ground_fraction, isolated_car_points, normalised_count, points_on_boxes
from simulation.writers import camera_boxes
from squeezeseg.errors import InputError
from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points
from squeezeseg.resources import shared_data_dir


def real_stats(root) -> dict:
    n, g, pairs, inten = [], [], [], []
    for velo in sorted((root / "velodyne").glob("*.bin")):
        pts = read_points(velo)
        inten.append(pts[:, 3])
        calib = read_kitti_calib(root / "calib" / f"{velo.stem}.txt")
        boxes = read_kitti_labels(root / "label_2" / f"{velo.stem}.txt", calib)
        n.append(len(pts))
        g.append(ground_fraction(pts))
        pairs += points_on_boxes(pts, boxes, ("Car",))
    if not n:
        raise InputError("no velodyne/*.bin frames", root)
    return {
        "frames": len(n),
        "points": np.mean(n),
        "ground": np.mean(g),
        "cars": pairs,
        "intensity": np.concatenate(inten),
    }


def sim_stats(seeds: int) -> dict:
    n, g, pairs, inten = [], [], [], []
    for seed in range(seeds):
        f = SequenceSimulator("hdl64e", frames=1, seed=seed).frame(0)
        inten.append(f.points[:, 3])
        n.append(len(f.points))
        g.append(ground_fraction(f.points))
        pairs += points_on_boxes(f.points, camera_boxes(f.boxes, f.calib), ("Car",))
    return {
        "frames": seeds,
        "points": np.mean(n),
        "ground": np.mean(g),
        "cars": pairs,
        "intensity": np.concatenate(inten),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="simulated scenes (frame 0 of each)")
    args = ap.parse_args(argv)
    root = shared_data_dir() / "kitti_object" / "training"
    if not root.is_dir():
        print(f"sim_vs_real_stats: error: {root}: real KITTI frames not found", file=sys.stderr)
        return 2
    real, sim = real_stats(root), sim_stats(args.seeds)
    direct = {d: float(np.median([isolated_car_points(d, s) for s in range(args.seeds)])) for d in (10, 40)}
    rows = [
        ("points per scan", real["points"], sim["points"]),
        ("ground fraction", real["ground"], sim["ground"]),
        ("points on a car at 10 m", normalised_count(real["cars"], 10), normalised_count(sim["cars"], 10)),
        ("points on a car at 40 m", normalised_count(real["cars"], 40), normalised_count(sim["cars"], 40)),
    ]
    print(
        f"real: {real['frames']} KITTI object frames, cars at "
        + ", ".join(f"{d:.0f} m ({c} pts)" for d, c in real["cars"])
    )
    print(f"sim:  {sim['frames']} scenes (seeds 0..{args.seeds - 1}), {len(sim['cars'])} cars in camera view")
    print("car counts: each car's points scaled to 10 m / 40 m by (d / 10)^2, (d / 40)^2, geometric mean")
    print(f"{'metric':28s} {'real':>10s} {'sim':>10s} {'sim/real':>9s}")
    worst = 1.0
    for name, r, s in rows:
        ratio = s / r
        worst = max(worst, ratio, 1 / ratio)
        print(f"{name:28s} {r:10.3f} {s:10.3f} {ratio:9.2f}")
    print(
        f"largest factor between sim and real: {worst:.2f} ({'within' if worst <= 1.5 else 'OUTSIDE'} 1.5x)"
    )
    for q in (10, 50, 90):
        r, s_ = np.percentile(real["intensity"], q), np.percentile(sim["intensity"], q)
        print(f"{'intensity, percentile ' + str(q):28s} {r:10.3f} {s_:10.3f} {s_ / r:9.2f}  (information)")
    print(
        f"for reference, a lone unoccluded sedan straight ahead (median of {args.seeds} seeds): "
        f"{direct[10]:.0f} points at 10 m, {direct[40]:.0f} at 40 m (no real car this close to compare)"
    )
    return 0 if worst <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
