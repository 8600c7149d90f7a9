"""One-click accuracy and latency on the real labelled KITTI object frames of ../shared/data.

Frames: kitti_object/training and kitti_object_more/training (6 labelled frames; --data picks
others). For every labelled object with at least --min-points points inside its box, click the
non-ground point nearest the box centre (the class given, as an annotator would) and compare the
fitted box with the ground truth (BEV IoU and the error of its heading, modulo 180 degrees). The
medians are reported over the issue's classes (Car, Van, Pedestrian, Cyclist), per class, and over
every labelled class. Also times ground removal per frame and one click (cluster + fit) per
object, repeated --repeat times.

Usage: .venv/bin/python scripts/bench_latte_oneclick.py [--data DIR ...] [--repeat 20] [--no-label]
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
from squeezeseg.boxes import heading_error_deg
from squeezeseg.io import read_kitti_labels
from squeezeseg.resources import shared_data_dir

TARGET_CLASSES = ("Car", "Van", "Pedestrian", "Cyclist")  # the classes issue #20 item 4 scores


def default_folders() -> list[Path]:
    """The labelled real KITTI object folders of ../shared/data that exist."""
    root = shared_data_dir()
    return [p for p in (root / "kitti_object", root / "kitti_object_more" / "training") if p.exists()]


def summarise(rows: list[tuple[str, float]], yaw_err: list[tuple[str, float]]) -> None:
    """Median BEV IoU over the target classes, per class and over every class."""
    def med(vals: list[float]) -> str:
        return f"{np.median(vals):.4f} (n={len(vals)})" if vals else "- (n=0)"

    target = [iou for label, iou in rows if label in TARGET_CLASSES]
    print(f"one-click BEV IoU, {'/'.join(TARGET_CLASSES)}: median {med(target)}")
    for label in sorted({label for label, _ in rows}):
        ious = [iou for lb, iou in rows if lb == label]
        errs = [e for lb, e in yaw_err if lb == label]
        print(
            f"  {label:<10} median {med(ious)}  min {min(ious):.3f}  "
            f"heading error median {np.median(errs) if errs else np.nan:.1f} deg"
        )
    ious = np.array([iou for _, iou in rows])
    print(f"every class: median {med(list(ious))}, mean {ious.mean():.3f}, min {ious.min():.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, nargs="+", help="KITTI object folders (default: both samples)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--min-points", type=int, default=30)
    ap.add_argument("--no-label", action="store_true", help="let the annotator guess the class")
    ap.add_argument("--angle-refine-deg", type=float, help="override oneclick.angle_refine_deg")
    args = ap.parse_args()
    folders = args.data or default_folders()
    if not folders:
        print(f"no labelled KITTI object frames under {shared_data_dir()}")
        return 2
    config = load_latte_config()
    if args.angle_refine_deg is not None:
        oneclick = dataclasses.replace(config.oneclick, angle_refine_deg=args.angle_refine_deg)
        config = dataclasses.replace(config, oneclick=oneclick)
    ann = OneClickAnnotator(config)
    rows: list[tuple[str, float]] = []
    yaw_err: list[tuple[str, float]] = []
    ground_ms, click_ms, missed, ground_cpu, click_cpu = [], [], [], [], []
    for folder in folders:
        seq = open_sequence(folder)
        for i in range(len(seq)):
            if seq.frames[i].labels is None:
                continue
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
                    yaw_err.append((box.label, heading_error_deg(fitted.yaw, box.yaw)))
                rows.append((box.label, iou))
                rng = float(np.hypot(*box.center[:2]))
                print(
                    f"frame {seq.frame_id(i)} {box.label:<10} range {rng:5.1f} m  points {n:5d}  "
                    f"BEV IoU {iou:.4f}  click CPU {np.median(click_cpu[first:]):.1f} ms"
                    + (
                        ""
                        if fitted is None
                        else f"  fitted {fitted.label} l={fitted.size[0]:.2f} w={fitted.size[1]:.2f} "
                        f"(label {box.size[0]:.2f} x {box.size[1]:.2f}) "
                        f"yaw error {heading_error_deg(fitted.yaw, box.yaw):.1f} deg"
                    )
                )
    print(f"objects with >= {args.min_points} points: {len(rows)}; missed (no box): {len(missed)} {missed}")
    summarise(rows, yaw_err)
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
