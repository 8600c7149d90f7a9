"""Precision and recall of `latte prelabel --detector squeezedet` on the simulated demo drive (issue #23).

The drive is the one `latte --demo` opens (`latte.app.demo.demo_sequence`: 10 frames, seed 7, HDL-64E
with camera), generated into ``--cache`` (default runs/det/demo_cache, so a changed simulator never
mixes with the app's cache). Pre-labels go through the same path as the CLI (`prelabel_sequence` with
`detector_source(squeezedet_detector(model))`, tracking on) and are matched to the simulator's labels
with `latte.core.evaluate.evaluate_boxes` (same class, BEV IoU >= 0.5, each ground-truth box once).

Two ground-truth sets are reported: every labelled object of the frame ("all", most of them outside the
camera's view, which a camera detector cannot see), and the objects a camera pre-labeller can find
("camera": the 3D box projects at least half inside the image and holds at least ``--min-points``
LiDAR returns). The issue's target (precision >= 0.6 at recall >= 0.5) is read on "camera".

    .venv/bin/python scripts/bench_prelabel_squeezedet.py --model A.keras --model B.keras --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def camera_visible(box, calib, image_size: tuple[int, int], points: np.ndarray, min_points: int) -> bool:
    """At least half of the projected 3D box inside the image and ``min_points`` returns inside the box."""
    full = box.image_box(calib, None)
    if full is None:
        return False
    w, h = image_size
    clipped = np.clip(full, 0, [w - 1, h - 1, w - 1, h - 1])
    area = lambda b: max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)  # noqa: E731
    if area(clipped) < 0.5 * max(area(full), 1e-9):
        return False
    return int(box.contains(points[:, :3]).sum()) >= min_points


def ground_truth(seq, truth: dict, min_points: int) -> tuple[dict, dict]:
    """(all, camera-visible) ground truth per frame index."""
    every, visible = {}, {}
    for i in range(len(seq)):
        boxes = [b for b in truth.get(i, []) if b.label != "DontCare"]
        image, calib, pts = seq.image(i), seq.calib(i), np.asarray(seq.points(i))
        size = (image.shape[1], image.shape[0])
        every[i] = boxes
        visible[i] = [b for b in boxes if camera_visible(b, calib, size, pts, min_points)]
    return every, visible


def run_model(seq, model: str | None) -> tuple[dict, float]:
    """Pre-labels {frame index: boxes} of the sequence with this SqueezeDet, and seconds taken."""
    from latte.core.prelabel import detector_source, prelabel_sequence
    from latte.core.squeezedet_detector import squeezedet_detector

    t0 = time.perf_counter()
    frames = prelabel_sequence(seq, detector_source(squeezedet_detector(model)), track=True)
    return frames, time.perf_counter() - t0


def scores(pred: dict, gt: dict) -> dict:
    """Per-class and overall tp/fp/fn, precision and recall."""
    from latte.core.evaluate import evaluate_boxes

    res = evaluate_boxes(pred, gt)
    row = lambda r: {"tp": r.tp, "fp": r.fp, "fn": r.fn, "precision": r.precision, "recall": r.recall}  # noqa: E731
    return {"all_classes": row(res.all), **{c: row(r) for c, r in sorted(res.classes.items())}}


def false_positive_causes(pred: dict, visible: dict, every: dict, near: float = 0.1) -> dict:
    """What each pre-label unmatched among the camera-visible objects lies on: a same-class object that
    is not camera-visible, the labelled object of another class it overlaps most (BEV IoU >= ``near``,
    e.g. a truck called a car, or a car box lifted to the wrong place), or nothing. Counts by cause."""
    from latte.core.evaluate import match_frame
    from squeezeseg.boxes import bev_iou_matrix

    causes: dict[str, int] = {}
    for i, boxes in pred.items():
        hit = {m[0] for m in match_frame(boxes, visible.get(i, []))}
        rest = [b for k, b in enumerate(boxes) if k not in hit]
        gt = every.get(i, [])
        outside = {m[0] for m in match_frame(rest, gt)}
        iou = bev_iou_matrix(rest, gt) if gt else np.zeros((len(rest), 0))
        for k, b in enumerate(rest):
            if k in outside:
                key = f"{b.label} on a {b.label} not camera-visible"
            elif iou.shape[1] and iou[k].max() >= near:
                key = f"{b.label} on a {gt[int(np.argmax(iou[k]))].label} (BEV IoU < 0.5 or other class)"
            else:
                key = f"{b.label} on nothing"
            causes[key] = causes.get(key, 0) + 1
    return dict(sorted(causes.items()))


def demo_report(models: list[str | None], cache: str | Path, min_points: int = 10,
                log=print) -> dict:
    """Pre-label scores of each SqueezeDet of ``models`` (None: the shipped one) on the demo drive
    generated into ``cache``: {sequence, frames, gt_all, gt_camera, models: {name: scores}}."""
    from latte.app.demo import DEMO_FRAMES, demo_ground_truth, demo_sequence
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels

    seq_dir = demo_sequence(DEMO_FRAMES, cache=Path(cache), progress=False)
    seq = open_sequence(seq_dir)
    truth = read_tracking_labels(demo_ground_truth(seq_dir), seq.calib(0))
    every, visible = ground_truth(seq, truth, min_points)
    n_all, n_vis = sum(map(len, every.values())), sum(map(len, visible.values()))
    log(f"demo drive {seq_dir}: {len(seq)} frames, {n_all} labelled objects, {n_vis} camera-visible")
    report = {
        "sequence": str(seq_dir), "frames": len(seq), "gt_all": n_all, "gt_camera": n_vis, "models": {}
    }
    for model in models:
        pred, secs = run_model(seq, model)
        res = {"seconds": round(secs, 1), "boxes": sum(map(len, pred.values())),
               "camera": scores(pred, visible), "all": scores(pred, every),
               "false_positives": false_positive_causes(pred, visible, every)}
        report["models"][str(model or "shipped")] = res
        cam, al = res["camera"]["all_classes"], res["all"]["all_classes"]
        log(f"{model or 'shipped'}: {res['boxes']} boxes in {secs:.0f} s; camera-visible GT: precision "
            f"{cam['precision']:.3f} recall {cam['recall']:.3f} "
            f"(tp {cam['tp']} fp {cam['fp']} fn {cam['fn']}); "
            f"all GT: precision {al['precision']:.3f} recall {al['recall']:.3f}")
        for c, r in res["camera"].items():
            if c != "all_classes":
                log(f"    {c:<12} tp {r['tp']:>3} fp {r['fp']:>3} fn {r['fn']:>3}")
        for cause, n in res["false_positives"].items():
            log(f"    false positive: {n:>3} x {cause}")
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", help="SqueezeDet model(s) (default: the shipped one)")
    p.add_argument("--cache", default=str(REPO / "runs" / "det" / "demo_cache"))
    p.add_argument("--min-points", type=int, default=10)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()

    report = demo_report(args.model or [None], args.cache, args.min_points)
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2, allow_nan=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
