"""Inference pipeline: depth-clustering instances, the streaming API, `infer --batch`, and bad input
(outputs checked before work, invalid points, damaged models, folders)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from conftest import ring_scan

from squeezeseg.cli import main
from squeezeseg.errors import InputError
from squeezeseg.instances import dbscan_instances, range_image_instances
from squeezeseg.io import read_semantickitti_labels, write_points
from squeezeseg.segmenter import valid_points


@pytest.fixture(autouse=True)
def _no_model_cache(monkeypatch):
    """``infer`` (engine auto) would export a LiteRT copy of every test model into the user's cache:
    off here; tests/test_model_cache.py covers the copies."""
    monkeypatch.setenv("SQUEEZESEG_MODEL_CACHE", "0")


def _image(ranges: np.ndarray) -> np.ndarray:
    """(H, W, 6) range image of a 360-degree sensor with 0.4-degree rows and the given ranges."""
    H, W = ranges.shape
    az = np.pi - (np.arange(W) + 0.5) * 2 * np.pi / W
    el = np.deg2rad(2.0 - 0.4 * np.arange(H))
    r = ranges.astype(np.float32)
    x = r * np.cos(el)[:, None] * np.cos(az)[None, :]
    y = r * np.cos(el)[:, None] * np.sin(az)[None, :]
    z = r * np.sin(el)[:, None] * np.ones((1, W))
    img = np.stack([x, y, z, np.zeros_like(r), r, (r > 0).astype(np.float32)], -1)
    return img.astype(np.float32)


# ----------------------------------------------------------------------------------------- instances
def test_depth_clustering_splits_objects_at_a_depth_jump_and_across_classes():
    ranges = np.zeros((16, 400), np.float32)
    ranges[2:10, 10:40] = 10.0  # a wall facing the sensor
    ranges[2:10, 40:70] = 14.0  # a second object 4 m behind, touching it in the image
    ranges[2:10, 100:130] = 20.0  # the same class, elsewhere
    ranges[2:10, 130:160] = 20.0  # a pedestrian right beside it, same depth
    labels = np.zeros((16, 400), np.int32)
    labels[ranges > 0] = 1
    labels[:, 130:160][ranges[:, 130:160] > 0] = 2
    inst = range_image_instances(_image(ranges), labels)
    ids = [inst[5, c] for c in (20, 50, 110, 140)]
    assert all(i > 0 for i in ids) and len(set(ids)) == 4
    assert np.all(inst[ranges == 0] == 0)
    assert inst.max() == 4 and list(np.unique(inst)) == [0, 1, 2, 3, 4]


def test_depth_clustering_bridges_one_missing_return_wraps_around_and_drops_small_segments():
    ranges = np.zeros((16, 400), np.float32)
    ranges[2:10, 10:40] = 10.0
    ranges[2:10, 25] = 0.0  # one column of dropouts inside the object
    ranges[2:10, 390:400] = 10.0  # continues across the image seam (full circle)
    ranges[2:10, 0:5] = 10.0
    ranges[12, 200:203] = 8.0  # 3 pixels: noise
    labels = (ranges > 0).astype(np.int32)
    img = _image(ranges)
    inst = range_image_instances(img, labels)
    assert inst[5, 20] == inst[5, 30] > 0
    assert inst[5, 395] == inst[5, 2] > 0 and inst[5, 395] != inst[5, 20]
    assert inst[12, 201] == 0
    cut = range_image_instances(img, labels, full_circle=False)
    assert cut[5, 395] != cut[5, 2]
    bg = range_image_instances(img, np.zeros_like(labels))
    assert not bg.any()
    with pytest.raises(InputError, match="range image"):
        range_image_instances(img[..., :3], labels)


def test_dbscan_refuses_what_cannot_fit():
    pts = np.zeros((50, 3), np.float32)
    with pytest.raises(InputError, match="too many for DBSCAN"):
        dbscan_instances(pts, np.ones(50, np.int32), max_points=10)


# ------------------------------------------------------------------------------------ Python API
def test_stream_over_a_folder_matches_predict_points(segmenter, tmp_path):
    scans = []
    for i in range(3):
        pts = ring_scan(2000 + 100 * i, seed=i)
        write_points(tmp_path / f"{i:06d}.bin", pts)
        scans.append(pts)
    (tmp_path / "notes.txt").write_text("not a scan")
    results = list(segmenter.stream(tmp_path, batch=2, instances=True))
    assert [r.source.name for r in results] == ["000000.bin", "000001.bin", "000002.bin"]
    for r, pts in zip(results, scans):
        np.testing.assert_array_equal(r.classes, segmenter.predict_points(pts))
        assert r.instances.shape == (len(pts),) and r.image.shape == (64, 256, 6)
        image, labels = r.front()
        assert image.shape == (64, 64, 6) and labels.shape == (64, 64)


def test_stream_names_the_bad_file(segmenter, tmp_path):
    write_points(tmp_path / "a.bin", ring_scan(500))
    (tmp_path / "b.bin").write_bytes(b"\x00" * 7)
    it = segmenter.stream(tmp_path)
    assert next(it).source.name == "a.bin"
    with pytest.raises(InputError, match="b.bin"):
        next(it)


def test_invalid_points_warned_once_and_far_points_are_out_of_range(segmenter, caplog):
    pts = ring_scan(1000)
    pts[:3, 0] = np.nan
    pts[3:5, :3] = 1e30
    keep, dropped = valid_points(pts)
    assert dropped == {"NaN/inf": 3, "out of range (> 10 km)": 2, "zero range": 0} and len(keep) == 995
    with caplog.at_level(logging.WARNING):
        labels = segmenter.predict_points(pts)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "3 NaN/inf, 2 out of range" in warnings[0].getMessage()
    assert np.all(labels[:5] == 0) and labels.shape == (1000,)


# ------------------------------------------------------------------------------------------- CLI
def _args(model_path, *rest):
    return ["infer", *map(str, rest), "--model", str(model_path), "--no-progress"]


def test_batch_gives_the_same_labels_as_one_at_a_time(model_path, tmp_path):
    scans = tmp_path / "scans"
    for i in range(3):
        write_points(scans / f"{i:06d}.bin", ring_scan(1500, seed=10 + i))
    assert main(_args(model_path, scans, "--out", tmp_path / "b1", "--no-png")) == 0
    assert main(_args(model_path, scans, "--out", tmp_path / "b2", "--batch", "2")) == 0
    for i in range(3):
        a = read_semantickitti_labels(tmp_path / "b1" / f"{i:06d}.label", n_points=1500)
        b = read_semantickitti_labels(tmp_path / "b2" / f"{i:06d}.label", n_points=1500)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert (tmp_path / "b2" / f"{i:06d}.png").is_file()
    with pytest.raises(SystemExit) as exc:
        main(_args(model_path, scans, "--out", tmp_path / "b3", "--batch", "0"))
    assert exc.value.code == 2


def test_out_is_checked_before_any_work(model_path, tmp_path, capsys):
    scan = tmp_path / "s.bin"
    write_points(scan, ring_scan(500))
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(_args(model_path, scan, "--out", afile)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file" in err and "Traceback" not in err
    assert main(_args(model_path, scan, "--out", afile / "sub")) == 2
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert main(_args(model_path, scan, "--out", ro / "out")) == 2
            assert "permission denied" in capsys.readouterr().err
        finally:
            ro.chmod(0o700)


def test_bad_scans_and_models_name_the_file(model_path, tmp_path, capsys):
    good = tmp_path / "good.bin"
    write_points(good, ring_scan(500))
    allnan = tmp_path / "allnan.bin"
    allnan.write_bytes(np.full((10, 4), np.nan, np.float32).tobytes())
    out = tmp_path / "out"
    assert main(_args(model_path, good, allnan, "--out", out)) == 2
    err = capsys.readouterr().err
    assert "allnan.bin" in err and "no valid point" in err and err.count("\n") == 1
    assert (out / "good.label").is_file() and not (out / "allnan.label").exists()

    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"this is not a model")
    assert main(["infer", str(good), "--model", str(garbage), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "garbage.keras" in err and "cannot load" in err and "not found" not in err

    empty = tmp_path / "empty_folder"
    empty.mkdir()
    assert main(_args(model_path, empty, "--out", out)) == 2
    err = capsys.readouterr().err
    assert "empty_folder" in err and "without scan files" in err

    assert main(_args(model_path, tmp_path / "missing.bin", "--out", out)) == 2
    assert "missing.bin: file not found" in capsys.readouterr().err

    twin = tmp_path / "twin"
    twin.mkdir()
    write_points(twin / "good.bin", ring_scan(400))
    assert main(_args(model_path, good, twin / "good.bin", "--out", tmp_path / "o2")) == 2
    assert "would both write 'good.label'" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
