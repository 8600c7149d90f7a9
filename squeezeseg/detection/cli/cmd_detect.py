"""`squeezedet detect IMAGE... --out DIR`: a PNG with boxes and a KITTI result file per image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("detect", help="detect objects in images; write <name>.png and <name>.txt")
    p.add_argument("images", nargs="+", help="image files (PNG/JPEG, any size)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default=None,
                   help="trained .keras model or a .tflite/.onnx export (default: the shipped one)")
    p.add_argument("--engine", choices=("keras", "tflite", "onnx"), default=None,
                   help="runtime (default: from the model file's suffix)")
    p.add_argument("--nms", type=float, default=None, help="NMS IoU threshold (default: the model's, 0.4)")
    p.add_argument("--score", type=float, default=None, help="minimum score kept (default: the model's)")
    p.set_defaults(func=run)


def output_stems(images: list[str]) -> list[str]:
    """Output name of every image; two images with one name are refused (one would overwrite the other)."""
    from squeezeseg.errors import InputError

    seen: dict[str, str] = {}
    for name in images:
        stem = Path(name).stem
        if stem in seen:
            raise InputError(f"{seen[stem]} and {name} would both write '{stem}.png' and '{stem}.txt'; "
                             "run them into separate --out folders")
        seen[stem] = name
    return [Path(n).stem for n in images]


def run(args: argparse.Namespace) -> int:
    from squeezeseg.atomic import atomic_path
    from squeezeseg.cli.common import check_output_folder
    from squeezeseg.detection.data import load_image
    from squeezeseg.detection.detect import draw_detections
    from squeezeseg.detection.labels import write_kitti_2d
    from squeezeseg.errors import InputError
    from squeezeseg.runtime import load_detector

    if args.nms is not None and not 0 < args.nms <= 1:
        raise InputError(f"--nms must be in (0, 1], got {args.nms}")
    if args.score is not None and not 0 <= args.score <= 1:
        raise InputError(f"--score must be in [0, 1], got {args.score}")
    out = check_output_folder(args.out)  # before the model loads
    stems = output_stems(args.images)
    detector = load_detector(args.model, args.engine)
    failed = 0
    for name, stem in zip(args.images, stems):
        try:
            image = load_image(name)
        except InputError as exc:
            print(f"squeezedet: error: {exc} (skipped)", file=sys.stderr)
            failed += 1
            continue
        objects = detector.detect(image, nms_threshold=args.nms, score_threshold=args.score)
        write_kitti_2d(out / f"{stem}.txt", objects)
        with atomic_path(out / f"{stem}.png") as tmp:
            draw_detections(image, objects).save(tmp)
        print(f"{name}: {len(objects)} objects -> {out / stem}.png, .txt")
    if failed:
        print(f"squeezedet: error: {failed} of {len(args.images)} images could not be read", file=sys.stderr)
        return 2
    return 0
