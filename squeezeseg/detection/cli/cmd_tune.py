"""`squeezedet tune SIM_DATA`: per-class score thresholds tuned on simulated validation images, written
into the model's JSON sidecar (the operating point of `detect`, LATTE pre-labels and the app)."""

from __future__ import annotations

import argparse
import json
import math


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="per-class score thresholds tuned on a SIMULATED KITTI object folder (max F1)"
    )
    p.add_argument("data", help="simulated KITTI object folder (lidarsim generate --layout kitti-object)")
    p.add_argument("--model", default=None, help="trained .keras model (default: the shipped one)")
    p.add_argument("--split", default="val", help="frames to tune on (default: val, the held-out sequences)")
    p.add_argument("--beta", type=float, default=1.0, help="F-beta to maximise (default 1)")
    p.add_argument(
        "--min-precision", type=float, default=None,
        help="a class below this precision at every threshold is switched off (default 0.25)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the thresholds, leave the model alone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.detection.detect import SqueezeDetector, read_model_meta
    from squeezeseg.detection.evaluate import tune_model
    from squeezeseg.detection.tune import MIN_PRECISION, check_simulated
    from squeezeseg.errors import InputError
    from squeezeseg.resources import default_model_path

    if args.beta <= 0:
        raise InputError(f"--beta must be positive, got {args.beta}")
    if args.min_precision is not None and not 0 <= args.min_precision <= 1:
        raise InputError(f"--min-precision must be in [0, 1], got {args.min_precision}")
    check_simulated(args.data)  # before the model loads
    path = Path(args.model) if args.model else default_model_path("squeezedet")
    if path.suffix != ".keras":
        raise InputError("tune writes the thresholds into a .keras model's JSON sidecar", path)
    detector = SqueezeDetector.load(path)
    tuned = tune_model(detector, args.data, args.split, args.beta, args.min_precision)
    print(f"{'class':<12}{'threshold':>10}{'precision':>11}{'recall':>8}{'F':>7}{'objects':>9}")
    for c, t in tuned.items():
        prec = "n/a" if math.isnan(t.precision) else f"{t.precision:.3f}"
        print(f"{c:<12}{t.threshold:>10.3f}{prec:>11}{t.recall:>8.3f}{t.f_score:>7.3f}{t.n_gt:>9}")
    if args.dry_run:
        return 0
    meta = read_model_meta(path)
    thresholds = {c: round(t.threshold, 4) for c, t in tuned.items()}
    meta.setdefault("config", {})["class_score_thresholds"] = thresholds
    meta["score_thresholds_tuned"] = {
        "data": str(args.data),
        "split": args.split,
        "beta": args.beta,
        "min_precision": MIN_PRECISION if args.min_precision is None else args.min_precision,
        "hard_difficulty": {
            c: {"precision": None if math.isnan(t.precision) else round(t.precision, 4),
                "recall": round(t.recall, 4), "n_gt": t.n_gt}
            for c, t in tuned.items()
        },
    }
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    print(f"wrote the thresholds into {path.with_suffix('.json')}")
    return 0
