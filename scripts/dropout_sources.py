#!/usr/bin/env python3
"""Which real scans the simulator's dropout model should be measured on (docs/simulation.md,
"Which real scans to measure it on").

1. Per source folder of ../shared/data: the dropout map (``simulation.estimate_dropout_map``, 512 x 90
   degrees) and its mean over row bands: a source whose scenes leave rows empty (a bus's windows
   beside the car) shows up as a band far above the others.
2. For two source sets (the old and the current default of ``train_default_model.py``): the share of
   the pixels of real cars that the map keeps, by range, over the rows the labelled SemanticKITTI car
   points fall in (the labels only say where cars are; nothing is trained).

Usage: .venv/bin/python scripts/dropout_sources.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

SOURCES = ("kitti_object/testing/velodyne", "kitti_pcd", "kitti_raw")
BANDS = ((0, 8), (8, 16), (16, 32), (32, 48), (48, 64))
RANGES = ((0, 10), (10, 20), (20, 30), (30, 50))


def car_rows_and_ranges(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Range-image row (full-circle HDL-64E projection) and ground-plane range of every labelled car
    point of the SemanticKITTI frames under ``root``."""
    from squeezeseg.data.sources import semantickitti_frames
    from squeezeseg.io import read_points, read_semantickitti_labels
    from squeezeseg.projection import SphericalProjection

    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0)
    rows, ranges = [], []
    for scan, lab in semantickitti_frames(root, "all"):
        pts = read_points(scan)
        ids, _ = read_semantickitti_labels(lab, n_points=len(pts))
        index = proj.project(pts).index
        row = np.full(len(pts), -1)
        r, c = np.nonzero(index >= 0)
        row[index[r, c]] = r
        car = np.isin(ids, (10, 252)) & (row >= 0)
        rows.append(row[car])
        ranges.append(np.hypot(pts[car, 0], pts[car, 1]))
    return np.concatenate(rows), np.concatenate(ranges)


def main() -> int:
    from train_default_model import DROPOUT_SOURCES, dropout_map

    from simulation import estimate_dropout_map
    from squeezeseg.resources import shared_data_dir

    root = shared_data_dir()
    print("| source | scans | all | " + " | ".join(f"rows {a}-{b - 1}" for a, b in BANDS) + " |")
    for sub in SOURCES:
        if not (root / sub).is_dir():
            print(f"| {sub} | missing |")
            continue
        m = estimate_dropout_map(root / sub, "hdl64e", 512, 90.0)
        rm = m.prob.mean(axis=1)
        print(f"| {sub} | {m.frames} | {m.prob.mean():.3f} | "
              + " | ".join(f"{rm[a:b].mean():.3f}" for a, b in BANDS) + " |")
    sk = root / "semantickitti" / "sequences" / "00"
    if not sk.is_dir():
        print(f"no labelled SemanticKITTI frames under {sk}: kept shares left out")
        return 0
    rows, ranges = car_rows_and_ranges(sk)
    sets = {"old (kitti_object/testing, kitti_raw)": ("kitti_object/testing/velodyne", "kitti_raw"),
            "current default": DROPOUT_SOURCES}
    for name, sources in sets.items():
        dmap = dropout_map(sources=tuple(sources))
        if dmap is None:
            continue
        keep = 1.0 - dmap.prob.mean(axis=1)  # outside the map's window a point uses its row's mean
        cells = [f"{a}-{b} m {keep[rows[(ranges >= a) & (ranges < b)]].mean():.3f}"
                 for a, b in RANGES if ((ranges >= a) & (ranges < b)).any()]
        print(f"kept share of real car pixels, {name}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
