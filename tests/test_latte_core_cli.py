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


def _prelabel(root, out, *extra):
    return main(["prelabel", str(root), "--detections", str(root / "label_2"), "--out", str(out), *extra])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_prelabel_never_replaces_hand_made_boxes(moving_car, tmp_path, capsys):
    from latte.core.sequence import open_sequence
    from latte.core.session import AnnotationSession

    root, _ = moving_car
    out = tmp_path / "pre"
    assert _prelabel(root, out) == 0
    assert _prelabel(root, out) == 0  # pre-labels only: replaced, and it says so
    assert "replaced the earlier pre-labels" in capsys.readouterr().out
    s = AnnotationSession(open_sequence(root), out)
    k = next(iter(s.boxes(1)))
    s.update_box(1, k, s.box(1, k).replace(label="Van"))  # a person's correction
    s.close()
    before = (out / "session.json").read_bytes()
    assert _prelabel(root, out) == 2
    line = _one_line(capsys.readouterr().err)
    assert "session.json" in line and "by hand" in line and "--merge" in line
    assert (out / "session.json").read_bytes() == before  # nothing lost


def test_prelabel_merge_keeps_frames_with_boxes(moving_car, tmp_path, capsys):
    from latte.core.sequence import open_sequence
    from latte.core.session import AnnotationSession

    root, gt = moving_car
    out = tmp_path / "pre"
    s = AnnotationSession(open_sequence(root), out)
    s.add_box(0, gt[0].replace(label="Van", size=(5.0, 2.0, 2.0)))  # drawn by hand
    s.close()
    assert _prelabel(root, out, "--merge") == 0
    assert "1 frame(s) with boxes kept" in capsys.readouterr().out
    doc = json.loads((out / "session.json").read_text())
    by_frame = {f["index"]: [b["label"] for b in f["boxes"]] for f in doc["frames"]}
    assert by_frame == {0: ["Van"], 1: ["Car"], 2: ["Car"], 3: ["Car"]}


def test_prelabel_reports_malformed_detection_lines(moving_car, tmp_path, capsys):
    import shutil

    root, _ = moving_car
    det = tmp_path / "det"
    shutil.copytree(root / "label_2", det)
    bad = det / "000002.txt"
    bad.write_text(bad.read_text() + "Car 0 0 0 10 oops 30 40\n")
    out = tmp_path / "pre"
    args = ["prelabel", str(root), "--detections", str(det), "--out", str(out)]
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(bad) in line and "line 2" in line and "--skip-bad-detections" in line
    assert not out.exists()  # refused before any work
    assert main([*args, "--skip-bad-detections"]) == 0
    err = capsys.readouterr().err
    assert "skipped malformed detection" in err and str(bad) in err and "line 2" in err


def test_prelabel_output_names_never_leave_out(tmp_path, capsys):
    root = tmp_path / "a" / "b" / "c" / "tracking" / "training"
    (root / "velodyne" / "0000").mkdir(parents=True)
    write_points(root / "velodyne" / "0000" / "000000.bin", scan_scene([], beams=16, azimuth_steps=256))
    out = tmp_path / "a" / "b" / "c" / "out"
    x = root.parent.parent / "x"  # what ../../../x names from velodyne/: a sequence that opens
    write_points(x / "000000.bin", scan_scene([], beams=16, azimuth_steps=256))
    rc = main(["prelabel", str(root), "--detections", str(tmp_path), "--out", str(out),
               "--tracking-sequence", "../../../x", "--format", "tracking"])
    assert rc == 2 and "--tracking-sequence" in _one_line(capsys.readouterr().err)
    assert not list(tmp_path.rglob("x.txt")) and not out.exists()


def test_prelabel_refuses_a_session_open_elsewhere(moving_car, tmp_path, capsys):
    import os
    import socket

    root, _ = moving_car
    out = tmp_path / "pre"
    out.mkdir()
    lock = {"pid": os.getppid(), "host": socket.gethostname(), "started": "now", "token": "t"}
    (out / "session.lock").write_text(json.dumps(lock))
    assert _prelabel(root, out) == 2
    line = _one_line(capsys.readouterr().err)
    assert "session.lock" in line and f"pid {os.getppid()}" in line
    assert sorted(p.name for p in out.iterdir()) == ["session.lock"]


def test_evaluate_reads_kitti_raw_calibration(shared_data, tmp_path, capsys):
    """Labels of the real KITTI raw drive exported as KITTI label_2 files (camera frame) evaluate
    with the drive's calib_cam_to_cam.txt + calib_velo_to_cam.txt: the day folder, the drive folder,
    or found above the labels; against the session's own LiDAR-frame JSON they match exactly."""
    import shutil

    from latte.core.oneclick import OneClickAnnotator
    from latte.core.sequence import open_sequence
    from latte.core.session import AnnotationSession

    raw = shared_data / "kitti_raw"
    if not raw.is_dir():
        pytest.skip(f"{raw} not found")
    seq = open_sequence(raw)
    session = AnnotationSession(seq, tmp_path / "s", lock=False)
    ann = OneClickAnnotator()
    for f in (0, 1):
        ann.set_frame(seq.points(f))
        session.add_box(f, ann.click(9.8, -0.2, "Car").replace(point_indices=None))
    session.export("kitti", tmp_path / "label_2")
    session.close()
    pred = str(tmp_path / "s" / "session.json")
    for calib in (raw, next(raw.glob("*_sync"))):
        assert main(["evaluate", pred, str(tmp_path / "label_2"), "--calib", str(calib),
                     "--json", str(tmp_path / "r.json")]) == 0
        res = json.loads((tmp_path / "r.json").read_text())["classes"]["all"]
        assert res["tp"] == 2 and res["fp"] == res["fn"] == 0 and res["mean_bev_iou"] > 0.99
    # Labels kept inside a copy of the raw layout find the calibration above them.
    day = tmp_path / "2011_09_26"
    day.mkdir()
    for name in ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt"):
        shutil.copy(raw / name, day / name)
    shutil.copytree(tmp_path / "label_2", day / "drive_sync" / "label_2")
    labels = str(day / "drive_sync" / "label_2")
    assert main(["evaluate", pred, labels, "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["classes"]["all"]["tp"] == 2
    capsys.readouterr()
    assert main(["evaluate", pred, str(tmp_path / "label_2"), "--calib", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_simulate_annotator_on_semantickitti_instances_and_unlabelled_drive(shared_data, tmp_path, capsys):
    """Real labels of a real sequence (SemanticKITTI 00, frames 000000-000002 labelled): boxes fitted
    to the instance labels are replayed; tracking (ego-motion, filter, re-centring) needs fewer
    operations than drawing. The KITTI raw drive has no labels: exit 2 naming it."""
    seq = shared_data / "semantickitti" / "sequences" / "00"
    if not (seq / "labels").is_dir():
        pytest.skip(f"{seq} not found")
    out = tmp_path / "ops.json"
    assert main(["simulate-annotator", str(seq), "--min-points", "30", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    base, track = res["baseline"], res["tracking"]
    assert base["objects"] == track["objects"] >= 30
    assert sum(track["operations"].values()) < 0.8 * sum(base["operations"].values())
    assert track["accepted"] > 0 and track["tool_seconds"] > 0
    assert "tool ms/obj" in capsys.readouterr().out
    raw = shared_data / "kitti_raw"
    if raw.is_dir():
        assert main(["simulate-annotator", str(raw)]) == 2
        assert "no labels" in capsys.readouterr().err
