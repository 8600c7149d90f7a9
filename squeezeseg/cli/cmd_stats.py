"""`squeezeseg stats DIR`: per-channel mean/std over the valid pixels of a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from squeezeseg.cli.common import positive_int
from squeezeseg.projection import ROW_MODES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stats",
        help="normalisation statistics (mean/std per channel) of a dataset",
        description="Mean and standard deviation of x, y, z, intensity, range over the valid pixels "
        "of every range image (.npy, H x W x 6) and point cloud (projected with --sensor) under DIR.",
    )
    p.add_argument("directory", type=Path, help="dataset folder (searched recursively)")
    p.add_argument("--out", type=Path, default=None, help="write YAML (.yaml) or JSON (other suffix)")
    p.add_argument("--sensor", default="hdl64e", help="sensor for point clouds (default hdl64e)")
    p.add_argument("--fov", type=float, default=90.0, help="window for point clouds, degrees")
    p.add_argument("--width", type=positive_int, default=None, help="columns for point clouds")
    p.add_argument("--rows", choices=ROW_MODES, default="auto", help="row mode for point clouds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from squeezeseg.errors import InputError
    from squeezeseg.normalization import dataset_statistics, save_statistics
    from squeezeseg.projection import SphericalProjection
    from squeezeseg.sensors import load_sensor

    proj = SphericalProjection(load_sensor(args.sensor), width=args.width, fov_deg=args.fov, rows=args.rows)
    stats = dataset_statistics(args.directory, projection=proj, progress=sys.stderr.isatty())
    if args.out is not None:
        if args.out.is_dir():
            raise InputError("--out must be a file name (.yaml or .json), this is a folder", args.out)
        try:
            save_statistics(args.out, stats)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", args.out) from None
    sys.stdout.write(yaml.safe_dump(stats.as_dict(), sort_keys=False))
    return 0
