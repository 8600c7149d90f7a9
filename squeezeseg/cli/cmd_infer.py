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
    p.add_argument(
        "--engine", choices=("auto", "keras", "tflite", "onnx"), default="auto",
        help="runtime (default auto: a .keras model runs through its float32 LiteRT copy, exported by "
        "the first run into the user cache and kept only if it gives Keras' classes on at least "
        "99.9%% of the pixels of the scans; later runs start without TensorFlow)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--batch", type=positive_int, default=1,
                   help="scans per network batch (each scan is 360/fov windows; default 1)")
    p.add_argument("--no-png", action="store_true", help="write only the .label files")
    p.add_argument("--no-shape-check", action="store_true",
                   help="keep car segments shaped like no vehicle (default: relabelled background)")
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
    seg.shape_check = not args.no_shape_check
    written = infer_scans(seg, paths, out, png=not args.no_png, progress=not args.no_progress,
                          batch=args.batch)
    log.info("wrote %d label files to %s", len(written), out)
    if args.engine == "auto" and seg.engine == "keras":
        cache_litert_copy(seg, paths)
    return 0


def cache_litert_copy(seg, paths: list[Path], scans: int = 4) -> Path | None:
    """After a Keras run: export the model's LiteRT copy for later runs, checked on the windows of the
    first ``scans`` scans (squeezeseg.export.cache), unless LiteRT is missing or a copy was refused."""
    import importlib.util

    import numpy as np

    from squeezeseg.export.cache import enabled, make_copy, was_refused
    from squeezeseg.io import read_points

    if not enabled() or seg.source.suffix != ".keras" or importlib.util.find_spec("ai_edge_litert") is None:
        return None
    if was_refused(seg.source):
        return None
    log.info("exporting a LiteRT copy of %s for faster start-up (once per weights)", seg.source)
    windows = np.concatenate([seg.prepare(read_points(p), source=p).windows for p in paths[:scans]])
    return make_copy(seg.source, seg.predict_fn, windows)
