#!/usr/bin/env python
"""Check (and re-derive) the SqueezeSeg range-image convention against the real samples.

1. SqueezeSeg sample (64x512, front 90 deg): re-project its own x, y, z and count how many valid
   points land back in their column / exact row / within one row, for the shipped HDL-64E table,
   the datasheet table (no vertical offsets) and even elevation bins.
2. KITTI object scans: rows recovered from the scan order vs. rows from the elevation table.
3. nuScenes HDL-32E sweep: every point of ring r in one row (row 31 - r: ring 0 is the bottom laser).

``--fit`` prints per-row elevation and vertical offset, fitted by least squares on the sample to
z = rho * tan(elevation) + offset, in the YAML form of configs/sensors/hdl64e.yaml.

    .venv/bin/python scripts/check_projection_conventions.py [--fit]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from squeezeseg.io import read_points, read_squeezeseg_npy
from squeezeseg.projection import SphericalProjection
from squeezeseg.resources import shared_data_dir
from squeezeseg.sensors import load_sensor

DATASHEET_HDL64E = [2.0 - i / 3.0 for i in range(32)] + [-8.83 - 0.5 * i for i in range(32)]
FIGURES = {"column": 0.99, "row": 0.90, "within one row": 0.99}


def sample_path():
    files = sorted((shared_data_dir() / "squeezeseg_sample").glob("*.npy"))
    if not files:
        sys.exit(f"no SqueezeSeg sample under {shared_data_dir()}")
    return files[0]


def fit_table(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (elevation deg, offset m) from z = rho * tan(el) + offset, least squares."""
    el, off = [], []
    for r in range(image.shape[0]):
        v = image[r, :, 4] > 0
        rho = np.hypot(image[r, v, 0], image[r, v, 1]).astype(np.float64)
        A = np.stack([rho, np.ones_like(rho)], axis=1)
        (slope, h), *_ = np.linalg.lstsq(A, image[r, v, 2].astype(np.float64), rcond=None)
        el.append(np.degrees(np.arctan(slope)))
        off.append(h)
    return np.array(el), np.array(off)


def check_sample(image: np.ndarray) -> bool:
    valid = image[..., 4] > 0
    rows, cols = np.nonzero(valid)
    pts = image[valid][:, :4]
    hdl = load_sensor("hdl64e")
    datasheet = dataclasses.replace(hdl, elevations_deg=DATASHEET_HDL64E, vertical_offsets_m=None)
    step = 90.0 / 512
    az = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
    expected_col = np.floor((45.0 - az) / step)
    print(f"SqueezeSeg sample: {valid.sum()} valid pixels; column = floor((45 deg - azimuth) / "
          f"{step:.6f} deg) holds for {np.mean(expected_col == cols):.4%}")
    ok = True
    for name, sensor, mode in [
        ("hdl64e.yaml table + offsets", hdl, "table"),
        ("datasheet table, no offsets", datasheet, "table"),
        ("even elevation bins", hdl, "even"),
    ]:
        ri = SphericalProjection(sensor, width=512, fov_deg=90.0, rows=mode).project(pts)
        got = {
            "column": np.mean(ri.cols == cols),
            "row": np.mean(ri.rows == rows),
            "within one row": np.mean(np.abs(ri.rows - rows) <= 1),
        }
        passed = all(got[k] >= v for k, v in FIGURES.items())
        if name.startswith("hdl64e"):
            ok &= passed
        figures = "  ".join(f"{k} {v:.4%}" for k, v in got.items())
        print(f"  {name:<30} {figures}" + ("  PASS" if passed else ""))
    return ok


def check_kitti() -> bool:
    files = sorted((shared_data_dir() / "kitti_object" / "training" / "velodyne").glob("*.bin"))
    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0)
    ok = True
    for f in files:
        pts = read_points(f)
        scan, table = proj.project(pts, rows="scan"), proj.project(pts, rows="table")
        agree = np.mean(scan.rows == table.rows)
        ok &= agree >= 0.999
        print(f"KITTI {f.name}: {len(pts)} points, scan-order rows == table rows for {agree:.4%}")
    return ok


def check_nuscenes() -> bool:
    files = sorted((shared_data_dir() / "nuscenes_lidar").glob("*.pcd.bin"))
    if not files:
        return True
    pts, fields = read_points(files[0], return_fields=True)
    ring = pts[:, list(fields).index("ring")].astype(int)
    ri = SphericalProjection.from_sensor("hdl32e", width=1080, fov_deg=360.0).project(pts)
    kept = ri.rows >= 0
    ok = bool(np.all(ri.rows[kept] == 31 - ring[kept]))
    print(f"nuScenes {files[0].name}: {kept.sum()} of {len(pts)} points kept ({ri.dropped} zero-range), "
          f"ring r -> row 31 - r for all: {ok}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="print the HDL-64E table fitted on the sample")
    args = ap.parse_args(argv)
    image, _ = read_squeezeseg_npy(sample_path())
    if args.fit:
        el, off = fit_table(image)
        print("elevations_deg: [" + ", ".join(f"{e:.3f}" for e in el) + "]")
        print("vertical_offsets_m: [" + ", ".join(f"{h:.3f}" for h in off) + "]")
        return 0
    ok = check_sample(image)
    ok &= check_kitti()
    ok &= check_nuscenes()
    print("all figures met" if ok else "FIGURES NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
