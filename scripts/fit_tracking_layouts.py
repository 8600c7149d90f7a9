#!/usr/bin/env python
"""Fit the simulator's object layouts to the KITTI tracking labels: per class (Car, Van, Truck,
Pedestrian, Cyclist) the per-frame count histogram and a subsample of objects as (x, y, heading
relative to the ego, l, w, h) in the Velodyne frame; writes simulation/data/tracking_layouts.json.

    .venv/bin/python scripts/fit_tracking_layouts.py [--data ../shared/data/kitti_tracking]
                                                     [--every 5] [--out simulation/data/tracking_layouts.json]

Source: ``label_02/<seq>.txt`` + ``calib/<seq>.txt`` of the tracking training sequences there (boxes in
the rectified camera frame, turned into the Velodyne frame with each sequence's calibration by
``squeezeseg.datasets.open_dataset``). Every frame counts in the count histograms and in each
sequence's mean counts (a street's traffic level); the object samples
are the boxes of every ``--every``-th frame (consecutive frames hold nearly the same boxes). The camera's
horizontal field of view (from P2 and the image width) is stored too, because the labels only cover
it: :mod:`simulation.tracking_layouts` needs it to extend the layouts to 360 degrees.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from simulation.tracking_layouts import CLASSES, DEFAULT_PATH, LICENCE, validate
from squeezeseg.atomic import atomic_write_text
from squeezeseg.datasets import open_dataset
from squeezeseg.errors import InputError
from squeezeseg.resources import shared_data_dir

IMAGE_WIDTH = 1242  # px, KITTI tracking left colour images (1224-1242 wide; the widest bounds the view)


def half_fov_deg(P2: np.ndarray, width: int = IMAGE_WIDTH) -> tuple[float, float]:
    """(left, right) half-angles in degrees of the horizontal field of view of camera 2."""
    fx, cx = float(P2[0, 0]), float(P2[0, 2])
    return float(np.degrees(np.arctan(cx / fx))), float(np.degrees(np.arctan((width - cx) / fx)))


def fit(root: Path, every: int) -> dict:
    """The statistics of all tracking sequences under ``root``."""
    from squeezeseg.datasets.kitti_tracking import _sequences

    seqs = _sequences(root)
    if not seqs:
        raise InputError("no tracking sequences (label_02/*.txt) found", root)
    counts: dict[str, Counter] = {c: Counter() for c in CLASSES}
    samples: dict[str, list[list[float]]] = {c: [] for c in CLASSES}
    fovs, frames = [], 0
    per_seq: dict[str, dict] = {}
    for seq in seqs:
        ds = open_dataset(root, sequence=seq)
        calib = ds.calib(0)
        if calib is None:
            raise InputError(f"sequence {seq} has no calib/{seq}.txt", root)
        fovs.append(half_fov_deg(calib.P2))
        seq_counts = Counter()
        for i in range(len(ds)):
            boxes = ds[i].boxes or []
            frames += 1
            per = Counter(b.label for b in boxes)
            seq_counts.update(per)
            for c in CLASSES:
                counts[c][per.get(c, 0)] += 1
            if i % every:
                continue
            for b in boxes:
                if b.label in samples:
                    yaw = float((b.yaw + np.pi) % (2 * np.pi) - np.pi)
                    samples[b.label].append([*map(float, b.center[:2]), yaw, *map(float, b.size)])
        means = {c: round(seq_counts[c] / len(ds), 4) for c in CLASSES}
        per_seq[seq] = {"frames": len(ds), "mean_count": means}
    left, right = float(min(f[0] for f in fovs)), float(min(f[1] for f in fovs))
    out = {
        "source": f"KITTI tracking training labels, sequences {', '.join(seqs)} (label_02 + calib), "
        f"fitted by scripts/fit_tracking_layouts.py --every {every}",
        "licence": LICENCE,
        "frame": "Velodyne: x forward, y left (m), heading = box yaw relative to the ego's heading (rad)",
        "frames": frames,
        "camera_half_fov_deg": [round(left, 2), round(right, 2)],
        "sequences": per_seq,
        "classes": {},
    }
    for c in CLASSES:
        hist = [counts[c].get(k, 0) for k in range(max(counts[c]) + 1)]
        rows = [[round(v, 2) for v in s] for s in samples[c]]
        out["classes"][c] = {"count_histogram": hist, "samples": rows}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "kitti_tracking")
    ap.add_argument("--every", type=int, default=5, help="sample the boxes of every N-th frame")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = ap.parse_args(argv)
    if not (args.data / "label_02").is_dir():
        print(f"fit_tracking_layouts: error: {args.data}: no label_02 folder", file=sys.stderr)
        return 2
    try:
        stats = fit(args.data, max(1, args.every))
        validate(stats, args.out)
    except InputError as exc:
        print(f"fit_tracking_layouts: error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(stats, separators=(",", ":"))
    text = text.replace('"samples":[[', '"samples":[\n[').replace("],[", "],\n[")
    atomic_write_text(args.out, text + "\n")
    for c, v in stats["classes"].items():
        n = np.arange(len(v["count_histogram"]))
        mean = float(np.dot(n, v["count_histogram"]) / stats["frames"])
        print(f"{c:10s} {mean:5.2f} per frame, {len(v['samples'])} samples")
    print(
        f"wrote {args.out} ({stats['frames']} frames, "
        f"camera half field of view {stats['camera_half_fov_deg']} degrees)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
