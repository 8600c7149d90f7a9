"""LAZ (compressed LAS) point clouds read through laspy with the lazrs backend."""

from __future__ import annotations

import laspy
import numpy as np

from squeezeseg.io import read_points


def test_laz_round_trip_keeps_coordinates_and_intensity(tmp_path):
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-50, 50, size=(1000, 3))
    intensity = rng.integers(0, 255, size=1000)
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.zeros(3)
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    las.intensity = intensity
    path = tmp_path / "scan.laz"
    las.write(path)
    points = read_points(path)
    assert points.shape == (1000, 4) and points.dtype == np.float32
    np.testing.assert_allclose(points[:, :3], xyz, atol=2e-3)
    np.testing.assert_array_equal(points[:, 3], intensity.astype(np.float32))
