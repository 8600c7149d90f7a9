"""Tracking accuracy on the real KITTI tracks (../shared/data/kitti_tracking).

Each track's true boxes are fed to BoxTracker as the annotator's adjustments; before every update
the tracker predicts the centre on that frame and the error to the truth is recorded. The baseline
copies the previous frame's box. Prints the error distribution overall and per class.
``--estimate`` prints the velocity and acceleration spreads of the tracks (the initial covariance
of the filter in configs/latte.yaml comes from these).

Usage: .venv/bin/python scripts/bench_latte_tracking.py [--data DIR] [--estimate]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from latte.core.tracking import BoxTracker
from squeezeseg.boxes import Box3D
from squeezeseg.calib import read_kitti_calib
from squeezeseg.io import read_tracking_labels
from squeezeseg.resources import shared_data_dir


def load_tracks(root: Path) -> dict[tuple[str, int], list[tuple[int, Box3D]]]:
    """{(sequence, track id): [(frame, box)]} of every labelled sequence under ``root``."""
    tracks: dict[tuple[str, int], list[tuple[int, Box3D]]] = defaultdict(list)
    for label_file in sorted((root / "label_02").glob("*.txt")):
        calib = read_kitti_calib(root / "calib" / label_file.name)
        for frame, boxes in read_tracking_labels(label_file, calib).items():
            for b in boxes:
                if b.track_id is not None:
                    tracks[(label_file.stem, b.track_id)].append((frame, b))
    return tracks


def evaluate(tracks, tracker_factory, dt: float) -> dict[str, list[tuple[float, float]]]:
    """{class: [(kalman error, copy-previous error)]} for every prediction."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, obs in tracks.items():
        tracker = tracker_factory()
        tid = key[1]
        prev = None
        for frame, box in obs:
            t = frame * dt
            if prev is None:
                tracker.start(tid, box, t)
            else:
                pred = tracker.predict(tid, t)
                e_kf = float(np.hypot(*(np.asarray(pred.center[:2]) - box.center[:2])))
                e_copy = float(np.hypot(*(np.asarray(prev.center[:2]) - box.center[:2])))
                out[box.label].append((e_kf, e_copy))
                tracker.update(tid, box, t)
            prev = box
    return out


def summarise(name: str, errs: np.ndarray) -> str:
    kf, cp = errs[:, 0], errs[:, 1]
    return (
        f"{name:<15} n={len(errs):5d}  Kalman median {np.median(kf):.3f} m, "
        f"p90 {np.percentile(kf, 90):.3f} m,"
        f" within 0.3 m {np.mean(kf <= 0.3) * 100:5.1f}%   | copy-previous median {np.median(cp):.3f} m,"
        f" within 0.3 m {np.mean(cp <= 0.3) * 100:5.1f}%"
    )


def estimate(tracks, dt: float) -> None:
    """Spreads of velocity and acceleration from consecutive-frame differences of the true centres."""
    v, a = [], []
    for obs in tracks.values():
        frames = np.array([f for f, _ in obs])
        c = np.array([b.center[:2] for _, b in obs])
        for i in range(len(obs) - 2):
            if frames[i + 2] - frames[i] == 2:
                v1, v2 = (c[i + 1] - c[i]) / dt, (c[i + 2] - c[i + 1]) / dt
                v.append(v1)
                a.append((v2 - v1) / dt)
    v, a = np.asarray(v), np.asarray(a)
    print(
        f"velocity std per axis {v.std(axis=0).round(2)} m/s; acceleration std per axis "
        f"{a.std(axis=0).round(2)} m/s^2 (median |a| {np.median(np.linalg.norm(a, axis=1)):.2f}); "
        f"{len(v)} samples"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "kitti_tracking")
    ap.add_argument("--estimate", action="store_true")
    args = ap.parse_args()
    tracks = load_tracks(args.data)
    dt = BoxTracker().config.tracking.dt
    if args.estimate:
        estimate(tracks, dt)
    res = evaluate(tracks, BoxTracker, dt)
    all_errs = np.concatenate([np.asarray(v) for v in res.values()])
    print(f"{len(tracks)} tracks in {len({k[0] for k in tracks})} sequences")
    print(summarise("all", all_errs))
    for cls in sorted(res):
        print(summarise(cls, np.asarray(res[cls])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
