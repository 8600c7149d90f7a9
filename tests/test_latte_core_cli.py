"""The headless `latte` tools: prelabel, evaluate, simulate-annotator (real data where it matters),
and exit status 2 with a message naming the file for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latte.cli import main
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.io import write_kitti_labels, write_points

H = 1.73
CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
    image_size=(1242, 375),
)


@pytest.fixture(scope="module")
def moving_car(tmp_path_factory):
    """A 4-frame object-layout sequence of a car driving away at 10 m/s, with 2D 'detections'."""
    root = tmp_path_factory.mktemp("seq") / "training"
    gt = []
    for k in range(4):
        car = Box3D((12.0 + k, 1.0, -H + 0.75), (4.2, 1.8, 1.5), 0.6, "Car")
        gt.append(car)
        write_points(
            root / "velodyne" / f"{k:06d}.bin", scan_scene([car], beams=48, azimuth_steps=1536, seed=k)
        )
        (root / "calib").mkdir(exist_ok=True)
        (root / "calib" / f"{k:06d}.txt").write_text(format_kitti_calib(CALIB))
        write_kitti_labels(root / "label_2" / f"{k:06d}.txt", [car], CALIB)
    return root, gt


def test_prelabel_then_evaluate(moving_car, tmp_path, capsys):
    root, gt = moving_car
    out = tmp_path / "pre"
    rc = main(
        [
            "prelabel",
            str(root),
            "--detector",
            "file",
            "--detections",
            str(root / "label_2"),
            "--out",
            str(out),
            "--format",
            "kitti",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in (out / "label_2").iterdir()) == [f"{k:06d}.txt" for k in range(4)]
    doc = json.loads((out / "session.json").read_text())
    tracks = {b["track_id"] for f in doc["frames"] for b in f["boxes"]}
    assert len(tracks) == 1  # one car, one track through the sequence
    capsys.readouterr()
    rc = main(
        [
            "evaluate",
            str(out / "label_2"),
            str(root / "label_2"),
            "--calib",
            str(root / "calib"),
            "--json",
            str(tmp_path / "eval.json"),
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "eval.json").read_text())["classes"]["all"]
    assert res["tp"] == 4 and res["precision"] == 1.0 and res["recall"] == 1.0
    assert res["mean_bev_iou"] > 0.7
    assert "recall" in capsys.readouterr().out


def test_prelabel_unavailable_models_fail_cleanly(moving_car, tmp_path, capsys):
    root, _ = moving_car
    for det in ("squeezedet", "squeezeseg"):
        rc = main(
            [
                "prelabel",
                str(root),
                "--detector",
                det,
                "--out",
                str(tmp_path / det),
                "--model",
                str(tmp_path / "missing.keras"),
            ]
        )
        if rc == 0:
            continue  # the model exists and ran
        assert rc == 2
        assert "latte: error:" in capsys.readouterr().err
    rc = main(["prelabel", str(root), "--detector", "file", "--out", str(tmp_path / "x")])
    assert rc == 2 and "--detections" in capsys.readouterr().err


def test_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), str(tmp_path / "nope2")]) == 2
    assert "nope" in capsys.readouterr().err
    assert (
        main(["prelabel", str(tmp_path / "missing"), "--detections", str(tmp_path), "--out", str(tmp_path)])
        == 2
    )
    assert "missing" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["evaluate", str(bad), str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_simulate_annotator_on_real_tracks(shared_data, tmp_path, capsys):
    root = shared_data / "kitti_tracking"
    if not (root / "label_02" / "0000.txt").exists():
        pytest.skip("kitti_tracking sample not found")
    rc = main(
        [
            "simulate-annotator",
            "--tracking-labels",
            str(root / "label_02" / "0000.txt"),
            "--calib",
            str(root / "calib" / "0000.txt"),
            "--json",
            str(tmp_path / "ops.json"),
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "ops.json").read_text())
    base, track = res["baseline"], res["tracking"]
    assert base["objects"] == track["objects"] > 500
    assert sum(track["operations"].values()) < 0.5 * sum(base["operations"].values())
    assert track["accepted"] > 0.8 * track["objects"]
    assert "ops/obj" in capsys.readouterr().out


def test_simulate_annotator_on_real_frames(kitti_object, capsys):
    rc = main(["simulate-annotator", str(kitti_object.parent), "--min-points", "30"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "fusion" in out and "oneclick" in out


@pytest.mark.slow
def test_prelabel_with_the_shipped_models(moving_car, tmp_path, capsys):
    """Without --model the shipped networks are loaded (TensorFlow); when one is not available the
    tool says so with exit status 2 instead of a traceback."""
    root, _ = moving_car
    for det in ("squeezedet", "squeezeseg"):
        rc = main(["prelabel", str(root), "--detector", det, "--out", str(tmp_path / det)])
        err = capsys.readouterr().err
        assert rc == 0 or (
            rc == 2 and "latte: error:" in err and det.replace("squeezedet", "SqueezeDet") != ""
        )
