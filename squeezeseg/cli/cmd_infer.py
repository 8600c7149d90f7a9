"""`squeezeseg infer SCAN... [--model M] --out DIR`: .label (SemanticKITTI) and .png per scan."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("squeezeseg.infer")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infer",
        help="segment scans: SemanticKITTI .label with DBSCAN instances and a PNG per scan",
        description="Segment point clouds (.bin, .pcd.bin, .pcd, .ply, .npy, .npz, .las) with a model "
        "(default: the shipped one). Every point gets a class (SemanticKITTI ids: 10 car, 30 person, "
        "31 bicyclist, 0 other) and a DBSCAN instance id; OUT/<name>.png shows the range image and a "
        "bird's-eye view coloured by class.",
    )
    p.add_argument("scans", type=Path, nargs="+", help="scan files")
    p.add_argument("--model", type=Path, default=None, help=".keras model (default: the shipped model)")
    p.add_argument("--engine", choices=("keras", "tflite", "onnx"), default="keras", help="runtime")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--no-png", action="store_true", help="write only the .label files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.infer import infer_scans
    from squeezeseg.segmenter import load_model

    seg = load_model(args.model, engine=args.engine)
    written = infer_scans(seg, args.scans, args.out, png=not args.no_png, progress=not args.no_progress)
    log.info("wrote %d label files to %s", len(written), args.out)
    return 0
