"""Projection figures on the real samples of ../shared/data (skipped cleanly without them)."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.io import read_points, read_squeezeseg_npy
from squeezeseg.projection import SphericalProjection

pytestmark = pytest.mark.realdata


def test_squeezeseg_sample_reprojects_into_its_own_pixels(shared_data):
    path = shared_data / "squeezeseg_sample" / "2011_09_26_0001_0000000010.npy"
    if not path.exists():
        pytest.skip(f"{path} not found")
    image, _ = read_squeezeseg_npy(path)
    valid = image[..., 4] > 0
    rows, cols = np.nonzero(valid)
    pts = image[valid][:, :4]
    perm = np.random.default_rng(0).permutation(len(pts))  # no help from the storage order
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0, rows="table")
    ri = proj.project(pts[perm])
    r, c = rows[perm], cols[perm]
    assert np.mean(ri.cols == c) >= 0.99
    assert np.mean(ri.rows == r) >= 0.90
    assert np.mean(np.abs(ri.rows - r) <= 1) >= 0.99
    # the re-projected image holds the sample's own points where they were
    same = ri.mask & valid
    assert same.sum() >= 0.99 * valid.sum()
    np.testing.assert_allclose(ri.image[same][:, :5], image[same], atol=1e-5)


def test_kitti_scan_order_rings_agree_with_the_elevation_table(kitti_object):
    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0)
    for bin_path in sorted((kitti_object / "velodyne").glob("*.bin")):
        pts = read_points(bin_path)
        scan = proj.project(pts)
        assert scan.row_mode == "scan", bin_path
        table = proj.project(pts, rows="table")
        assert np.mean(scan.rows == table.rows) >= 0.999, bin_path
        assert np.all(np.bincount(scan.rows, minlength=64) > 500), bin_path


def test_nuscenes_ring_r_lands_in_one_row_for_every_point(shared_data):
    files = sorted((shared_data / "nuscenes_lidar").glob("*.pcd.bin"))
    if not files:
        pytest.skip("no nuScenes sweep in shared data")
    pts, fields = read_points(files[0], return_fields=True)
    ring = pts[:, list(fields).index("ring")].astype(int)
    proj = SphericalProjection.from_sensor("hdl32e", width=1080, fov_deg=360.0)
    ri = proj.project(pts)
    assert ri.row_mode == "ring"
    kept = ri.rows >= 0
    assert kept.sum() == len(pts) - ri.dropped
    # hdl32e: ring 0 is the bottom laser, so ring r -> row 31 - r (row 0 = top beam)
    assert np.array_equal(ri.rows[kept], 31 - ring[kept])
    for r in range(32):
        assert np.unique(ri.rows[kept & (ring == r)]).tolist() == [31 - r]
