"""The `squeezedet` CLI end to end on a tiny synthetic KITTI folder: train, detect, evaluate, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from squeezeseg.detection.cli import main

TINY = """name: tiny
classes: [Car, Pedestrian, Cyclist]
input_width: 160
input_height: 64
conv1: [8, 3]
fires: [[4, 8, 8], [4, 8, 8], [4, 8, 8], [4, 8, 8], [8, 16, 16], [8, 16, 16], [8, 16, 16], [8, 16, 16],
        [8, 16, 16], [8, 16, 16]]
batch_norm: true
anchors_at: [160, 64]
batch_size: 2
"""
LINE = "{} 0.00 0 -10 {} {} {} {} 1.5 1.6 4.0 1.0 1.5 20.0 0.0\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("kitti")
    (root / "image_2").mkdir()
    (root / "label_2").mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        img = rng.integers(0, 60, (96, 320, 3), dtype=np.uint8)
        x = int(rng.integers(10, 250))
        img[30:70, x : x + 50] = 230
        Image.fromarray(img).save(root / "image_2" / f"{i:06d}.png")
        (root / "label_2" / f"{i:06d}.txt").write_text(
            LINE.format("Car", x, 30, x + 50, 70) + "DontCare -1 -1 -10 0 0 5 5 "
            "-1 -1 -1 -1000 -1000 -1000 -10\n"
        )
    cfg = root / "tiny.yaml"
    cfg.write_text(TINY)
    out = tmp_path_factory.mktemp("run")
    rc = main(
        [
            "train",
            str(root),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--epochs",
            "2",
            "--steps-per-epoch",
            "2",
            "--kmeans-anchors",
        ]
    )
    assert rc == 0
    return root, out / "model.keras"


def test_train_writes_model_metadata_and_kmeans_anchors(trained):
    root, model = trained
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["seed"] == 0 and meta["config"]["name"] == "tiny"
    shapes = np.array(meta["config"]["anchor_shapes"])
    # every box is 50x40 px in a 320x96 image -> 25x26.7 px at the 160x64 input; k-means finds that size
    assert np.allclose(shapes.mean(axis=0), [25, 26.7], atol=1.0)
    assert (model.parent / "checkpoint.keras").is_file()


def test_detect_writes_png_and_kitti_file_and_skips_corrupt(trained, tmp_path, capsys):
    root, model = trained
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out = tmp_path / "out"
    rc = main(
        [
            "detect",
            str(root / "image_2" / "000000.png"),
            str(bad),
            "--out",
            str(out),
            "--model",
            str(model),
            "--score",
            "0",
        ]
    )
    assert rc == 2
    assert "bad.png" in capsys.readouterr().err
    assert Image.open(out / "000000.png").size == (320, 96)
    lines = (out / "000000.txt").read_text().splitlines()
    assert lines and all(len(line.split()) == 16 for line in lines)
    assert not (out / "bad.png").exists() and not list(out.glob(".*tmp*"))


def test_evaluate_prints_table_sweeps_nms_and_writes_json(trained, tmp_path, capsys):
    root, model = trained
    js = tmp_path / "ap.json"
    assert main(["evaluate", str(root), "--model", str(model), "--nms", "0.3,0.5", "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "NMS threshold 0.3" in text and "NMS threshold 0.5" in text and "AP|R40" in text
    res = json.loads(js.read_text())
    assert res["method"] == "devkit" and res["results"]["0.5"]["Car"]["moderate"]["n_gt"] == 12


def test_bad_input_exits_2_with_the_file_named(tmp_path, capsys):
    assert main(["detect", "x.png", "--out", str(tmp_path), "--model", str(tmp_path / "none.keras")]) == 2
    assert "none.keras" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "not a KITTI object folder" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), "--input-size", "100x50"]) == 2


def test_shipped_default_runs_from_a_fresh_process(tmp_path):
    """The real entry point in a new interpreter: the shipped model must deserialise on its own."""
    import subprocess
    import sys

    from squeezeseg.resources import default_model_path

    if not default_model_path("squeezedet").is_file():
        pytest.skip("no shipped SqueezeDet weights")
    img = tmp_path / "road.png"
    Image.fromarray(np.full((375, 1242, 3), 90, np.uint8)).save(img)
    cmd = [
        sys.executable,
        "-m",
        "squeezeseg.detection.cli",
        "detect",
        str(img),
        "--out",
        str(tmp_path / "o"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "o" / "road.png").is_file() and (tmp_path / "o" / "road.txt").is_file()


def test_detect_refuses_colliding_names_and_a_file_as_out_before_loading(tmp_path, capsys):
    """Checked before the model loads: the model given here does not even exist."""
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / d / "0.png")
    model = str(tmp_path / "none.keras")
    imgs = [str(tmp_path / "a" / "0.png"), str(tmp_path / "b" / "0.png")]
    assert main(["detect", *imgs, "--out", str(tmp_path / "d"), "--model", model]) == 2
    err = capsys.readouterr().err
    assert "would both write '0.png'" in err and err.count("\n") == 1
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert main(["detect", imgs[0], "--out", str(afile), "--model", model]) == 2
    assert "--out must be a folder" in capsys.readouterr().err
    assert main(["detect", imgs[0], "--out", str(tmp_path / "d"), "--nms", "0"]) == 2
    assert main(["train", str(tmp_path), "--out", str(afile)]) == 2
    assert "--out must be a folder" in capsys.readouterr().err
