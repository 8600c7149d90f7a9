"""How good are the LiDAR-guided labels? Measured on the LABELLED real KITTI object frames (issue #23).

Runs the labeller of `scripts/lidar_guided_labels.py` (same segmenter, ground removal, clustering, fit
and DontCare rules, same defaults) on the six labelled real frames and matches its Car/Van boxes to the
KITTI Car/Van labels: recall at IoU 0.5 and 0.7 by the labels' height, precision of the boxes, and how
many labelled cars lie in a DontCare region instead. A measurement only: nothing here trains or tunes,
and the labeller's defaults were set before it was run.

    .venv/bin/python scripts/lidar_labels_vs_real.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

VEHICLES = ("Car", "Van")


def match(frames: list[tuple[list, list]]) -> dict:
    """Counts over frames of (labelled objects, labeller objects), one-to-one greedy matching by IoU:
    recall at IoU 0.5 / 0.7 (all labelled vehicles and those >= 25 px tall), precision at IoU 0.5,
    missed labelled vehicles whose centre lies in a DontCare region of the labeller."""
    from squeezeseg.detection.box2d import greedy_pairs, iou_matrix
    from squeezeseg.detection.targets import ignored_anchors

    out = dict.fromkeys(["labelled", "labelled_25px", "found50", "found70", "found50_25px", "found70_25px",
                         "boxes", "correct50", "under_dontcare"], 0)
    for gt, pred in frames:
        g = np.array([o.box for o in gt if o.label in VEHICLES], dtype=np.float64).reshape(-1, 4)
        p = np.array([o.box for o in pred if o.label in VEHICLES], dtype=np.float64).reshape(-1, 4)
        dc = np.array([o.box for o in pred if o.label == "DontCare"], dtype=np.float64).reshape(-1, 4)
        best = np.zeros(len(g))
        for _, i, iou in greedy_pairs(iou_matrix(p, g), 0.0):
            best[i] = iou
        tall = (g[:, 3] - g[:, 1]) >= 25
        out["labelled"] += len(g)
        out["labelled_25px"] += int(tall.sum())
        for t in (50, 70):
            out[f"found{t}"] += int((best >= t / 100).sum())
            out[f"found{t}_25px"] += int(((best >= t / 100) & tall).sum())
        out["boxes"] += len(p)
        out["correct50"] += int((best >= 0.5).sum())
        centres = np.c_[(g[:, 0] + g[:, 2]) / 2, (g[:, 1] + g[:, 3]) / 2, np.zeros((len(g), 2))]
        out["under_dontcare"] += int((ignored_anchors(centres, dc) & (best < 0.5)).sum())
    return out


def main() -> int:
    import lidar_guided_labels as lg

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = p.parse_args()
    defaults = lg.parser().parse_args([])
    data = Path(args.data)
    roots = [data / "kitti_object" / "training", data / "kitti_object_more" / "training"]
    roots = [r for r in roots if (r / "label_2").is_dir()]
    if not roots:
        print(f"no labelled KITTI object frames under {data}: nothing to measure")
        return 0

    import squeezeseg
    from latte.core.oneclick import OneClickAnnotator
    from squeezeseg.datasets import open_dataset
    from squeezeseg.detection.labels import read_kitti_2d

    segmenter, ann, frames = squeezeseg.load_model(), OneClickAnnotator(), []
    for root in roots:
        ds = open_dataset(root)
        for i in range(len(ds)):
            fr = ds[i]
            pred = lg.frame_labels(np.asarray(fr.points), fr.image, fr.calib, segmenter, ann, defaults)
            gt = read_kitti_2d(root / "label_2" / f"{fr.frame_id}.txt")
            frames.append((gt, pred))
            found = match([(gt, pred)])
            print(f"{root.parent.name}/{fr.frame_id}: {found['labelled']} labelled vehicles, "
                  f"{found['boxes']} labeller boxes, {found['found50']} found at IoU 0.5, "
                  f"{found['found70']} at 0.7, {found['under_dontcare']} under DontCare")
    c = match(frames)
    print(f"\nall {len(frames)} frames: recall at IoU 0.5 {c['found50']}/{c['labelled']}, at 0.7 "
          f"{c['found70']}/{c['labelled']}; vehicles >= 25 px: {c['found50_25px']}/{c['labelled_25px']} and "
          f"{c['found70_25px']}/{c['labelled_25px']}; precision at IoU 0.5 {c['correct50']}/{c['boxes']}; "
          f"missed vehicles under a DontCare region {c['under_dontcare']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
