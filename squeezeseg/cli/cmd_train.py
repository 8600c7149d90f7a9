"""`squeezeseg train CONFIG [--steps N] [--out DIR] [--resume] [--strategy ...]`."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

log = logging.getLogger("squeezeseg.train")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train SqueezeSeg / SqueezeSegV2 from a model config",
        description="Train the network a configs/models YAML describes, on the data its 'data' section "
        "names (or --data). Checkpoints every train.checkpoint_every steps; an interrupted run continues "
        "with --resume. Writes OUT/model.keras, OUT/checkpoint.keras, OUT/history.csv, OUT/train.json and "
        "TensorBoard logs in OUT/logs (when tensorboard is installed).",
    )
    p.add_argument("config", help="model config: a configs/models name (squeezesegv2) or a YAML path")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: train.steps)")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default runs/train)")
    p.add_argument("--data", default=None, help="dataset folder (default: data.root of the config)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                   help="tf.distribute strategy: one device, all local devices, or TF_CONFIG workers")
    p.add_argument("--batch-size", type=int, default=None, help="override train.batch_size")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.cli.common import check_output_folder
    from squeezeseg.models import load_model_config
    from squeezeseg.train import train

    check_output_folder(args.out)  # an existing file or an unwritable folder: refused before any work

    cfg = load_model_config(args.config)
    if args.batch_size is not None:  # 0 or less: refused by the config's range check
        cfg.train.batch_size = args.batch_size
    path = train(cfg, args.out, steps=args.steps, resume=args.resume, strategy=args.strategy,
                 data_root=args.data, progress=not args.no_progress,
                 command="squeezeseg " + shlex.join(sys.argv[1:]))
    log.info("trained model written to %s", path)
    print(path)
    return 0
