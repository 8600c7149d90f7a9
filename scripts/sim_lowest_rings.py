#!/usr/bin/env python
"""The lowest laser rings of real and simulated HDL-64E scans, sector by sector (issue #18, item 4).

    .venv/bin/python scripts/sim_lowest_rings.py [--seed 0] [--sequences 24] [--from-row 48]

Real KITTI scans miss whole azimuth sectors in their lowest rows (behind and ahead of the sensor:
the recording car's body, whose returns are filtered out), which the simulator, without a dropout
map, does not. This prints the real return rate per row and 5.6-degree sector relative to each
row's 90th percentile sector (the "keep rate"), then applies that keep rate to rows ``--from-row``
and below of the simulated scans of ``--seed`` (the realism report's frames) and prints the JS
divergences of :class:`simulation.stats.ScanHistograms` with and without it, to see which rows of
``scripts/sim_vs_real.py`` such a mask would move. An experiment: nothing is written or shipped.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from simulation.sequence import SequenceSimulator
from simulation.stats import REAL_SCAN_FOLDERS, ScanHistograms
from squeezeseg.datasets import open_dataset
from squeezeseg.projection import SphericalProjection
from squeezeseg.resources import shared_data_dir

WIDTH, SECTORS, BEAMS = 2048, 64, 64
REPORT_FRAMES = (0, 50, 99)  # sim_vs_real.py's three frames of a 100-frame sequence


def sector_counts(points: np.ndarray, proj: SphericalProjection) -> np.ndarray:
    """(BEAMS, SECTORS) returns of one scan; sector 0 starts behind the sensor (azimuth 180 deg)."""
    img = proj.project(points[:, :4])
    rows, cols = np.asarray(img.rows), np.asarray(img.cols)
    inside = rows >= 0
    out = np.zeros((BEAMS, SECTORS))
    np.add.at(out, (rows[inside], cols[inside] * SECTORS // WIDTH), 1)
    return out


def real_keep_rate(proj: SphericalProjection, hist: ScanHistograms) -> np.ndarray:
    """(BEAMS, SECTORS) mean returns of every real scan, over its row's 90th percentile sector."""
    root = shared_data_dir()
    total, scans = np.zeros((BEAMS, SECTORS)), 0
    for name in REAL_SCAN_FOLDERS:
        ds = open_dataset(root / name)
        for i in range(len(ds)):
            pts = ds[i].points
            hist.add(pts)
            total += sector_counts(pts, proj)
            scans += 1
    rate = total / max(scans, 1)
    return np.clip(rate / np.maximum(np.percentile(rate, 90, axis=1, keepdims=True), 1e-9), 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sequences", type=int, default=24)
    ap.add_argument("--from-row", type=int, default=48, help="mask this row and the lower ones (0 = top)")
    args = ap.parse_args(argv)
    if args.sequences < 1 or not 0 <= args.from_row < BEAMS:
        print(f"--sequences must be >= 1 and --from-row in 0-{BEAMS - 1}", file=sys.stderr)
        return 2
    if not (shared_data_dir() / "kitti_raw").is_dir():
        print(f"no real scans under {shared_data_dir()}", file=sys.stderr)
        return 2
    proj = SphericalProjection.from_sensor("hdl64e", width=WIDTH, fov_deg=360.0, rows="table")
    real = ScanHistograms(seed=1)
    keep = real_keep_rate(proj, real)
    keep[: args.from_row] = 1.0
    step = SECTORS // 16
    print(f"real keep rate, 16 sectors of {360 / 16:.1f} deg (first: behind the sensor), lowest rows:")
    for r in range(BEAMS - 1, BEAMS - 9, -1):
        print(f"  row {r}: " + " ".join(f"{v:.2f}" for v in keep[r].reshape(16, step).mean(1)))
    rng = np.random.default_rng(args.seed)
    plain, masked = ScanHistograms(seed=2), ScanHistograms(seed=2)
    for s in range(args.sequences):
        sim = SequenceSimulator("hdl64e", frames=100, seed=args.seed, sequence=s)
        for k in REPORT_FRAMES:
            pts = sim.frame(k).points
            plain.add(pts)
            img = proj.project(pts[:, :4])
            rows, cols = np.maximum(np.asarray(img.rows), 0), np.maximum(np.asarray(img.cols), 0)
            kept = (np.asarray(img.rows) < 0) | (rng.random(len(pts)) < keep[rows, cols * SECTORS // WIDTH])
            masked.add(pts[kept])
    print(f"lower half's returns kept by the mask: {keep[BEAMS // 2 :].mean():.3f}")
    for tag, h in (("sim", plain), ("sim + real sector mask", masked)):
        js = real.divergences(h)
        print(f"{tag}: " + ", ".join(f"{k} {v:.4f}" for k, v in js.items()), end="")
        print(" | range p10/p50/p90 " + "/".join(f"{q:.2f}" for q in h.quantiles("range")))
    print("real range p10/p50/p90 " + "/".join(f"{q:.2f}" for q in real.quantiles("range")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
