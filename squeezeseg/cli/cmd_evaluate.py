"""`squeezeseg evaluate DATA [--model M] [--kind ...] [--split val] --out DIR`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("squeezeseg.evaluate")
KINDS = ("auto", "squeezeseg", "semantickitti", "kitti-object")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="class/instance precision, recall, IoU and mIoU of a model on a dataset",
        description="Evaluate a segmentation model (default: the shipped one). DATA is a SqueezeSeg-format "
        "folder (lidar_2d/ + ImageSet/, or a folder of .npy range images: the front window as stored), scans "
        "with SemanticKITTI labels (a SemanticKITTI sequence or the simulator's kitti-raw layout: every "
        "labelled point of the whole 360-degree scan; car = car + moving car, pedestrian = person + moving "
        "person, cyclist = bicyclist + moving bicyclist; unlabeled and outlier points left out), or a KITTI "
        "object 'training' folder (boxes become point labels; the model's front window). Prints the table "
        "and writes eval.json and eval.md.",
    )
    p.add_argument("data", type=Path, help="dataset folder")
    p.add_argument("--model", type=Path, default=None, help=".keras model (default: the shipped model)")
    p.add_argument("--kind", choices=KINDS, default="auto", help="dataset kind (default: guessed)")
    p.add_argument("--split", default="val", help="split file name under ImageSet/ (default val)")
    p.add_argument("--out", type=Path, default=None, help="folder for eval.json/eval.md (default: DATA's "
                   "name under runs/eval)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-shape-check", action="store_true",
                   help="keep car segments shaped like no vehicle (default: relabelled background)")
    p.set_defaults(func=run)


def guess_kind(data: Path) -> str:
    """The layout :func:`squeezeseg.datasets.open_dataset` recognises: kitti-object, squeezeseg, or
    semantickitti (scans with SemanticKITTI ``.label`` files, also the simulator's KITTI raw layout)."""
    from squeezeseg.datasets import open_dataset
    from squeezeseg.errors import InputError

    try:
        kind = open_dataset(data).kind
    except InputError:  # e.g. a root of several sequences: SemanticKITTI pairs are found recursively
        return "semantickitti"
    return {"kitti_object": "kitti-object", "squeezeseg": "squeezeseg"}.get(kind, "semantickitti")


def run(args: argparse.Namespace) -> int:
    from squeezeseg.errors import InputError
    from squeezeseg.evaluate import (
        VALIDATION_LABEL_MAP,
        evaluate_kitti_object,
        evaluate_point_labels,
        evaluate_range_images,
        format_markdown,
        write_report,
    )
    from squeezeseg.runtime import load_model

    if not args.data.is_dir():
        raise InputError("dataset folder not found", args.data)
    seg = load_model(args.model)
    seg.shape_check = not args.no_shape_check
    kind = guess_kind(args.data) if args.kind == "auto" else args.kind
    progress = not args.no_progress
    if kind == "kitti-object":
        report = evaluate_kitti_object(seg, args.data, progress=progress)
    elif kind == "semantickitti":
        from squeezeseg.data.sources import semantickitti_frames

        report = evaluate_point_labels(seg, semantickitti_frames(args.data, args.split), progress=progress)
        report["window"] = "360 degrees, per point"
        report["label_map"] = {str(k): v for k, v in VALIDATION_LABEL_MAP.items()}
    else:
        from squeezeseg.data.sources import frames_and_loader

        cfg = seg.config
        cfg.data.kind = kind
        frames, load = frames_and_loader(cfg, args.split, args.data)
        report = evaluate_range_images(seg, (load(f) for f in frames), progress=progress)
    report["model"] = str(seg.source)
    report["data"] = str(args.data)
    report["kind"] = kind
    title = f"{seg.config.name} on {args.data.name} ({kind})"
    print(format_markdown(report, title))
    out = args.out or Path("runs/eval") / args.data.name
    j, m = write_report(report, out, title)
    log.info("wrote %s and %s", j, m)
    return 0
