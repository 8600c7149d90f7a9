"""Sequences: every supported folder layout, frame access, and clear errors for bad folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latte.core.sequence import frame_time, link_problem, open_sequence
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.errors import InputError
from squeezeseg.io import write_points

CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
)


def _pts(k: int) -> np.ndarray:
    return np.array([[k + 1.0, 0, 0, 0.5], [2, 1, 0, 0.1]], np.float32)


def test_folder_of_scans(tmp_path):
    write_points(tmp_path / "b.pcd", _pts(1))
    write_points(tmp_path / "a.bin", _pts(0))
    (tmp_path / "notes.txt").write_text("x")
    seq = open_sequence(tmp_path)
    assert seq.layout == "scans" and len(seq) == 2
    assert [seq.frame_id(i) for i in range(2)] == ["a", "b"]
    assert seq.points(1)[0, 0] == pytest.approx(2.0)
    assert seq.image(0) is None and seq.calib(0) is None and seq.labels_path is None
    with pytest.raises(IndexError):
        seq.points(5)


def test_kitti_raw_drive_with_calibration_in_the_parent(tmp_path):
    drive = tmp_path / "2011_09_26" / "2011_09_26_drive_0001_sync"
    for k in range(2):
        write_points(drive / "velodyne_points" / "data" / f"{k:010d}.bin", _pts(k))
    (drive / "image_02" / "data").mkdir(parents=True)
    Image.new("RGB", (64, 32), (10, 20, 30)).save(drive / "image_02" / "data" / "0000000000.png")
    day = drive.parent
    (day / "calib_cam_to_cam.txt").write_text(
        "P_rect_02: " + " ".join(map(str, CALIB.P2.ravel())) + "\nR_rect_00: 1 0 0 0 1 0 0 0 1\n"
    )
    (day / "calib_velo_to_cam.txt").write_text("R: 0 -1 0 0 0 -1 1 0 0\nT: 0 -0.08 -0.27\n")
    seq = open_sequence(drive)
    assert seq.layout == "kitti_raw" and len(seq) == 2
    assert seq.image(0).shape == (32, 64, 3) and seq.image(1) is None
    calib = seq.calib(0)
    assert calib.image_size == (64, 32)
    assert np.allclose(calib.Tr_velo_to_cam[:, :3], CALIB.Tr_velo_to_cam[:, :3])


def test_kitti_tracking_layout(tmp_path):
    root = tmp_path / "training"
    for s in ("0000", "0001"):
        for k in range(3):
            write_points(root / "velodyne" / s / f"{k:06d}.bin", _pts(k))
        (root / "calib").mkdir(exist_ok=True)
        (root / "calib" / f"{s}.txt").write_text(format_kitti_calib(CALIB))
    (root / "label_02").mkdir()
    (root / "label_02" / "0001.txt").write_text("")
    with pytest.raises(InputError, match="choose one of 0000, 0001"):
        open_sequence(tmp_path)
    seq = open_sequence(tmp_path, "0001")
    assert seq.layout == "kitti_tracking" and len(seq) == 3 and seq.labels_format == "tracking"
    assert seq.calib(2) is not None
    seq = open_sequence(root / "velodyne" / "0000")
    assert seq.name == "0000" and seq.labels_path is None


def test_real_kitti_object_layout(kitti_object):
    seq = open_sequence(kitti_object.parent)
    assert seq.layout == "kitti_object" and len(seq) == 3 and seq.labels_format == "kitti"
    pts = seq.points(0)
    assert pts.dtype == np.float32 and pts.shape[1] >= 4 and len(pts) > 100_000
    img = seq.image(0)
    assert img.ndim == 3 and seq.calib(0).image_size == (img.shape[1], img.shape[0])


def test_bad_folders(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_sequence(tmp_path / "missing")
    (tmp_path / "f.bin").write_bytes(b"")  # one scan file that cannot be read: named at once
    with pytest.raises(InputError) as exc:
        open_sequence(tmp_path / "f.bin")
    assert "f.bin" in str(exc.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no scans") as exc:
        open_sequence(empty)
    assert str(empty) in str(exc.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "000000.png").write_bytes(b"not a png")
    write_points(bad / "000000.bin", _pts(0))
    seq = open_sequence(bad)
    seq.frames[0].image = bad / "000000.png"
    with pytest.raises(InputError, match="cannot read image"):
        seq.image(0)


def test_one_scan_file_is_a_sequence_of_one(tmp_path):
    write_points(tmp_path / "000007.bin", _pts(3))
    seq = open_sequence(tmp_path / "000007.bin")
    assert len(seq) == 1 and seq.frame_id(0) == "000007"
    np.testing.assert_allclose(seq.points(0), _pts(3))


def test_nuscenes_axes_turn_scans_to_x_forward(tmp_path):
    pts = np.array([[1.0, 5.0, -1.0, 10.0, 3.0]], np.float32)  # nuScenes: 5 m forward (y), 1 m right (x)
    pts.tofile(tmp_path / "n008__LIDAR_TOP__1533151603547590.pcd.bin")
    seq = open_sequence(tmp_path)  # auto: .pcd.bin scans are nuScenes sweeps
    assert seq.axes == "nuscenes" and seq.layout == "scans"
    np.testing.assert_allclose(seq.points(0), [[5.0, -1.0, -1.0, 10.0, 3.0]])  # forward, 1 m right
    np.testing.assert_allclose(seq[0].points[:, :2], [[5.0, -1.0]])
    kitti = open_sequence(tmp_path, axes="kitti")
    np.testing.assert_allclose(kitti.points(0), pts)
    with pytest.raises(InputError, match="unknown sensor axes"):
        open_sequence(tmp_path, axes="ros")
    write_points(tmp_path / "000000.bin", _pts(0))  # mixed folder: not nuScenes
    assert open_sequence(tmp_path).axes == "kitti"


def test_frames_are_linked_only_in_time(tmp_path):
    for n in (0, 3, 6, 20):
        write_points(tmp_path / "run" / f"{n:010d}.bin", _pts(n))
    write_points(tmp_path / "other" / "0000000000.bin", _pts(9))
    seq = open_sequence(tmp_path)
    ids = [seq.frame_id(i) for i in range(len(seq))]
    assert ids[0].startswith("other/")
    assert "different folders" in link_problem(seq, 0, 1, 0.6, 0.1)
    assert link_problem(seq, 1, 2, 0.6, 0.1) is None  # frames 0 and 3 of a 10 Hz run: 0.3 s
    assert frame_time(seq, 2, 0.1) == pytest.approx(0.3)
    assert "1.40 s apart" in link_problem(seq, 3, 4, 0.6, 0.1)
    assert "not later" in link_problem(seq, 2, 1, 0.6, 0.1)
    names = tmp_path / "names"
    for name in ("left", "right"):
        write_points(names / f"{name}.bin", _pts(1))
    assert "no frame numbers" in link_problem(open_sequence(names), 0, 1, 0.6, 0.1)


def test_real_layouts_link_or_not(shared_data):
    cases = {"kitti_raw": None, "kitti_object/training": "independent scans",
             "semantickitti/sequences/00": None}
    for rel, problem in cases.items():
        if not (shared_data / rel).is_dir():
            continue
        seq = open_sequence(shared_data / rel)
        got = link_problem(seq, 0, 1, 0.6, 0.1)
        assert (got is None) if problem is None else (problem in got), (rel, got)
    sk = shared_data / "semantickitti" / "sequences" / "00"
    if sk.is_dir():
        seq = open_sequence(sk)
        k = seq.index_of("000005")
        assert "1.00 s apart" in link_problem(seq, k, k + 1, 0.6, 0.1)  # 000005 -> 000015
