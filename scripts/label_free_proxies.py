#!/usr/bin/env python3
"""Can a figure measured without labels pick segmentation models? (issue #19)

For each model: on the unlabelled real scans the shipped batch norm is calibrated on
(``train_default_model.CALIBRATION_SOURCES``) the share of valid pixels the network calls car before
and after the vehicle shape check, the share of its car pixels the check rejects as shaped like no
vehicle, and the share of its car pixels that stay car with the car score lowered by 0.25 (how far its
real car decisions are from the edge); then the real validation (``evaluate_real``: car IoU per
labelled set, the empty view's false cars) and Spearman's rank correlation of every label-free figure
(and of each real set) with every real one, over the models.
A label-free figure that tracked the real ones could choose between trainings without reading labels.

Usage: .venv/bin/python scripts/label_free_proxies.py MODEL.keras MODEL.keras ... [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

LABEL_FREE = ("raw_car_share", "car_share", "rejected_share", "car_kept_m025")
MARGIN_BIAS = -0.25  # car score shift of the margin figure (docs/domain-adaptation.md, "Ninth round")
REAL = ("semantickitti", "kitti_object_more", "squeezeseg_sample", "mean", "empty_view")


def label_free(seg, scans: list[Path]) -> dict:
    """Car pixel shares of ``seg`` on ``scans`` (whole circle), before and after the shape check."""
    from squeezeseg.io import read_points
    from squeezeseg.plausibility import suppress_implausible_cars

    car = seg.classes.index("car")
    check = seg.shape_check
    seg.shape_check = False
    raw = kept = valid = 0
    try:
        for scan in scans:
            pred = seg.predict_scan(read_points(scan), full_circle=True)
            ok = pred.image[..., 4] > 0
            after = suppress_implausible_cars(pred.image, pred.image_labels, car, full_circle=True)
            raw += int(((pred.image_labels == car) & ok).sum())
            kept += int(((after == car) & ok).sum())
            valid += int(ok.sum())
    finally:
        seg.shape_check = check
    return {"raw_car_share": raw / max(valid, 1), "car_share": kept / max(valid, 1),
            "rejected_share": 1 - kept / max(raw, 1)}


def margin(seg, scans: list[Path], raw_car_share: float, bias: float = MARGIN_BIAS) -> float:
    """The share of ``seg``'s car pixels (before the shape check; ``raw_car_share`` from
    :func:`label_free`) on ``scans`` that stay car with ``bias`` added to the car score: how far its car
    decisions are from the edge. nan when it calls no pixel car."""
    from eval_real import biased

    if raw_car_share <= 0:
        return float("nan")
    return label_free(biased(seg, "car", bias), scans)["raw_car_share"] / raw_car_share


def real_figures(seg) -> dict:
    """Car IoU of each labelled real set, their mean, and the empty view's share called car."""
    from squeezeseg.evaluate import evaluate_real

    res = evaluate_real(seg)
    out = {s: res["sets"][s]["class"]["car"]["iou"] or 0.0 for s in REAL[:3] if s in res["sets"]}
    out["mean"] = float(np.mean(list(out.values()))) if out else 0.0
    out["empty_view"] = res.get("no_vehicle_view", {}).get("share", 0.0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from scipy.stats import spearmanr
    from train_default_model import CALIBRATION_SOURCES, target_scans

    from squeezeseg.errors import InputError
    from squeezeseg.runtime import load_model

    scans = target_scans(CALIBRATION_SOURCES)
    if not scans:
        print("error: no unlabelled real scans found (../shared/data missing?)", file=sys.stderr)
        return 2
    rows = {}
    for path in args.models:
        try:
            seg = load_model(path)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        shares = label_free(seg, scans)
        shares["car_kept_m025"] = margin(seg, scans, shares["raw_car_share"])
        rows[str(path)] = {**shares, **real_figures(seg)}
        print(str(path), " ".join(f"{k} {v:.3f}" for k, v in rows[str(path)].items()), flush=True)
    if len(rows) >= 3:
        print(f"\nSpearman rank correlation over {len(rows)} models ({len(scans)} unlabelled scans):")
        print("| label-free | " + " | ".join(REAL) + " |")
        print("| --- |" + " ---: |" * len(REAL))
        for lf in LABEL_FREE + REAL[:3]:  # the real sets against each other too
            cells = []
            for real in REAL:
                rho = spearmanr([r[lf] for r in rows.values()], [r[real] for r in rows.values()])[0]
                cells.append("-" if np.isnan(rho) else f"{rho:+.2f}")
            print(f"| {lf} | " + " | ".join(cells) + " |")
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
