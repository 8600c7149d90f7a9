"""Segmenter, inference and evaluation CLIs: shapes, empty scans, bad input, written files."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import ring_scan

from squeezeseg.cli import main
from squeezeseg.errors import InputError
from squeezeseg.resources import default_model_path
from squeezeseg.runtime import load_model


@pytest.fixture(autouse=True)
def _no_model_cache(monkeypatch):
    """``infer`` (engine auto) would export a LiteRT copy of every test model into the user's cache:
    off here; tests/test_model_cache.py covers the copies."""
    monkeypatch.setenv("SQUEEZESEG_MODEL_CACHE", "0")


def test_predict_range_image(segmenter):
    img = np.zeros((64, 64, 5), np.float32)
    img[20:40, 10:50] = [10.0, 1.0, -1.0, 0.3, 10.1]
    labels = segmenter.predict_range_image(img)
    assert labels.shape == (64, 64) and labels.dtype == np.int32
    assert np.all(labels[img[..., 4] == 0] == 0)
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    with pytest.raises(InputError, match="mismatch.*64x64"):
        segmenter.predict_range_image(np.zeros((64, 512, 5), np.float32))


def test_predict_points_covers_the_full_circle_in_one_batch(segmenter):
    pts = ring_scan(4000)
    batches = []
    real_fn = segmenter.predict_fn
    segmenter.predict_fn = lambda b: batches.append(len(b)) or real_fn(b)
    try:
        labels = segmenter.predict_points(pts)
        front = segmenter.predict_points(pts, full_circle=False)
    finally:
        segmenter.predict_fn = real_fn
    assert labels.shape == (len(pts),) and batches == [4, 1]  # four 90-degree windows at once, then one
    behind = pts[:, 0] < -abs(pts[:, 1])
    assert np.all(front[behind] == 0)
    inside = segmenter.projection.project(pts).rows >= 0
    # the front window cut from the full-circle image: the same pixels but for float rounding at bin edges
    assert np.mean(labels[inside] == front[inside]) > 0.99


def test_empty_scan_gives_unknown_and_a_warning(segmenter, caplog):
    above = np.array([[0.0, 0.0, 50.0, 0.1], [0.1, 0.0, 80.0, 0.2]], np.float32)  # straight up: no beam
    with caplog.at_level(logging.WARNING):
        labels = segmenter.predict_points(above)
    assert np.all(labels == 0) and "no points in the field of view" in caplog.text
    assert len(segmenter.predict_points(np.zeros((0, 4), np.float32))) == 0
    with pytest.raises(InputError, match=r"\(N, >=4\)"):
        segmenter.predict_points(np.zeros((5, 3), np.float32))


def test_a_scan_of_another_sensor_is_reported(segmenter, caplog):
    # A ring scan plus as many points 10-20 degrees up, above the HDL-64E's top beam (+2 degrees), as
    # a taller sensor sees: the warning names the share left out; the ring scan alone gives none.
    pts = ring_scan(4000)
    el = np.deg2rad(np.linspace(10, 20, len(pts)))
    az = np.linspace(-np.pi, np.pi, len(pts))
    up = np.stack([10 * np.cos(az) * np.cos(el), 10 * np.sin(az) * np.cos(el), 10 * np.sin(el),
                   np.full(len(pts), 0.2)], -1).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        segmenter.predict_points(pts)
    assert "outside the elevations" not in caplog.text
    with caplog.at_level(logging.WARNING):
        labels = segmenter.predict_points(np.concatenate([pts, up]))
    assert "50 % of the points lie outside the elevations of the hdl64e" in caplog.text
    assert np.all(labels[len(pts):] == 0)


def test_infer_cli_writes_labels_and_png(model_path, tmp_path):
    from squeezeseg.io import read_semantickitti_labels, write_points

    pts = ring_scan(3000, seed=1)
    scan = tmp_path / "000007.bin"
    write_points(scan, pts)
    out = tmp_path / "out"
    assert main(["infer", str(scan), "--model", str(model_path), "--out", str(out), "--no-progress"]) == 0
    classes, instances = read_semantickitti_labels(out / "000007.label", n_points=len(pts))
    assert len(classes) == len(pts) and set(np.unique(classes)) <= {0, 10, 30, 31}
    assert (out / "000007.png").stat().st_size > 1000


def test_infer_cli_bad_scan_exits_2_without_output(model_path, tmp_path, capsys):
    bad = tmp_path / "broken.bin"
    bad.write_bytes(b"\x00" * 7)  # not a multiple of 4 floats
    out = tmp_path / "out"
    assert main(["infer", str(bad), "--model", str(model_path), "--out", str(out), "--no-progress"]) == 2
    assert "broken.bin" in capsys.readouterr().err
    assert not (out / "broken.label").exists()
    assert main(["infer", str(bad), "--model", str(tmp_path / "none.keras"), "--out", str(out)]) == 2


def test_evaluate_cli_writes_json_and_markdown(model_path, tmp_path, capsys):
    from squeezeseg.data.synthetic import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "d", frames=2, height=64, width=64, val=2)
    out = tmp_path / "eval"
    assert main(["evaluate", str(data), "--model", str(model_path), "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["frames"] == 2 and set(report["class"]) == {"unknown", "car", "pedestrian", "cyclist"}
    gt = np.asarray(report["confusion"]).sum(1)
    assert gt.sum() == report["points"] and gt[1:].sum() > 0
    assert "| car |" in (out / "eval.md").read_text() and "mIoU" in capsys.readouterr().out


def test_profile_cli(capsys):
    assert main(["profile", "squeezeseg"]) == 0
    assert "fire9" in capsys.readouterr().out


def test_shipped_default_model_loads():
    if not default_model_path().is_file():
        pytest.skip("the shipped default model has not been trained yet")
    seg = load_model()
    assert seg.classes == ["unknown", "car", "pedestrian", "cyclist"]
    assert seg.config.architecture == "squeezesegv2" and (seg.config.height, seg.config.width) == (64, 512)
    labels = seg.predict_points(ring_scan(2000, seed=2))
    assert labels.shape == (2000,) and labels.max() < 4
