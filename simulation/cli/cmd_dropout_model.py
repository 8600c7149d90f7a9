"""``lidarsim dropout-model``: estimate the per-pixel missing probability from real range images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dropout-model", help="estimate a dropout map from real scans", description=__doc__
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        help="folder of SqueezeSeg .npy range images or raw scans (.bin, .pcd, .ply, .las)",
    )
    p.add_argument("--out", default="dropout.npz", help="where to save the map (.npz)")
    p.add_argument("--sensor", default="hdl64e", help="sensor used to project raw scans")
    p.add_argument("--width", type=int, default=512, help="range-image width for raw scans")
    p.add_argument("--fov", type=float, default=90.0, help="horizontal field of view for raw scans (degrees)")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    """Refuse bad arguments and an unusable --out before reading any scan."""
    if args.width <= 0:
        raise InputError(f"--width must be positive, got {args.width}")
    if not np.isfinite(args.fov) or not 0 < args.fov <= 360:
        raise InputError(f"--fov must be in (0, 360] degrees, got {args.fov}")
    out = Path(args.out)
    if out.is_dir():
        raise InputError("--out is a folder: give the .npz file to write", out)
    parent = next((d for d in out.absolute().parents if d.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError("--out lies below a file, not a folder", out)


def run(args: argparse.Namespace) -> int:
    from simulation.dropout import estimate_dropout_map

    _check_args(args)
    dmap = estimate_dropout_map(args.source, sensor=args.sensor, width=args.width, fov_deg=args.fov)
    try:
        dmap.save(args.out)
    except OSError as exc:
        raise InputError(f"cannot write the dropout map: {exc.strerror or exc}", args.out) from None
    rows = dmap.prob.mean(axis=1)
    print(
        f"{dmap.frames} frame(s), map {dmap.prob.shape[0]}x{dmap.prob.shape[1]}, mean missing "
        f"{dmap.prob.mean():.3f} (top row {rows[0]:.3f}, bottom row {rows[-1]:.3f}) -> {args.out}"
    )
    if dmap.frames < 20:
        print(
            f"note: {dmap.frames} frame(s) is a weak estimate; per-pixel values are multiples of "
            f"1/{dmap.frames} (np.unique: {len(np.unique(dmap.prob))} values)"
        )
    return 0
