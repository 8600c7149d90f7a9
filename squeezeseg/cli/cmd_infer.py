"""`squeezeseg infer SCAN... [--model M] [--batch N] --out DIR`: .label (SemanticKITTI) and .png per scan."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from squeezeseg.cli.common import positive_int

log = logging.getLogger("squeezeseg.infer")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infer",
        help="segment scans: SemanticKITTI .label with instances and a PNG per scan",
        description="Segment point clouds (.bin, .pcd.bin, .pcd, .ply, .npy, .npz, .las) with a model "
        "(default: the shipped one). Every point gets a class (SemanticKITTI ids: 10 car, 30 person, "
        "31 bicyclist, 0 other) and an instance id (depth clustering on the range image); OUT/<name>.png "
        "shows the range image and a bird's-eye view coloured by class. A folder stands for its scan "
        "files. Reading and writing run beside the network; the progress bar shows scans/s.",
    )
    p.add_argument("scans", type=Path, nargs="+", help="scan files or folders of scans")
    p.add_argument("--model", type=Path, default=None, help=".keras model (default: the shipped model)")
    p.add_argument("--engine", choices=("keras", "tflite", "onnx"), default="keras", help="runtime")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--batch", type=positive_int, default=1,
                   help="scans per network batch (each scan is 360/fov windows; default 1)")
    p.add_argument("--no-png", action="store_true", help="write only the .label files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.cli.common import check_output_folder
    from squeezeseg.infer import infer_scans, output_names
    from squeezeseg.runtime import load_model
    from squeezeseg.segmenter import scan_paths

    out = check_output_folder(args.out)  # bad outputs and inputs are refused before the model loads
    paths = scan_paths(args.scans)
    output_names(paths)
    seg = load_model(args.model, engine=args.engine)
    written = infer_scans(seg, paths, out, png=not args.no_png, progress=not args.no_progress,
                          batch=args.batch)
    log.info("wrote %d label files to %s", len(written), out)
    return 0
