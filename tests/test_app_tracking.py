"""The app on sequences and on sets of unrelated frames (offscreen): tracked proposals follow a moving
car while the sensor moves, nothing is carried across frames that are not a sequence, keyframe
interpolation and whole-track edits from the keyboard with undo, and real data layouts opening with
what they carry (camera, per-point labels, nuScenes axes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PyQt5 import QtCore, QtWidgets

from latte.app.controller import AppController
from latte.app.window import MainWindow
from latte.core.synthetic import scan_scene
from latte.core.synthetic_drive import drive_scan, pose_matrix
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.io import write_points

H = 1.73
SENSOR_STEP, CAR_STEP = 1.0, 1.5   # metres per frame: the car in front drives 0.5 m/frame faster


def moving_car(k: int) -> Box3D:
    """The car in front of the sensor in frame k's coordinates."""
    return Box3D((8.0 + (CAR_STEP - SENSOR_STEP) * k, 3.0, 0.75 - H), (4.2, 1.8, 1.5), 0.0, "Car")


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> Path:
    """A 10-frame synthetic drive (numbered scans, 10 Hz), the sensor moving 1 m per frame."""
    root = tmp_path_factory.mktemp("drive") / "scans"
    for k in range(10):
        scan = drive_scan(pose_matrix(SENSOR_STEP * k, 0, 0), [moving_car(k)], seed=k)
        write_points(root / f"{k:010d}.bin", scan)
    return root


def make_window(qtbot, path: Path, out: Path, config=None) -> MainWindow:
    win = MainWindow(AppController(config))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    QtWidgets.QApplication.setActiveWindow(win)
    assert win.ctrl.open(path, out)
    return win


def centre_error(a: Box3D, b: Box3D) -> float:
    return float(np.hypot(*(np.asarray(a.center[:2]) - b.center[:2])))


def test_next_frame_proposal_lands_on_the_moved_car(qtbot, drive, tmp_path, messages):
    win = make_window(qtbot, drive, tmp_path / "s")
    first = win.ctrl.session.box(0, win.ctrl.session.add_box(0, moving_car(0)))   # as the annotator left it
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    (prop,) = win.ctrl.proposals
    # The frame coordinates of the car changed by 0.5 m; the proposal is on the car, and the
    # sensor's own 1 m step came from scan registration.
    assert centre_error(prop, moving_car(1)) < 0.2 < centre_error(first, moving_car(1))
    step = win.ctrl.last_tracking["ego"]
    assert step.registered and step.T[0, 3] == pytest.approx(SENSOR_STEP, abs=0.05)
    qtbot.keyClick(win, QtCore.Qt.Key_Return)
    qtbot.keyClick(win, QtCore.Qt.Key_D)   # with two frames the filter knows the car's speed too
    (prop,) = win.ctrl.proposals
    assert centre_error(prop, moving_car(2)) < 0.15
    assert not messages


def _object_layout(root: Path) -> Path:
    """A KITTI object layout of two unrelated scenes (a car at 10 m, then at 25 m the other way)."""
    calib = KittiCalib(P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
                       R0_rect=np.eye(3),
                       Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]))
    scenes = [Box3D((10.0, 2.0, 0.75 - H), (4.2, 1.8, 1.5), 0.3),
              Box3D((25.0, -4.0, 0.75 - H), (4.2, 1.8, 1.5), 2.0)]
    for k, car in enumerate(scenes):
        write_points(root / "velodyne" / f"{k:06d}.bin", scan_scene([car], beams=32, azimuth_steps=1024))
        (root / "calib").mkdir(exist_ok=True)
        (root / "calib" / f"{k:06d}.txt").write_text(format_kitti_calib(calib))
        (root / "image_2").mkdir(exist_ok=True)
        Image.new("RGB", (1242, 375)).save(root / "image_2" / f"{k:06d}.png")
    return root


def test_independent_frames_carry_nothing_and_say_why(qtbot, tmp_path, messages):
    root = _object_layout(tmp_path / "training")
    win = make_window(qtbot, root, tmp_path / "s")
    assert win.ctrl.click(10.0, 2.0) is not None
    shown = []
    win.ctrl.status.connect(shown.append)
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    assert win.ctrl.frame == 1 and win.ctrl.proposals == []
    assert any("independent scans" in s for s in shown)
    assert "independent" in win.ctrl.last_tracking["not_linked"]


def test_interpolate_and_batch_edit_from_the_keyboard_with_undo(qtbot, drive, tmp_path, messages):
    win = make_window(qtbot, drive, tmp_path / "s")
    c = win.ctrl
    # Keyframes 1 and 10 as the annotator left them (exact boxes), then frames 2-9 from them.
    first = c.session.box(0, c.session.add_box(0, moving_car(0)))
    c.session.add_box(9, moving_car(9).replace(track_id=first.track_id))
    c.go_to(0)
    c.select(0)
    qtbot.keyClick(win, QtCore.Qt.Key_I, QtCore.Qt.ShiftModifier)   # interpolate and fit to the points
    tid = first.track_id
    assert sorted(c.session.track_frames(tid)) == list(range(10))
    for k in range(1, 9):
        b = c.boxes(k)[0]
        assert centre_error(b, moving_car(k)) < 0.15, k
        assert abs(np.angle(np.exp(2j * b.yaw))) < np.radians(4), k
    # T: the selected box's class for the whole track; Shift+T: its size.
    c.set_class(c.class_names.index("Van"))
    qtbot.keyClick(win, QtCore.Qt.Key_T)
    assert {c.boxes(k)[0].label for k in range(10)} == {"Van"}
    c.edit_selected(c.selected_box().replace(size=(4.6, 1.9, 1.6)))
    qtbot.keyClick(win, QtCore.Qt.Key_T, QtCore.Qt.ShiftModifier)
    assert {c.boxes(k)[0].size for k in range(10)} == {(4.6, 1.9, 1.6)}
    qtbot.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)    # the size edit of 9 frames goes
    assert len({c.boxes(k)[0].size for k in range(10)}) > 1
    # The Track menu lists the actions with their keys.
    titles = [a.text() for m in win.menuBar().actions() if "Trac" in m.text() for a in m.menu().actions()]
    assert any(t.endswith("\tI") for t in titles) and any("Shift+T" in t for t in titles)
    assert not messages


def test_interpolation_refuses_frames_that_are_not_a_sequence(qtbot, tmp_path, messages):
    root = _object_layout(tmp_path / "training")
    for k in (2, 3):  # a third frame so that the track has a gap
        (root / "velodyne" / f"{k:06d}.bin").write_bytes((root / "velodyne" / "000000.bin").read_bytes())
        (root / "calib" / f"{k:06d}.txt").write_text((root / "calib" / "000000.txt").read_text())
        Image.new("RGB", (1242, 375)).save(root / "image_2" / f"{k:06d}.png")
    win = make_window(qtbot, root, tmp_path / "s")
    c = win.ctrl
    box = c.click(10.0, 2.0)
    c.session.add_box(2, box.replace(point_indices=None))
    c.select(0)
    assert not c.interpolate_track()
    assert messages and "independent scans" in messages[-1][2]
    assert sorted(c.session.track_frames(box.track_id)) == [0, 2]


# ---- real data in -------------------------------------------------------------------------------
def _real(shared_data: Path, rel: str) -> Path:
    path = shared_data / rel
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def test_real_kitti_raw_drive_with_camera_and_tracking(qtbot, shared_data, tmp_path, messages):
    win = make_window(qtbot, _real(shared_data, "kitti_raw"), tmp_path / "s")
    c = win.ctrl
    assert len(c.sequence) == 30 and c.image is not None and c.calib is not None
    assert win.camera.image is not None   # the camera view shows the image with the points
    car = c.click(9.8, -0.2)
    assert len(win.camera._box_items) == 1   # and the box's edges projected into it
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    (prop,) = c.proposals
    assert c.last_tracking["ego"].registered
    # The sensor moved about 0.2 m: the proposal moved with the car in the frame's coordinates.
    assert 0.1 < centre_error(prop, car) < 0.6
    assert not messages


def test_real_semantickitti_labels_shown_as_colours(qtbot, shared_data, tmp_path, messages):
    win = make_window(qtbot, _real(shared_data, "semantickitti/sequences/00"), tmp_path / "s")
    c = win.ctrl
    labels = c.point_labels
    assert labels is not None and len(labels) == len(c.points)
    car = c.class_names.index("Car")
    assert (labels == car).sum() > 3000   # about 4,300 car points in frame 000000
    assert (labels == -1).mean() > 0.5    # road, buildings, vegetation: none of the classes
    win.set_color_mode("label")           # C / View menu: the labels in colour
    c.go_to(5)   # 000005 has no labels: the colours fall back
    assert c.point_labels is None


def test_real_nuscenes_sweep_is_turned_to_x_forward(qtbot, shared_data, tmp_path, messages):
    folder = _real(shared_data, "nuscenes_lidar")
    win = make_window(qtbot, folder, tmp_path / "s")
    raw = np.fromfile(next(folder.glob("*.pcd.bin")), np.float32).reshape(-1, 5)
    np.testing.assert_allclose(win.ctrl.points[:, 0], raw[:, 1])
    np.testing.assert_allclose(win.ctrl.points[:, 1], -raw[:, 0])
    # The car's own shadow on the road is longer than wide: after turning, the nearest ground
    # returns ahead and behind (+-x) are farther than those to the sides (+-y).
    ground = win.ctrl.points[win.ctrl.points[:, 2] < -1.5]
    r = np.hypot(ground[:, 0], ground[:, 1])
    heading = np.degrees(np.arctan2(ground[:, 1], ground[:, 0]))

    def nearest(direction: float) -> float:
        return float(r[np.abs((heading - direction + 180) % 360 - 180) < 20].min())

    assert min(nearest(0), nearest(180)) > max(nearest(90), nearest(-90)) + 0.3


@pytest.mark.parametrize("rel", ["kitti_pcd/data_1", "squeezeseg_sample",
                                 "kitti_object/training/velodyne/000000.bin"])
def test_real_layouts_open(qtbot, shared_data, tmp_path, messages, rel):
    win = make_window(qtbot, _real(shared_data, rel), tmp_path / "s")
    assert len(win.ctrl.points) > 10_000
    assert not messages


def test_file_menu_opens_one_scan_file(qtbot, tmp_path, monkeypatch, messages):
    scan = tmp_path / "one" / "000042.bin"
    write_points(scan, drive_scan(pose_matrix(0, 0, 0)))
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    win.show()
    # The file dialog answers with the scan (patched on the window's module, not on Qt's class).
    dialog = type("Dialog", (), {"getOpenFileName": staticmethod(lambda *a, **k: (str(scan), ""))})
    monkeypatch.setattr("latte.app.window.QtWidgets", type("W", (), {"QFileDialog": dialog}))
    monkeypatch.setattr("latte.app.controller.default_out_dir", lambda root: tmp_path / "session")
    (action,) = [a for m in win.menuBar().actions() for a in m.menu().actions() if "scan &file" in a.text()]
    action.trigger()
    monkeypatch.undo()
    assert len(win.ctrl.sequence) == 1 and win.ctrl.frame_id() == "000042"
    assert len(win.ctrl.points) > 1000 and not messages


def test_axes_option_of_the_command_line(qtbot, tmp_path, monkeypatch, messages):
    """`latte --axes nuscenes` turns scans that `auto` would leave alone (and `--axes kitti` the other
    way); a wrong value is a command-line error."""
    from latte.app.main import run_app

    scans = tmp_path / "scans"
    write_points(scans / "000000.bin", np.array([[1.0, 5.0, -1.0, 0.5]] * 200, np.float32))
    opened = []
    real_open = AppController.open

    def spy(self, path, out_dir=None, frame=0):
        ok = real_open(self, path, out_dir, frame)
        opened.append(self.sequence.axes)
        return ok

    monkeypatch.setattr(AppController, "open", spy)
    quick = ["--quit-after", "0.05"]
    assert run_app([str(scans), "--out", str(tmp_path / "s1"), *quick]) == 0
    assert run_app([str(scans), "--axes", "nuscenes", "--out", str(tmp_path / "s2"), *quick]) == 0
    assert opened == ["kitti", "nuscenes"]
    with pytest.raises(SystemExit) as exc:
        run_app([str(scans), "--axes", "ros"])
    assert exc.value.code == 2


def test_an_unreadable_earlier_frame_costs_the_proposals_not_the_app(qtbot, tmp_path, messages):
    root = tmp_path / "scans"
    for k in range(3):
        scan = drive_scan(pose_matrix(SENSOR_STEP * k, 0, 0), [moving_car(k)], seed=k)
        write_points(root / f"{k:010d}.bin", scan)
    win = make_window(qtbot, root, tmp_path / "s")
    c = win.ctrl
    first = c.session.box(0, c.session.add_box(0, moving_car(0)))
    c.session.add_box(1, moving_car(1).replace(track_id=first.track_id))
    (root / f"{0:010d}.bin").write_bytes(b"\x00" * 7)   # frame 0 broken after it was labelled
    c.go_to(1)
    c.next_frame()
    assert c.frame == 2 and c.proposals == []
    assert messages and messages[-1][1] == "No tracked proposals for this frame"
    assert "0000000000.bin" in messages[-1][2]
