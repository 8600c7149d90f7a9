"""``lidarsim generate``: write a simulated dataset (resumable, parallel, deterministic per seed)."""

from __future__ import annotations

import argparse

from simulation.layouts import LAYOUTS
from squeezeseg.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="simulate labelled sequences into a dataset folder", description=__doc__
    )
    p.add_argument("--sensor", default="hdl64e", help="sensor config name or YAML path (default hdl64e)")
    p.add_argument("--frames", type=int, default=10, help="frames per sequence (10 Hz)")
    p.add_argument("--sequences", type=int, default=1, help="number of sequences (each its own scene)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same dataset")
    p.add_argument("--out", required=True, help="output folder (rerun the same command to resume)")
    p.add_argument("--layout", choices=LAYOUTS, default="kitti-raw")
    p.add_argument("--camera", action="store_true", help="also render camera images (KITTI image 2)")
    p.add_argument(
        "--dropout",
        metavar="MAP",
        default=None,
        help="dropout map (.npz from `lidarsim dropout-model`) or a uniform rate in [0, 1)",
    )
    p.add_argument(
        "--no-intensity", action="store_true", help="write zero intensity, as the papers' GTA-V data"
    )
    p.add_argument("--density", type=float, default=1.0, help="scale of traffic and roadside clutter")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Every argument is checked before anything is written; a failed write (read-only folder,
    full disk) is one line naming the file, exit 2; an interrupted run resumes when rerun."""
    from simulation.dataset import generate_dataset

    try:
        out = _generate(generate_dataset, args)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", exc.filename or args.out) from None
    print(f"wrote {args.sequences} x {args.frames} frames ({args.layout}) to {out}")
    return 0


def _generate(generate_dataset, args: argparse.Namespace):
    return generate_dataset(
        args.out,
        sensor=args.sensor,
        frames=args.frames,
        sequences=args.sequences,
        seed=args.seed,
        layout=args.layout,
        camera=args.camera,
        dropout=args.dropout,
        intensity=not args.no_intensity,
        workers=args.workers,
        density=args.density,
        progress=not args.no_progress,
    )
