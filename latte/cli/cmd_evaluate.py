"""`latte evaluate PRED GT`: box BEV IoU and instance precision/recall (50% overlap rule)."""

from __future__ import annotations

import argparse
import json

from squeezeseg.atomic import atomic_write_text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="compare annotations with ground truth (BEV IoU, precision, recall)",
        description="Compare predicted boxes with ground-truth boxes frame by frame. Each of PRED and GT "
        "is LATTE JSON, a KITTI label_2 folder or file, or a KITTI tracking label_02 file.",
    )
    p.add_argument("pred", help="predicted / annotated labels")
    p.add_argument("gt", help="ground-truth labels")
    p.add_argument("--calib", help="calibration for PRED and GT: an object/tracking calib folder or file, or "
                   "a KITTI raw day or drive folder (calib_cam_to_cam.txt + calib_velo_to_cam.txt); "
                   "default: a calib folder beside the labels or a raw calibration above them")
    p.add_argument("--pred-calib", help="calibration for PRED only (default: --calib, then GT's)")
    p.add_argument("--iou", type=float, default=0.5, help="BEV IoU for a correct instance (default 0.5)")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latte.core.evaluate import evaluate_boxes, guess_calib, load_boxes

    gt_calib = args.calib or guess_calib(args.gt)
    gt = load_boxes(args.gt, gt_calib)
    pred_calib = args.pred_calib or args.calib or guess_calib(args.pred) or gt_calib
    pred = load_boxes(args.pred, pred_calib)
    res = evaluate_boxes(pred, gt, args.iou)
    print(res.table())
    if args.json_out:
        doc = {
            "iou_threshold": args.iou,
            "classes": {
                k: {
                    "tp": r.tp,
                    "fp": r.fp,
                    "fn": r.fn,
                    "precision": r.precision,
                    "recall": r.recall,
                    "mean_bev_iou": r.mean_iou,
                }
                for k, r in [*res.classes.items(), ("all", res.all)]
            },
        }
        atomic_write_text(args.json_out, json.dumps(doc, indent=1, allow_nan=True))
    return 0
