"""Point-cloud readers and writers: formats round-trip, foreign writers agree, bad input is an InputError."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from squeezeseg.errors import InputError
from squeezeseg.io import drop_invalid_points, read_points, write_points


@pytest.fixture
def cloud() -> np.ndarray:
    rng = np.random.default_rng(0)
    pts = rng.normal(scale=20.0, size=(500, 5)).astype(np.float32)
    pts[:, 3] = rng.uniform(0, 1, 500)
    pts[:, 4] = rng.integers(0, 32, 500)
    return pts


# ---- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, encoding, width",
    [
        ("a.bin", "binary", 4),
        ("a.pcd.bin", "binary", 5),
        ("a.pcd", "ascii", 5),
        ("a.pcd", "binary", 5),
        ("a.pcd", "binary_compressed", 5),
        ("a.ply", "binary", 5),
        ("a.ply", "ascii", 5),
        ("a.npy", "binary", 5),
    ],
)
def test_write_then_read_round_trips(tmp_path: Path, cloud: np.ndarray, name: str, encoding: str, width: int):
    path = tmp_path / name
    write_points(path, cloud, encoding=encoding)
    points, fields = read_points(path, return_fields=True)
    assert points.dtype == np.float32 and points.shape == (len(cloud), width)
    assert fields[:4] == ("x", "y", "z", "intensity")
    if width == 5:
        assert fields[4] == "ring"
    np.testing.assert_allclose(points, cloud[:, :width], rtol=1e-6, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


def test_channels_are_reordered_to_xyz_intensity_first(tmp_path: Path, cloud: np.ndarray):
    # A PCD as some drivers write it: intensity last, called "reflectance", ring in between.
    shuffled = cloud[:, [4, 0, 1, 2, 3]]
    write_points(tmp_path / "s.pcd", shuffled, fields=("ring", "x", "y", "z", "reflectance"))
    points, fields = read_points(tmp_path / "s.pcd", return_fields=True)
    assert fields == ("x", "y", "z", "intensity", "ring")
    np.testing.assert_array_equal(points, cloud)


def test_xyz_only_gets_a_zero_intensity(tmp_path: Path, cloud: np.ndarray):
    np.save(tmp_path / "xyz.npy", cloud[:, :3].astype(np.float64))
    points = read_points(tmp_path / "xyz.npy")
    assert points.shape == (500, 4) and points.dtype == np.float32
    assert np.all(points[:, 3] == 0)


def test_npz_with_named_fields(tmp_path: Path, cloud: np.ndarray):
    np.savez(tmp_path / "c.npz", points=cloud[:, [3, 0, 1, 2]], fields=np.array(["intensity", "x", "y", "z"]))
    points, fields = read_points(tmp_path / "c.npz", return_fields=True)
    assert fields == ("x", "y", "z", "intensity")
    np.testing.assert_array_equal(points, cloud[:, :4])


# ---- agreement with other writers and readers ----------------------------------------------------
@pytest.mark.parametrize("ascii_, compressed", [(True, False), (False, False), (False, True)])
def test_reads_open3d_pcd_in_all_encodings(tmp_path: Path, cloud: np.ndarray, ascii_: bool, compressed: bool):
    o3d = pytest.importorskip("open3d")
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud[:, :3].astype(np.float64)))
    path = tmp_path / "o3d.pcd"
    assert o3d.io.write_point_cloud(str(path), pc, write_ascii=ascii_, compressed=compressed)
    header = path.read_bytes()[:400]
    want = b"ascii" if ascii_ else (b"binary_compressed" if compressed else b"binary")
    assert b"DATA " + want in header
    points = read_points(path)
    np.testing.assert_allclose(points[:, :3], cloud[:, :3], atol=1e-4)


def test_open3d_reads_our_ply_and_pcd(tmp_path: Path, cloud: np.ndarray):
    o3d = pytest.importorskip("open3d")
    for name in ("ours.ply", "ours.pcd"):
        write_points(tmp_path / name, cloud)
        pc = o3d.io.read_point_cloud(str(tmp_path / name))
        np.testing.assert_allclose(np.asarray(pc.points), cloud[:, :3], atol=1e-5)


def test_reads_open3d_ply(tmp_path: Path, cloud: np.ndarray):
    o3d = pytest.importorskip("open3d")
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud[:, :3].astype(np.float64)))
    for ascii_ in (True, False):
        path = tmp_path / f"o3d_{ascii_}.ply"
        assert o3d.io.write_point_cloud(str(path), pc, write_ascii=ascii_)
        # Open3D writes ascii PLY with 5 significant digits.
        np.testing.assert_allclose(read_points(path)[:, :3], cloud[:, :3], rtol=1e-5 if ascii_ else 1e-7)


def test_reads_las_with_intensity(tmp_path: Path, cloud: np.ndarray):
    laspy = pytest.importorskip("laspy")
    las = laspy.create(point_format=1, file_version="1.2")
    las.header.scales = [0.001, 0.001, 0.001]
    las.header.offsets = [0.0, 0.0, 0.0]
    las.x, las.y, las.z = cloud[:, 0], cloud[:, 1], cloud[:, 2]
    las.intensity = (cloud[:, 3] * 1000).astype(np.uint16)
    las.write(tmp_path / "c.las")
    points = read_points(tmp_path / "c.las")
    np.testing.assert_allclose(points[:, :3], cloud[:, :3], atol=1e-3)
    np.testing.assert_array_equal(points[:, 3], (cloud[:, 3] * 1000).astype(np.uint16))


# ---- real data -----------------------------------------------------------------------------------
def test_real_kitti_scan(kitti_object: Path):
    points, fields = read_points(kitti_object / "velodyne" / "000000.bin", return_fields=True)
    assert fields == ("x", "y", "z", "intensity")
    assert points.shape == ((kitti_object / "velodyne" / "000000.bin").stat().st_size // 16, 4)
    assert 100_000 < len(points) < 130_000
    assert points[:, 3].min() >= 0 and points[:, 3].max() <= 1.0  # KITTI reflectance is in [0, 1]
    r = np.linalg.norm(points[:, :3], axis=1)
    assert np.median(r) < 30 and r.max() < 130  # an HDL-64E street scene in metres


def test_real_nuscenes_sweep_keeps_ring(shared_data: Path):
    files = sorted((shared_data / "nuscenes_lidar").glob("*.pcd.bin"))
    if not files:
        pytest.skip("no nuScenes sweep in the shared data")
    points, fields = read_points(files[0], return_fields=True)
    assert fields == ("x", "y", "z", "intensity", "ring")
    assert points.shape[1] == 5
    np.testing.assert_array_equal(np.unique(points[:, 4]), np.arange(32))
    # read as 5 floats per point, ring is a whole number on every point (a 4-float read would shift it)
    assert np.all(points[:, 4] == np.round(points[:, 4]))


def test_real_scan_survives_every_writer(tmp_path: Path, kitti_object: Path):
    points = read_points(kitti_object / "velodyne" / "000001.bin")
    for name in ("s.bin", "s.pcd", "s.ply", "s.npy"):
        write_points(tmp_path / name, points)
        np.testing.assert_array_equal(read_points(tmp_path / name), points)


# ---- bad input -----------------------------------------------------------------------------------
def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_points(path)
    assert info.value.path == path
    return str(info.value)


def test_empty_file(tmp_path: Path):
    (tmp_path / "e.bin").write_bytes(b"")
    assert "empty" in _error(tmp_path / "e.bin")


def test_size_not_a_multiple_of_the_record(tmp_path: Path):
    (tmp_path / "odd.bin").write_bytes(b"\0" * 18)
    msg = _error(tmp_path / "odd.bin")
    assert "18 bytes" in msg and "multiple of 16" in msg
    (tmp_path / "odd.pcd.bin").write_bytes(b"\0" * 32)
    assert "multiple of 20" in _error(tmp_path / "odd.pcd.bin")


def test_unknown_extension_missing_file_and_directory(tmp_path: Path):
    (tmp_path / "c.xyz").write_text("1 2 3\n")
    assert "unknown point-cloud extension '.xyz'" in _error(tmp_path / "c.xyz")
    assert "not found" in _error(tmp_path / "missing.bin")
    (tmp_path / "dir.pcd").mkdir()
    assert "not a regular file" in _error(tmp_path / "dir.pcd")


def test_corrupt_pcd_header_and_truncated_data(tmp_path: Path, cloud: np.ndarray):
    (tmp_path / "h.pcd").write_bytes(
        b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4\nTYPE Q Q Q\nDATA binary\n\x00\x01"
    )
    assert "corrupt PCD" in _error(tmp_path / "h.pcd")
    write_points(tmp_path / "t.pcd", cloud, encoding="binary")
    raw = (tmp_path / "t.pcd").read_bytes()
    (tmp_path / "t.pcd").write_bytes(raw[: len(raw) - 20 * 10])  # exactly 10 records missing
    assert "500 points" in _error(tmp_path / "t.pcd")
    (tmp_path / "t.pcd").write_bytes(raw[: len(raw) - 7])
    assert "corrupt PCD" in _error(tmp_path / "t.pcd")


def test_corrupt_ply(tmp_path: Path, cloud: np.ndarray):
    (tmp_path / "n.ply").write_bytes(b"hello")
    assert "not a PLY" in _error(tmp_path / "n.ply")
    (tmp_path / "h.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\n")
    assert "end_header" in _error(tmp_path / "h.ply")
    write_points(tmp_path / "t.ply", cloud)
    (tmp_path / "t.ply").write_bytes((tmp_path / "t.ply").read_bytes()[:-4])
    assert "500 vertices" in _error(tmp_path / "t.ply")


def test_wrong_npy_contents(tmp_path: Path):
    np.save(tmp_path / "img.npy", np.zeros((64, 512, 6), np.float32))
    assert "read_squeezeseg_npy" in _error(tmp_path / "img.npy")
    np.save(tmp_path / "flat.npy", np.zeros(10, np.float32))
    assert "(N, >=3)" in _error(tmp_path / "flat.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    assert "NumPy" in _error(tmp_path / "junk.npy")


def test_zero_point_pcd_is_an_error(tmp_path: Path):
    write_points(tmp_path / "z.pcd", np.zeros((0, 4), np.float32))
    assert "no points" in _error(tmp_path / "z.pcd")


def test_write_refuses_bad_arrays_and_formats(tmp_path: Path, cloud: np.ndarray):
    with pytest.raises(InputError, match="numeric"):
        write_points(tmp_path / "a.bin", np.zeros((4, 2)))
    with pytest.raises(InputError, match="5 channels"):
        write_points(tmp_path / "a.pcd.bin", cloud[:, :4])
    with pytest.raises(InputError, match=r"\.las"):
        write_points(tmp_path / "a.las", cloud)
    with pytest.raises(InputError, match="encoding"):
        write_points(tmp_path / "a.pcd", cloud, encoding="zip")
    assert list(tmp_path.iterdir()) == []


# ---- invalid points ------------------------------------------------------------------------------
def test_reader_keeps_nan_and_drop_invalid_points_counts_them(tmp_path: Path, cloud: np.ndarray, caplog):
    bad = cloud[:, :4].copy()
    bad[3, 0] = np.nan
    bad[7, 2] = np.inf
    bad[9, :3] = 0.0  # no return: zero range
    bad[11, 3] = np.nan
    write_points(tmp_path / "bad.bin", bad)
    points = read_points(tmp_path / "bad.bin")
    assert len(points) == 500 and np.isnan(points[3, 0])
    with caplog.at_level(logging.WARNING):
        kept, n = drop_invalid_points(points, source=tmp_path / "bad.bin")
    assert n == 4 and len(kept) == 496 and np.all(np.isfinite(kept))
    assert "dropped 4 of 500" in caplog.text and "bad.bin" in caplog.text
    np.testing.assert_array_equal(kept, np.delete(points, [3, 7, 9, 11], axis=0))
    same, none = drop_invalid_points(kept)
    assert none == 0 and same is kept


def test_loose_ascii_pcd_with_multi_count_field(tmp_path: Path):
    header = (
        "# written by hand\nVERSION .7\nFIELDS x y z hist intensity\nSIZE 4 4 4 4 4\nTYPE F F F F F\n"
        "COUNT 1 1 1 2 1\nWIDTH 2\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA ascii\n"
    )
    (tmp_path / "loose.pcd").write_text(header + "1 2 3  9 9 0.5 \n4 5 6 9 9   0.25\n")
    points, fields = read_points(tmp_path / "loose.pcd", return_fields=True)
    assert fields == ("x", "y", "z", "intensity")  # the 2-count histogram is not a point channel
    np.testing.assert_array_equal(points, [[1, 2, 3, 0.5], [4, 5, 6, 0.25]])


def test_big_endian_ply_with_uchar_intensity_and_faces(tmp_path: Path):
    header = (
        b"ply\nformat binary_big_endian 1.0\ncomment made by hand\nelement vertex 3\n"
        b"property double x\nproperty double y\nproperty double z\nproperty uchar intensity\n"
        b"element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    )
    rec = np.array([(1, 2, 3, 10), (4, 5, 6, 20), (7, 8, 9, 255)], dtype=">f8,>f8,>f8,u1")
    face = b"\x03" + np.array([0, 1, 2], ">i4").tobytes()
    (tmp_path / "be.ply").write_bytes(header + rec.tobytes() + face)
    points = read_points(tmp_path / "be.ply")
    np.testing.assert_array_equal(points, [[1, 2, 3, 10], [4, 5, 6, 20], [7, 8, 9, 255]])


def test_not_a_las_file(tmp_path: Path):
    (tmp_path / "g.laz").write_bytes(b"garbage\x00\xff")
    assert "cannot read LAS/LAZ" in _error(tmp_path / "g.laz")
