"""`squeezeseg project SCAN --sensor hdl64e --out DIR`: range image as .npy plus a PNG."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.cli.common import positive_int
from squeezeseg.projection import ROW_MODES, SphericalProjection
from squeezeseg.sensors import load_sensor

log = logging.getLogger("squeezeseg.project")

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "project",
        help="project a scan to a range image (.npy + .png)",
        description="Project a point cloud to an H x W x 6 range image (x, y, z, intensity, range, mask). "
        "Writes <name>.npy, <name>_rowcol.npy (row, col of every input point, -1 = not in the image) "
        "and <name>.png (depth, intensity). With --labels also <name>_labels.npy (H x W class ids), "
        "label colours in the PNG and <name>_bev.png (bird's-eye view coloured by class).",
    )
    p.add_argument("scan", type=Path, help="point cloud (.bin, .pcd.bin, .pcd, .ply, .npy, .npz, .las)")
    p.add_argument("--sensor", default="hdl64e", help="sensor config name or YAML path (default hdl64e)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--fov", type=float, default=90.0, help="horizontal window in degrees (360 = full)")
    p.add_argument("--width", type=positive_int, default=None,
                   help="columns (default: sensor resolution over --fov)")
    p.add_argument("--rows", choices=ROW_MODES, default="auto", help="how rows are found (default auto)")
    p.add_argument(
        "--labels", type=Path, default=None,
        help="point labels: SemanticKITTI .label, or KITTI label_2 .txt boxes (needs --calib; "
        "car and van 1, pedestrian 2, cyclist 3 as in SqueezeSeg)",
    )
    p.add_argument("--calib", type=Path, default=None, help="KITTI calibration for --labels .txt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.errors import InputError
    from squeezeseg.io import read_points, scan_stem
    from squeezeseg.visualize import bev_image, range_image_panel, save_png

    sensor = load_sensor(args.sensor)
    proj = SphericalProjection(sensor, width=args.width, fov_deg=args.fov, rows=args.rows)
    points, fields = read_points(args.scan, return_fields=True)
    ring = points[:, list(fields).index("ring")] if "ring" in fields else None
    classes = None if args.labels is None else point_classes(args.labels, args.calib, points)
    ri = proj.project(points, ring=ring)
    stem = scan_stem(args.scan)
    out = args.out
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, this is a file", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", out) from None
    _save_npy(out / f"{stem}.npy", ri.image)
    _save_npy(out / f"{stem}_rowcol.npy", np.stack([ri.rows, ri.cols], axis=1))
    label_image = None
    if classes is not None:
        label_image = np.where(ri.index >= 0, classes[np.maximum(ri.index, 0)], 0).astype(np.int32)
        _save_npy(out / f"{stem}_labels.npy", label_image)
        save_png(out / f"{stem}_bev.png", bev_image(points, classes))
    save_png(out / f"{stem}.png", range_image_panel(ri.image, label_image))
    inside = int(np.count_nonzero(ri.rows >= 0))
    log.info(
        "%s: %d points, %d in the %dx%d image (%d pixels filled, rows by %s), %d dropped; wrote %s",
        args.scan, len(points), inside, proj.height, proj.width, int(ri.mask.sum()), ri.row_mode,
        ri.dropped, out / f"{stem}.npy",
    )
    return 0


def point_classes(labels: Path, calib: Path | None, points: np.ndarray) -> np.ndarray:
    """(N,) class per point from a SemanticKITTI .label file or KITTI label_2 boxes."""
    from squeezeseg.classes import COARSE, kitti_type_ids
    from squeezeseg.errors import InputError
    from squeezeseg.io import (
        boxes_to_point_labels,
        read_kitti_calib,
        read_kitti_labels,
        read_semantickitti_labels,
    )

    if labels.suffix == ".label":
        return read_semantickitti_labels(labels, n_points=len(points))[0].astype(np.int32)
    if calib is None:
        raise InputError("KITTI box labels need --calib (the frame's calibration file)", labels)
    boxes = read_kitti_labels(labels, read_kitti_calib(calib))
    return boxes_to_point_labels(points, boxes, kitti_type_ids(COARSE))[0]


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr)
