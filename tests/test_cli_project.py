"""`squeezeseg project` and `squeezeseg stats`: outputs, round trips, bad input -> exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from squeezeseg.cli import main
from squeezeseg.normalization import compute_statistics, load_statistics
from squeezeseg.projection import SphericalProjection


def kitti_like_scan(n: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    az = np.deg2rad(rng.uniform(-180, 180, n))
    el = np.deg2rad(rng.uniform(-24, 1.5, n))
    rho = rng.uniform(3, 50, n)
    pts = np.stack([rho * np.cos(az), rho * np.sin(az), rho * np.tan(el), rng.random(n)], axis=1)
    return pts.astype(np.float32)


def test_project_writes_range_image_rowcol_and_png(tmp_path, capsys):
    pts = kitti_like_scan()
    scan = tmp_path / "000123.bin"
    pts.tofile(scan)
    out = tmp_path / "out"
    rc = main(["project", str(scan), "--sensor", "hdl64e", "--out", str(out), "--rows", "table"])
    assert rc == 0
    image = np.load(out / "000123.npy")
    rowcol = np.load(out / "000123_rowcol.npy")
    assert image.shape == (64, 512, 6) and image.dtype == np.float32
    assert rowcol.shape == (len(pts), 2)
    expected = SphericalProjection.from_sensor("hdl64e", rows="table").project(pts)
    np.testing.assert_array_equal(image, expected.image)
    np.testing.assert_array_equal(rowcol[:, 0], expected.rows)
    png = Image.open(out / "000123.png")
    assert png.size == (512, 2 * 64 * 4 + 2) and png.mode == "RGB"
    assert sorted(p.name for p in out.iterdir()) == ["000123.npy", "000123.png", "000123_rowcol.npy"]


def test_project_full_circle_width_follows_the_sensor(tmp_path):
    scan = tmp_path / "scan.npy"
    np.save(scan, kitti_like_scan(2000))
    assert main(["project", str(scan), "--sensor", "vlp16", "--fov", "360", "--out", str(tmp_path)]) == 0
    assert np.load(tmp_path / "scan.npy").shape == (16, 1800, 6)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\x00" * 18, "multiple"),
    ],
)
def test_project_bad_scan_exits_2_naming_the_file(tmp_path, capsys, content, message):
    scan = tmp_path / "bad.bin"
    scan.write_bytes(content)
    out = tmp_path / "out"
    assert main(["project", str(scan), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(scan) in err and message in err.lower() and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_project_unknown_sensor_and_missing_file_exit_2(tmp_path, capsys):
    scan = tmp_path / "a.bin"
    kitti_like_scan(100).tofile(scan)
    assert main(["project", str(scan), "--sensor", "lidar9000", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown sensor 'lidar9000'" in err and "hdl64e" in err and "vlp16" in err
    assert main(["project", str(tmp_path / "missing.bin"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.bin" in capsys.readouterr().err


def test_stats_equal_mean_std_over_valid_pixels(tmp_path, capsys):
    rng = np.random.default_rng(5)
    images = []
    for k in range(3):
        img = rng.normal(3.0 + k, 2.0, (8, 16, 6)).astype(np.float32)
        img[..., 4] = np.abs(img[..., 4]) + 0.1
        img[rng.random((8, 16)) < 0.3] = 0.0  # empty pixels: range 0, must not count
        img[..., 5] = rng.integers(0, 3, (8, 16))
        images.append(img)
        np.save(tmp_path / f"{k:06d}.npy", img)
    out = tmp_path / "stats" / "norm.yaml"
    assert main(["stats", str(tmp_path), "--out", str(out)]) == 0
    valid = np.concatenate([im[im[..., 4] > 0][:, :5] for im in images]).astype(np.float64)
    stats = load_statistics(out)
    np.testing.assert_allclose(stats.mean, valid.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.std, valid.std(axis=0), rtol=1e-6)
    assert stats.pixels == len(valid) and stats.frames == 3
    assert "mean:" in capsys.readouterr().out
    js = tmp_path / "norm.json"
    assert main(["stats", str(tmp_path), "--out", str(js)]) == 0
    assert json.loads(js.read_text())["pixels"] == len(valid)
    normed = stats.normalize(images[0])
    v = images[0][..., 4] > 0
    assert np.all(normed[~v] == 0)
    expected = (images[0][v][:, :5] - stats.mean) / stats.std
    np.testing.assert_allclose(normed[v], expected, rtol=1e-4, atol=1e-5)


def test_stats_projects_point_clouds_with_the_sensor(tmp_path):
    pts = kitti_like_scan(3000)
    pts.tofile(tmp_path / "000001.bin")
    assert main(["stats", str(tmp_path), "--out", str(tmp_path / "s.yaml"), "--rows", "table"]) == 0
    ri = SphericalProjection.from_sensor("hdl64e", rows="table").project(pts)
    expected = compute_statistics([ri.image])
    np.testing.assert_allclose(load_statistics(tmp_path / "s.yaml").mean, expected.mean)


def test_stats_bad_folders_exit_2(tmp_path, capsys):
    assert main(["stats", str(tmp_path)]) == 2
    assert "no scans or range images found" in capsys.readouterr().err
    assert main(["stats", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros((4, 4, 3), np.float32))
    assert main(["stats", str(tmp_path)]) == 2
    assert "bad.npy" in capsys.readouterr().err


def test_project_with_semantickitti_labels_writes_label_image_and_bev(tmp_path):
    pts = kitti_like_scan(3000)
    scan = tmp_path / "000007.bin"
    pts.tofile(scan)
    classes = (np.arange(len(pts)) % 4).astype(np.uint32)
    label_file = tmp_path / "000007.label"
    (classes | (np.uint32(5) << np.uint32(16))).astype("<u4").tofile(label_file)
    out = tmp_path / "out"
    args = ["project", str(scan), "--out", str(out), "--rows", "table", "--labels", str(label_file)]
    assert main(args) == 0
    label_image = np.load(out / "000007_labels.npy")
    ri = SphericalProjection.from_sensor("hdl64e", rows="table").project(pts)
    filled = ri.index >= 0
    np.testing.assert_array_equal(label_image[filled], classes[ri.index[filled]])
    assert np.all(label_image[~filled] == 0)
    assert Image.open(out / "000007.png").size == (512, 3 * 64 * 4 + 2 * 2)
    assert (out / "000007_bev.png").exists()
    (tmp_path / "short.label").write_bytes(b"\x00" * 8)
    assert main(["project", str(scan), "--out", str(out), "--labels", str(tmp_path / "short.label")]) == 2


def test_project_with_real_kitti_boxes_marks_the_pedestrian(kitti_object, tmp_path):
    args = [
        "project", str(kitti_object / "velodyne" / "000000.bin"), "--out", str(tmp_path),
        "--labels", str(kitti_object / "label_2" / "000000.txt"),
        "--calib", str(kitti_object / "calib" / "000000.txt"),
    ]
    assert main(args) == 0
    labels = np.load(tmp_path / "000000_labels.npy")
    image = np.load(tmp_path / "000000.npy")
    ped = labels == 2  # frame 000000 holds one pedestrian, 8.4 m ahead
    assert 100 < ped.sum() < 1000
    assert np.all(np.abs(image[ped, 0] - 8.4) < 1.0)
    assert set(np.unique(labels)) == {0, 2}


def test_outputs_that_cannot_be_written_exit_2(tmp_path, capsys):
    scan = tmp_path / "a.bin"
    kitti_like_scan(500).tofile(scan)
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["project", str(scan), "--out", str(a_file)]) == 2
    assert "must be a folder" in capsys.readouterr().err
    np.save(tmp_path / "img.npy", np.ones((4, 4, 6), np.float32))
    assert main(["stats", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "must be a file name" in capsys.readouterr().err


def test_stats_over_project_output_uses_only_the_range_images(tmp_path):
    pts = kitti_like_scan(3000)
    scan = tmp_path / "000003.bin"
    pts.tofile(scan)
    out = tmp_path / "out"
    assert main(["project", str(scan), "--out", str(out), "--rows", "table"]) == 0
    assert main(["stats", str(out), "--out", str(tmp_path / "s.json")]) == 0  # skips _rowcol.npy
    stats = load_statistics(tmp_path / "s.json")
    assert stats.frames == 1
    expected = compute_statistics([np.load(out / "000003.npy")])
    np.testing.assert_allclose(stats.mean, expected.mean)
