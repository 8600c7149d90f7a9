#!/usr/bin/env python3
"""Car and background intensity by range band, real against simulated (issue #19's diagnosis).

For each set: per range band (m, in the ground plane) the number of car points, the share of them
with intensity 0 and the 10/25/50/75/90th percentiles of car and of background intensity. Real sets:
the labelled SemanticKITTI frames (per point, the validation classes) and the KITTI object frames of
``kitti_object_more`` (box labels, front 90 degrees); simulated: every ``--every``-th labelled scan of
each SIM folder (SemanticKITTI or the simulator's kitti-raw layout). The real labels only measure.

Usage: .venv/bin/python scripts/intensity_by_class.py [SIM ...] [--every 20] [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BANDS = ((0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 80.0))
QUANTILES = (10, 25, 50, 75, 90)
CLASSES = ["unknown", "car", "pedestrian", "cyclist"]


def labelled_scan_points(pairs):
    """(intensity, ground range, class) of every point of SemanticKITTI-layout (scan, label) pairs."""
    from squeezeseg.classes import semantickitti_lookup
    from squeezeseg.evaluate import IGNORED_SEMANTICKITTI_IDS, VALIDATION_LABEL_MAP
    from squeezeseg.io import read_points, read_semantickitti_labels

    table = semantickitti_lookup(CLASSES, VALIDATION_LABEL_MAP)
    for scan, lab in pairs:
        pts = read_points(scan)
        ids, _ = read_semantickitti_labels(lab, n_points=len(pts))
        keep = ~np.isin(ids, IGNORED_SEMANTICKITTI_IDS)
        yield pts[keep, 3], np.hypot(pts[keep, 0], pts[keep, 1]), table[ids[keep]]


def kitti_object_points(root: Path):
    """(intensity, ground range, class) of the front-window points of labelled KITTI object frames."""
    from squeezeseg.evaluate import kitti_object_frames

    for _, pts, gc, _ in kitti_object_frames(root, CLASSES):
        front = pts[:, 0] > np.abs(pts[:, 1])
        yield pts[front, 3], np.hypot(pts[front, 0], pts[front, 1]), gc[front]


def band_table(frames) -> list[dict]:
    """One row per range band: car points, their zero share, car and background percentiles."""
    parts = list(frames)
    inten = np.concatenate([p[0] for p in parts])
    rng = np.concatenate([p[1] for p in parts])
    cls = np.concatenate([p[2] for p in parts])
    rows = []
    for lo, hi in BANDS:
        band = (rng >= lo) & (rng < hi)
        car, bg = inten[band & (cls == 1)], inten[band & (cls == 0)]
        rows.append({
            "band": f"{lo:g}-{hi:g} m", "car_points": int(len(car)),
            "car_zero": float(np.mean(car == 0)) if len(car) else None,
            "car": np.percentile(car, QUANTILES).round(2).tolist() if len(car) else None,
            "background": np.percentile(bg, QUANTILES).round(2).tolist() if len(bg) else None,
        })
    return rows


def print_table(name: str, rows: list[dict], frames: int) -> None:
    print(f"\n{name} ({frames} scans)")
    print("| range | car points | car at 0 | car p10/25/50/75/90 | background p10/25/50/75/90 |")
    print("| --- | ---: | ---: | --- | --- |")
    for r in rows:
        if not r["car_points"]:
            continue
        fmt = "/".join(f"{v:.2f}" for v in r["car"])
        bg = "/".join(f"{v:.2f}" for v in r["background"]) if r["background"] else "-"
        print(f"| {r['band']} | {r['car_points']} | {100 * r['car_zero']:.0f} % | {fmt} | {bg} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sim", nargs="*", type=Path, help="simulated folders with SemanticKITTI .label files")
    ap.add_argument("--every", type=int, default=20, help="take every n-th simulated scan")
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default ../shared/data)")
    args = ap.parse_args(argv)

    from squeezeseg.data.sources import semantickitti_frames
    from squeezeseg.errors import InputError
    from squeezeseg.resources import shared_data_dir

    root = args.data or shared_data_dir()
    sk = root / "semantickitti"
    if sk.is_dir():
        pairs = semantickitti_frames(sk, "all")
        print_table("real SemanticKITTI, whole scans", band_table(labelled_scan_points(pairs)), len(pairs))
    more = root / "kitti_object_more" / "training"
    if more.is_dir():
        rows = list(kitti_object_points(more))
        print_table("real KITTI object more, front 90 degrees", band_table(iter(rows)), len(rows))
    for folder in args.sim:
        try:
            pairs = semantickitti_frames(folder, "all")[:: max(1, args.every)]
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print_table(f"simulated {folder}", band_table(labelled_scan_points(pairs)), len(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
