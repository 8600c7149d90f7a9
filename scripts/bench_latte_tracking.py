"""Tracking accuracy on real data.

Default: the real KITTI tracks (../shared/data/kitti_tracking, labels only). Each track's true boxes
are fed to BoxTracker as the annotator's adjustments; before every update the tracker predicts the
centre on that frame and the error to the truth is recorded. The baseline copies the previous
frame's box. ``--estimate`` prints the velocity and acceleration spreads of the tracks (the initial
covariance of the filter in configs/latte.yaml comes from these).

``--drive``: the next-frame proposals on the real KITTI raw drive (../shared/data/kitti_raw, scans,
no labels). The cars of every frame are boxed independently by one click (OneClickAnnotator at the
centre of each 2 m cell with enough non-ground points; car-sized boxes only) and chained into tracks
by the nearest centre; each frame's box is the annotator's corrected box, and the proposal for the
next frame is compared with that frame's independent one-click box. Methods: copy (old
coordinates), Kalman filter only, + ego-motion, + the object's points registered and the box
re-centred (what the app does). Also the scan registration's time per step.

``--semantickitti``: the same methods on SemanticKITTI 00 (real instance labels, frames 0-2),
against boxes fitted to the instance points; and ``latte simulate-annotator`` operations with and
without ego-motion.

Usage: .venv/bin/python scripts/bench_latte_tracking.py [--data DIR] [--estimate] [--drive [--frames N]]
       [--semantickitti]
"""

from __future__ import annotations

import argparse
import os
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


# ---- proposals on real scans ------------------------------------------------------------------------
METHODS = ("copy", "kalman", "ego+kalman", "app: ego+kalman+points+recentre")


def car_boxes(ann, points: np.ndarray, max_range: float = 40.0) -> list[Box3D]:
    """Car-sized one-click boxes of one frame, clicked at the centre of every 2 m cell with at least
    30 non-ground points within ``max_range`` (the reference boxes of an unlabelled drive)."""
    ann.set_frame(points)
    xyz = ann._obj_xyz
    r = np.hypot(xyz[:, 0], xyz[:, 1])
    sel = (r > 4) & (r < max_range)
    cells: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
    for key, p in zip(map(tuple, (xyz[sel, :2] // 2).astype(int)), xyz[sel]):
        cells[key].append(p)
    out: list[Box3D] = []
    for ps in cells.values():
        if len(ps) < 30:
            continue
        c = np.mean(ps, axis=0)
        b = ann.click(c[0], c[1], "Car")
        if b is None or not 60 <= len(b.point_indices) <= 5000:
            continue
        length, width, height = b.size
        car_sized = 3.4 <= length <= 5.5 and 1.4 <= width <= 2.2 and 1.2 <= height <= 2.2
        if car_sized and all(b.bev_iou(o) <= 0.3 for o in out):
            out.append(b.replace(point_indices=None))
    return out


def chain(refs: list[list[Box3D]], reach: float = 1.5) -> list[list[Box3D]]:
    """Tracks from per-frame boxes: each box of frame 0 followed by the nearest box of the next frame
    within ``reach`` metres (frame coordinates; the drive is slow), until none is."""
    tracks = []
    for tid, b in enumerate(refs[0]):
        tr = [b.replace(track_id=tid)]
        for k in range(1, len(refs)):
            c = np.asarray(tr[-1].center[:2])
            cand = [(np.hypot(*(np.asarray(o.center[:2]) - c)), o) for o in refs[k]]
            cand = [x for x in cand if x[0] < reach]
            if not cand:
                break
            tr.append(min(cand, key=lambda x: x[0])[1].replace(track_id=tid))
        if len(tr) > 1:
            tracks.append(tr)
    return tracks


def proposal_errors(tracks, points_of, time_of, cfg) -> dict[str, list[tuple[float, float, bool]]]:
    """{method: [(centre error m, BEV IoU, first propagation of its track)]} of every next-frame
    proposal against the track's box in that frame."""
    from latte.core.ego_motion import EgoMotion
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.tracking import predict_track, propagate_box, track_proposals

    ego = EgoMotion(points_of, cfg, time_of)
    ann = OneClickAnnotator(cfg)
    out: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    n = max(len(t) for t in tracks)
    for k in range(1, n):
        live = [t for t in tracks if len(t) > k]
        if not live:
            continue
        ann.set_frame(points_of(k))
        for tr in live:
            hist, ref = tr[:k][-10:], tr[k]
            first = len(tr[:k]) == 1
            t_hist = [time_of(j) for j in range(k - len(hist), k)]
            props = {"copy": hist[-1]}
            kalman = predict_track(list(zip(t_hist, hist)), time_of(k))
            props["kalman"] = propagate_box(kalman, ann, margin=0.0)
            by_frame = {j: [b] for j, b in zip(range(k - len(hist), k), hist)}

            def boxes_of(j: int, by_frame=by_frame) -> list[Box3D]:
                return by_frame.get(j, [])

            no_pts = track_proposals(boxes_of, k - 1, k, time_of, None, ego)[0]
            props["ego+kalman"] = propagate_box(no_pts, ann, margin=0.0)
            props[METHODS[3]] = track_proposals(boxes_of, k - 1, k, time_of, ann, ego, points_of=points_of)[0]
            for m, p in props.items():
                err = float(np.hypot(*(np.asarray(p.center[:2]) - ref.center[:2])))
                out[m].append((err, p.bev_iou(ref), first))
    return out


def print_errors(title: str, res: dict[str, list[tuple[float, float, bool]]]) -> None:
    print(title)
    print(f"{'method':<34}{'n':>5}{'median m':>10}{'p90 m':>8}{'<=0.2 m':>9}{'IoU med':>9}"
          f"{'first: n':>10}{'median m':>10}{'IoU med':>9}")
    for m in METHODS:
        v = np.asarray(res[m])
        f = v[v[:, 2] == 1]
        print(f"{m:<34}{len(v):>5}{np.median(v[:, 0]):>10.3f}{np.percentile(v[:, 0], 90):>8.3f}"
              f"{np.mean(v[:, 0] <= 0.2) * 100:>8.0f}%{np.median(v[:, 1]):>9.3f}"
              f"{len(f):>10}{np.median(f[:, 0]) if len(f) else np.nan:>10.3f}"
              f"{np.median(f[:, 1]) if len(f) else np.nan:>9.3f}")


def bench_drive(frames: int) -> None:
    """Proposals on the real KITTI raw drive against independent one-click boxes; registration time."""
    import time

    from latte.core.config import load_latte_config
    from latte.core.ego_motion import EgoMotion
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.sequence import frame_time, open_sequence

    cfg = load_latte_config()
    seq = open_sequence(shared_data_dir() / "kitti_raw")
    n = min(frames, len(seq))
    ann = OneClickAnnotator(cfg)
    refs = [car_boxes(ann, seq.points(k)) for k in range(n)]
    tracks = chain(refs)
    print(f"KITTI raw {seq.name}: {n} frames, {sum(len(r) for r in refs)} one-click car boxes, "
          f"{len(tracks)} tracks ({sum(len(t) for t in tracks)} boxes)")
    time_of = lambda i: frame_time(seq, i, cfg.tracking.dt)  # noqa: E731
    res = proposal_errors(tracks, seq.points, time_of, cfg)
    print_errors("next-frame proposal vs the frame's one-click box", res)
    ego = EgoMotion(seq.points, cfg, time_of)
    secs, moved = [], []
    for i in range(1, n):
        t0 = time.perf_counter()
        step = ego.step(i)
        secs.append(time.perf_counter() - t0)
        moved.append(float(np.hypot(*step.T[:2, 3])))
    print(f"scan registration per step (read, ground, downsample, normals, ICP): median "
          f"{np.median(secs) * 1000:.0f} ms, max {max(secs) * 1000:.0f} ms; sensor moved "
          f"{np.median(moved):.2f} m per frame (median); all registered: "
          f"{all(ego.step(i).registered for i in range(1, n))}")


def bench_semantickitti() -> None:
    """The methods on SemanticKITTI 00 frames 0-2 against boxes of the instance labels, and the
    simulated annotator with ego-motion on and off."""
    import dataclasses

    from latte.core.config import load_latte_config
    from latte.core.formats import boxes_from_point_labels
    from latte.core.sequence import frame_time, open_sequence
    from latte.core.simulate_annotator import format_table, simulate

    cfg = load_latte_config()
    seq = open_sequence(shared_data_dir() / "semantickitti" / "sequences" / "00")
    labelled = [i for i in range(len(seq)) if seq[i].labels is not None]
    names = {c.semantic_id: c.name for c in cfg.classes}
    gt = {}
    for i in labelled:
        pts, fr = seq.points(i), seq[i]
        boxes = boxes_from_point_labels(pts, fr.labels, fr.instances, names)
        gt[i] = [b.replace(point_indices=None) for b in boxes if int(b.contains(pts).sum()) >= 30]
    ids = set.intersection(*({b.track_id for b in gt[i]} for i in labelled))
    tracks = [[next(b for b in gt[i] if b.track_id == t) for i in labelled] for t in sorted(ids)]
    time_of = lambda i: frame_time(seq, i, cfg.tracking.dt)  # noqa: E731
    print_errors(f"SemanticKITTI 00 frames {labelled}: {len(tracks)} instance tracks with >= 30 points",
                 proposal_errors(tracks, seq.points, time_of, cfg))
    frames = [(seq.points(i), gt[i], []) for i in labelled]
    times = [time_of(i) for i in labelled]
    for ego in (True, False):
        c = dataclasses.replace(cfg, tracking=dataclasses.replace(cfg.tracking, ego_motion=ego))
        print(f"simulated annotator, ego-motion {'on' if ego else 'off'}:")
        print(format_table(simulate(frames, c, min_points=30, times=times)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "kitti_tracking")
    ap.add_argument("--estimate", action="store_true")
    ap.add_argument("--drive", action="store_true", help="next-frame proposals on the real KITTI raw drive")
    ap.add_argument("--frames", type=int, default=30, help="frames of the drive (--drive)")
    ap.add_argument("--semantickitti", action="store_true", help="proposals and simulated annotator on "
                    "SemanticKITTI 00 instance labels")
    args = ap.parse_args()
    if args.drive or args.semantickitti:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.drive:
            bench_drive(args.frames)
        if args.semantickitti:
            bench_semantickitti()
        return 0
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
