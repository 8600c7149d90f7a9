"""One-click accuracy and latency on the real KITTI object frames (../shared/data/kitti_object).

For every labelled object with at least --min-points points inside its box, click the non-ground
point nearest the box centre and compare the fitted box with the ground truth (BEV IoU and the
error of its heading, modulo 180 degrees). Also times
ground removal per frame and one click (cluster + fit) per object, repeated --repeat times.

Usage: .venv/bin/python scripts/bench_latte_oneclick.py [--data DIR] [--repeat 20] [--no-label]
       [--angle-refine-deg D]   (override oneclick.angle_refine_deg: how the median moves with it)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from latte.core.config import load_latte_config
from latte.core.ground import fit_ground, ground_mask
from latte.core.oneclick import OneClickAnnotator
from latte.core.sequence import open_sequence
from squeezeseg.io import read_kitti_labels
from squeezeseg.resources import shared_data_dir


def heading_error_deg(yaw: float, gt_yaw: float) -> float:
    """Degrees between a fitted and a labelled heading, modulo 180 (a box's front and back look
    alike from the points; its length axis does not)."""
    return float(np.degrees(abs(np.angle(np.exp(2j * (yaw - gt_yaw)))) / 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "kitti_object")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--min-points", type=int, default=30)
    ap.add_argument("--no-label", action="store_true", help="let the annotator guess the class")
    ap.add_argument("--angle-refine-deg", type=float, help="override oneclick.angle_refine_deg")
    args = ap.parse_args()
    seq = open_sequence(args.data)
    config = load_latte_config()
    if args.angle_refine_deg is not None:
        oneclick = dataclasses.replace(config.oneclick, angle_refine_deg=args.angle_refine_deg)
        config = dataclasses.replace(config, oneclick=oneclick)
    ann = OneClickAnnotator(config)
    ious, ground_ms, click_ms, missed, yaw_err = [], [], [], [], []
    ground_cpu, click_cpu = [], []
    for i in range(len(seq)):
        pts = seq.points(i)
        gt = read_kitti_labels(seq.frames[i].labels, seq.calib(i))
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            ground_mask(pts, ann.config.ground, fit_ground(pts, ann.config.ground))
            ground_ms.append((time.perf_counter() - t0) * 1e3)
            ground_cpu.append((time.process_time() - c0) * 1e3)
        ann.set_frame(pts)
        non_ground = ~ann.is_ground
        for box in gt:
            inside = box.contains(pts)
            n = int(inside.sum())
            if n < args.min_points:
                continue
            cand = np.flatnonzero(inside & non_ground)
            if len(cand) == 0:
                cand = np.flatnonzero(inside)
            d = np.linalg.norm(pts[cand, :2] - np.asarray(box.center[:2]), axis=1)
            cx, cy = pts[cand[np.argmin(d)], :2]
            label = None if args.no_label else box.label
            fitted = None
            first = len(click_cpu)
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                fitted = ann.click(float(cx), float(cy), label)
                click_ms.append((time.perf_counter() - t0) * 1e3)
                click_cpu.append((time.process_time() - c0) * 1e3)
            iou = 0.0 if fitted is None else box.bev_iou(fitted)
            if fitted is None:
                missed.append((seq.frame_id(i), box.label))
            else:
                yaw_err.append(heading_error_deg(fitted.yaw, box.yaw))
            ious.append(iou)
            rng = float(np.hypot(*box.center[:2]))
            print(
                f"frame {seq.frame_id(i)} {box.label:<10} range {rng:5.1f} m  points {n:5d}  "
                f"BEV IoU {iou:.4f}  click CPU {np.median(click_cpu[first:]):.1f} ms"
                + (
                    ""
                    if fitted is None
                    else f"  fitted {fitted.label} l={fitted.size[0]:.2f} w={fitted.size[1]:.2f} "
                    f"yaw error {heading_error_deg(fitted.yaw, box.yaw):.1f} deg"
                )
            )
    ious = np.asarray(ious)
    print(f"objects with >= {args.min_points} points: {len(ious)}; missed (no box): {len(missed)} {missed}")
    print(f"one-click BEV IoU: median {np.median(ious):.4f}, mean {ious.mean():.3f}, min {ious.min():.3f}")
    print(f"heading error (mod 180): median {np.median(yaw_err):.1f} deg, max {np.max(yaw_err):.1f} deg")
    print(
        f"ground removal: median {np.median(ground_ms):.1f} ms over {len(ground_ms)} runs "
        f"({len(pts)} points in the last frame)"
    )
    print(
        f"one click (cluster + fit): median {np.median(click_ms):.1f} ms, "
        f"p95 {np.percentile(click_ms, 95):.1f} ms over {len(click_ms)} clicks"
    )
    # On a shared machine wall time includes waiting for the CPU; process time is the work itself.
    print(
        f"CPU time: ground median {np.median(ground_cpu):.1f} ms; "
        f"click median {np.median(click_cpu):.1f} ms, p95 {np.percentile(click_cpu, 95):.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
