"""INT8 SqueezeDet against its float model: KITTI AP of both (issue #23 target: within 1 AP point).

The INT8 model is made by the toolkit's export path (`squeezeseg.export.exporter.export_model`, format
"int8", the same as `squeezedet export --format int8`), calibrated on simulated training images (the
training split only) and unlabelled real camera images (the KITTI raw drive); it is then scored with
the same evaluation as the Keras float model (`squeezeseg.detection.evaluate.evaluate_model`) on the
simulated held-out split (devkit AP, hundreds of objects) and on the six real labelled images
(curve AP: few objects).

    .venv/bin/python scripts/bench_int8_squeezedet.py [--model M.keras] --json runs/det23/int8.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def table(results: dict) -> dict:
    """{class: {difficulty: AP|R40 percent}} (None without ground truth)."""
    return {
        c: {d: None if math.isnan(r.ap40) else round(100 * r.ap40, 2) for d, r in by.items()}
        for c, by in results.items()
    }


def score(detector, sim: Path, reals: list[Path]) -> dict:
    """AP|R40 tables of ``detector`` on the simulated held-out split and the real images."""
    from squeezeseg.detection.evaluate import evaluate_model

    nms = detector.config.nms_threshold
    out = {"sim_heldout_devkit": table(evaluate_model(detector, sim, split="val")[nms])}
    if reals:
        out["real6_curve"] = table(evaluate_model(detector, reals, method="curve")[nms])
    return out


def largest_gap(a: dict, b: dict) -> float:
    """Largest |AP(a) - AP(b)| in points over every set, class and difficulty both define."""
    gaps = [
        abs(a[s][c][d] - b[s][c][d])
        for s in a for c in a[s] for d in a[s][c]
        if a[s][c][d] is not None and b[s][c][d] is not None
    ]
    return max(gaps, default=float("nan"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(REPO / "squeezeseg" / "weights" / "squeezedet_small.keras"))
    p.add_argument("--sim", default=str(REPO / "runs" / "squeezedet_sim"))
    p.add_argument("--count", type=int, default=60, help="calibration images")
    p.add_argument("--out", default=str(REPO / "runs" / "det23" / "squeezedet_int8.tflite"))
    p.add_argument("--json", default=None)
    args = p.parse_args()

    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.evaluate import real_validation_dirs
    from squeezeseg.export.exporter import export_model
    from squeezeseg.resources import shared_data_dir
    from squeezeseg.runtime import load_detector

    data = shared_data_dir()
    reals = real_validation_dirs()
    calib = [args.sim] + ([str(data / "kitti_raw")] if (data / "kitti_raw").is_dir() else [])
    t0 = time.perf_counter()
    export_model(args.model, "int8", args.out, calibration=calib, count=args.count)
    export_s = time.perf_counter() - t0
    sim = Path(args.sim)
    float_ap = score(SqueezeDetector.load(args.model), sim, reals)
    int8_ap = score(load_detector(args.out), sim, reals)
    gap = largest_gap(float_ap, int8_ap)
    report = {"model": args.model, "int8": args.out, "calibration": calib, "count": args.count,
              "export_seconds": round(export_s, 1), "float": float_ap, "int8_ap": int8_ap,
              "largest_gap_points": round(gap, 2), "within_1_point": bool(gap <= 1.0)}
    for name, t in (("float", float_ap), ("int8", int8_ap)):
        for s, by in t.items():
            for c, d in by.items():
                aps = " ".join(f"{k} {'n/a' if v is None else v}" for k, v in d.items())
                print(f"{name:<6}{s:<20}{c:<12}{aps}")
    print(f"largest AP|R40 gap INT8 vs float: {gap:.2f} points (export {export_s:.0f} s)")
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
