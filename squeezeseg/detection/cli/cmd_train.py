"""`squeezedet train DATA --out DIR`: train SqueezeDet on a KITTI object folder."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train on a KITTI object folder (image_2/, label_2/)")
    p.add_argument("data", help="KITTI object folder (holding image_2/ and label_2/, or training/)")
    p.add_argument("--out", required=True, help="output folder: model.keras + model.json, checkpoints")
    p.add_argument(
        "--config", default="squeezedet", help="model config name or YAML path (default squeezedet)"
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass over the images")
    p.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    p.add_argument("--input-size", default=None, metavar="WxH", help="network input, divisible by 16")
    p.add_argument(
        "--kmeans-anchors", action="store_true", help="anchor shapes by k-means on the training boxes"
    )
    p.add_argument("--no-augment", action="store_true", help="no random translation / flip")
    p.add_argument(
        "--split", default=None, help="train only these frames: ImageSets/<name>.txt or a file of ids"
    )
    p.add_argument("--minutes", type=float, default=None, help="stop after this much training time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--strategy", choices=["default", "mirrored"], default="default", help="tf.distribute strategy"
    )
    p.set_defaults(func=run)


def parse_size(text: str | None) -> dict:
    """``"624x192"`` -> config overrides; InputError for anything else."""
    from squeezeseg.errors import InputError

    if text is None:
        return {}
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--input-size must look like 624x192, got {text!r}") from None
    if w < 1 or h < 1:
        raise InputError(f"--input-size must be positive, got {text!r}")
    return {"input_width": w, "input_height": h}


def run(args: argparse.Namespace) -> int:
    from squeezeseg.cli.common import check_output_folder
    from squeezeseg.detection.model import load_squeezedet_config
    from squeezeseg.detection.train import kmeans_config, train

    check_output_folder(args.out)  # before any work

    config = load_squeezedet_config(args.config, **parse_size(args.input_size))
    if args.kmeans_anchors:
        config = kmeans_config(config, args.data, seed=args.seed, split=args.split)
    result = train(
        config,
        args.data,
        args.out,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        seed=args.seed,
        augment=not args.no_augment,
        strategy=args.strategy,
        verbose=1 if sys.stdout.isatty() else 2,
        split=args.split,
        time_limit_s=None if args.minutes is None else 60 * args.minutes,
    )
    print(f"saved {result.model_path}")
    return 0
