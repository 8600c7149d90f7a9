"""`squeezedet evaluate DATA`: KITTI AP (11- and 40-point) per class and difficulty, with an NMS sweep."""

from __future__ import annotations

import argparse
import json
import math


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="KITTI average precision on a KITTI object folder")
    p.add_argument(
        "data", nargs="+", help="KITTI object folder(s) (image_2/, label_2/); several are scored as one set"
    )
    p.add_argument("--model", default=None, help="trained .keras model (default: the shipped one)")
    p.add_argument(
        "--nms", default=None, help="comma-separated NMS thresholds to sweep (default: the model's)"
    )
    p.add_argument(
        "--method",
        choices=["devkit", "curve"],
        default="devkit",
        help="devkit: exactly the KITTI devkit; curve: same matching, full PR curve (small sets)",
    )
    p.add_argument("--split", default=None, help="only these frames: ImageSets/<name>.txt or a file of ids")
    p.add_argument(
        "--iou", type=float, default=None,
        help="one IoU for every class instead of the devkit's 0.7/0.5 (a localisation diagnostic)",
    )
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.detection.data import layout_dirs
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.evaluate import evaluate_model
    from squeezeseg.detection.kitti_eval import format_results
    from squeezeseg.errors import InputError

    try:
        sweep = [float(v) for v in args.nms.split(",")] if args.nms else None
    except ValueError:
        raise InputError(f"--nms must be comma-separated numbers, got {args.nms!r}") from None
    for d in args.data:
        layout_dirs(d)  # a wrong folder fails before the model loads
    detector = SqueezeDetector.load(args.model)
    if args.iou is not None and not 0 < args.iou < 1:
        raise InputError(f"--iou must be in (0, 1), got {args.iou}")
    results = evaluate_model(
        detector, args.data, sweep, method=args.method, split=args.split, min_overlap=args.iou
    )
    report = {}
    for t, res in results.items():
        print(f"NMS threshold {t:g} ({args.method} AP, %)")
        print(format_results(res))
        report[str(t)] = {
            c: {d: {"ap11": _num(r.ap11), "ap40": _num(r.ap40), "n_gt": r.n_gt} for d, r in by.items()}
            for c, by in res.items()
        }
    if args.json:
        doc = {"method": args.method, "iou": args.iou, "results": report}
        atomic_write_text(args.json, json.dumps(doc, indent=2) + "\n")
    return 0


def _num(v: float) -> float | None:
    return None if math.isnan(v) else round(100 * v, 3)
