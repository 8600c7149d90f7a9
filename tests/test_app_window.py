"""The LATTE desktop app, offscreen: open the simulated demo, click an object, edit, undo/redo, track
into the next frame, save and reopen, and bad input (corrupt scan, missing calibration, unwritable
output) reported by a dialog while the app keeps running."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from latte.app.controller import AppController
from latte.app.window import MainWindow
from squeezeseg.boxes import Box3D


@pytest.fixture(scope="module")
def demo_seq(tmp_path_factory) -> Path:
    """A 3-frame simulated drive with camera (the same generator as `latte --demo`)."""
    from conftest import TEST_DEMO_SEED

    from latte.app.demo import demo_sequence

    return demo_sequence(frames=3, seed=TEST_DEMO_SEED, cache=tmp_path_factory.mktemp("latte-cache"),
                         progress=False)


@pytest.fixture(scope="module")
def demo_truth(demo_seq) -> dict[int, list[Box3D]]:
    """Ground-truth boxes of the demo drive per frame (from the simulator's tracking labels)."""
    from latte.app.demo import demo_ground_truth
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels

    seq = open_sequence(demo_seq)
    return read_tracking_labels(demo_ground_truth(demo_seq), seq.calib(0))


def make_window(qtbot, path: Path, out: Path) -> MainWindow:
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    QtWidgets.QApplication.setActiveWindow(win)   # offscreen windows are not activated by showing
    assert win.ctrl.open(path, out)
    return win


def well_seen_object(win: MainWindow, truth: dict[int, list[Box3D]]) -> Box3D:
    """The ground-truth car of frame 0 with the most points within 25 m that is also in frame 1."""
    pts = win.ctrl.points
    in_next = {b.track_id for b in truth[1]}
    cands = [b for b in truth[0] if b.label in ("Car", "Van") and b.track_id in in_next
             and np.hypot(*b.center[:2]) < 25]
    assert cands, "the demo drive has no nearby car"
    return max(cands, key=lambda b: int(b.contains(pts).sum()))


def click_at(qtbot, win: MainWindow, x: float, y: float) -> None:
    win.bev.center_on(x, y, span_m=40.0)
    qtbot.mouseClick(win.bev.viewport(), QtCore.Qt.LeftButton, pos=win.bev.lidar_to_widget(x, y))


def test_demo_click_move_undo_redo_track_save_reopen(qtbot, demo_seq, demo_truth, tmp_path, messages):
    out = tmp_path / "session"
    win = make_window(qtbot, demo_seq, out)
    assert len(win.ctrl.points) > 50_000
    assert win.camera.image is not None and win.camera.note.isVisible() is False
    target = well_seen_object(win, demo_truth)

    # A click on the object makes a one-click box that matches the ground truth.
    click_at(qtbot, win, *target.center[:2])
    boxes = win.ctrl.boxes()
    assert len(boxes) == 1, messages
    box = boxes[0]
    assert np.hypot(*(np.subtract(box.center[:2], target.center[:2]))) < 0.8
    assert box.bev_iou(target) > 0.4
    assert win.ctrl.selected == 0 and win.bev.roi.isVisible()
    assert win.box_list.count() == 1

    # Move it with the keyboard and by dragging the ROI; undo and redo with the shortcuts.
    qtbot.keyClick(win, QtCore.Qt.Key_Up)
    moved = win.ctrl.boxes()[0]
    assert moved.center[0] == pytest.approx(box.center[0] + 0.1)
    pos = win.bev.roi.pos()
    win.bev.roi.setPos((pos.x() + 1.0, pos.y()), finish=True)   # 1 m to the right on screen = -y
    dragged = win.ctrl.boxes()[0]
    assert dragged.center[1] == pytest.approx(moved.center[1] - 1.0, abs=1e-6)
    assert dragged.size == moved.size
    qtbot.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.ctrl.boxes()[0] == moved
    qtbot.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.ctrl.boxes()[0] == box
    qtbot.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)
    assert win.ctrl.boxes()[0] == moved
    qtbot.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)   # back to the fitted box

    # Class key 2 relabels; the per-instance log counts the operations.
    qtbot.keyClick(win, QtCore.Qt.Key_2)
    assert win.ctrl.boxes()[0].label == win.ctrl.class_names[1]
    assert "ops" in win.stats.text() and "ops" in win.effort.text()   # panel and status bar

    # Next frame: the tracker proposes the object near its true position; Enter accepts it.
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    assert win.ctrl.frame == 1
    tid = win.ctrl.boxes(0)[0].track_id
    props = [p for p in win.ctrl.proposals if p.track_id == tid]
    assert len(props) == 1
    truth1 = next(b for b in demo_truth[1] if b.track_id == target.track_id)
    assert np.hypot(*(np.subtract(props[0].center[:2], truth1.center[:2]))) < 1.0
    qtbot.keyClick(win, QtCore.Qt.Key_Return)
    assert [b.track_id for b in win.ctrl.boxes()] == [tid] and not win.ctrl.proposals

    saved = {f: win.ctrl.boxes(f) for f in range(3)}
    win.close()
    assert (out / "session.json").exists()
    assert not (out / "session.recovery.json").exists()   # clean close

    again = make_window(qtbot, demo_seq, out)
    assert {f: again.ctrl.boxes(f) for f in range(3)} == saved
    # Export (KITTI tracking needs the camera calibration), then import into a fresh session.
    again.ctrl.export("tracking", tmp_path / "labels.txt")
    assert len((tmp_path / "labels.txt").read_text().splitlines()) == 2
    third = make_window(qtbot, demo_seq, tmp_path / "fresh")
    third.ctrl.import_labels(tmp_path / "labels.txt")
    for f in range(3):
        got, want = third.ctrl.boxes(f), saved[f]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert np.allclose(g.center, w.center, atol=0.02) and g.label == w.label
    assert not [m for m in messages if m[0] == "error"]


def test_crash_recovery_restores_work_and_history(qtbot, demo_seq, demo_truth, tmp_path, messages):
    out = tmp_path / "session"
    win = make_window(qtbot, demo_seq, out)
    target = well_seen_object(win, demo_truth)
    click_at(qtbot, win, *target.center[:2])
    made = win.ctrl.boxes()
    assert len(made) == 1
    # Simulate a crash: the window goes away without closing the session.
    win.ctrl.session = None
    win.hide()
    assert (out / "session.recovery.json").exists()

    again = make_window(qtbot, demo_seq, out)
    assert again.ctrl.boxes() == made
    assert any(m[1] == "Recovered unsaved work" for m in messages)
    again.ctrl.undo()   # the undo history came back too
    assert again.ctrl.boxes() == []


def test_corrupt_scan_shows_dialog_and_app_keeps_running(qtbot, tmp_path, messages):
    seq = tmp_path / "scans"
    seq.mkdir()
    rng = np.random.default_rng(0)
    good = np.c_[rng.uniform(-20, 20, (2000, 3)), rng.uniform(0, 1, 2000)].astype(np.float32)
    good.tofile(seq / "000000.bin")
    (seq / "000001.bin").write_bytes(b"\x00\x01\x02")   # not a whole number of float32 x4 points
    good.tofile(seq / "000002.bin")
    win = make_window(qtbot, seq, tmp_path / "out")
    assert len(win.ctrl.points) == 2000
    assert win.camera.note.isVisible()                  # no camera in a plain scan folder
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    errors = [m for m in messages if m[0] == "error"]
    assert len(errors) == 1 and "000001.bin" in errors[0][2]
    assert win.ctrl.frame == 1 and len(win.ctrl.points) == 0
    qtbot.keyClick(win, QtCore.Qt.Key_D)                # still responsive
    assert win.ctrl.frame == 2 and len(win.ctrl.points) == 2000
    assert "3/3" in win.frame_label.text()


def test_missing_calibration_is_a_warning_and_points_still_show(qtbot, kitti_object, tmp_path, messages):
    # An object-layout copy made of links, with frame 000001's calibration missing.
    root = tmp_path / "training"
    for sub in ("velodyne", "image_2", "calib"):
        (root / sub).mkdir(parents=True)
        for f in sorted((kitti_object / sub).iterdir()):
            if not (sub == "calib" and f.stem == "000001"):
                (root / sub / f.name).symlink_to(f)
    (root / "calib" / "000001.txt").write_text("P2: 1 2 3\n")   # truncated calibration
    win = make_window(qtbot, root, tmp_path / "out")
    assert win.camera.image is not None
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    warn = [m for m in messages if m[0] == "warning"]
    assert warn and "000001.txt" in warn[0][2]
    assert win.camera.note.isVisible() and len(win.ctrl.points) > 100_000


def test_kitti_object_labels_load_and_draw(qtbot, kitti_object, tmp_path, messages):
    win = make_window(qtbot, kitti_object, tmp_path / "out")
    lines = [ln.split()[0] for ln in (kitti_object / "label_2" / "000000.txt").read_text().splitlines()]
    assert len(win.ctrl.boxes()) == sum(1 for c in lines if c != "DontCare")
    assert len(win.camera._box_items) >= 1                 # boxes drawn into the camera image
    assert not [m for m in messages if m[0] == "error"]


def test_unwritable_output_folder_is_reported(qtbot, demo_seq, tmp_path, messages):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    assert win.ctrl.open(demo_seq, blocker / "session") is None
    assert messages and messages[0][0] == "error" and "not-a-folder" in messages[0][2]
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_session_keeps_saved_file(qtbot, demo_seq, demo_truth, tmp_path, messages):
    out = tmp_path / "session"
    win = make_window(qtbot, demo_seq, out)
    target = well_seen_object(win, demo_truth)
    click_at(qtbot, win, *target.center[:2])
    win.close()
    before = (out / "session.json").read_bytes()
    out.chmod(0o555)
    try:
        again = make_window(qtbot, demo_seq, out)
        again.ctrl.select(0)
        again.ctrl.delete_box()
        assert any(m[0] == "error" for m in messages)
        assert (out / "session.json").read_bytes() == before
    finally:
        out.chmod(0o755)


def test_help_dialog_lists_every_shortcut(qtbot):
    from latte.app.shortcuts import SHORTCUTS

    win = MainWindow(AppController())
    qtbot.addWidget(win)
    win.run_shortcut("help")
    table = win.help_dialog.table
    assert table.rowCount() == len(SHORTCUTS)
    keys = [k for sc in SHORTCUTS for k in sc.keys]
    assert len(keys) == len(set(keys)), "a key is bound twice"
    assert {table.item(r, 0).text() for r in range(table.rowCount())} >= {"Ctrl+Z", "D, PgDown"}
    win.help_dialog.close()


def test_screenshot_command(qtbot, demo_seq, tmp_path, monkeypatch):
    from PIL import Image

    from latte.app.main import run_app

    shot = tmp_path / "shot.png"
    rc = run_app([str(demo_seq), "--out", str(tmp_path / "s"), "--screenshot", str(shot),
                  "--quit-after", "0.3", "--size", "1200x800"])
    assert rc == 0
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (800, 1200, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 100   # a drawn window, not a blank one
    assert run_app([str(tmp_path / "missing"), "--quit-after", "0.1"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("source", ["detector", "segmentation"])
def test_prelabel_with_shipped_models_on_real_kitti(qtbot, kitti_object, tmp_path, messages, source):
    # The shipped SqueezeDet (camera fusion) or SqueezeSeg on a real KITTI frame, in the model worker.
    if source == "detector":
        from squeezeseg.resources import default_model_path

        if not Path(default_model_path("squeezedet")).is_file():
            pytest.skip(f"no shipped SqueezeDet weights at {default_model_path('squeezedet')}")
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    assert win.ctrl.open(kitti_object, tmp_path / "out", frame=2)
    truth = win.ctrl.boxes()
    for _ in truth:                      # start from an empty frame
        win.ctrl.select(0)
        win.ctrl.delete_box()
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=300_000) as done:
        assert win.ctrl.prelabel(source)      # the model runs in the worker process
    assert done.args == [True]
    props = win.ctrl.proposals
    assert not [m for m in messages if m[0] == "error"], messages
    if source == "detector" and not props:
        # The shipped SqueezeDet's operating point (per-class score thresholds tuned on simulated images,
        # issue #23) lets nothing through on this real frame: its real-image AP at IoU 0.7 is 0
        # (docs/squeezedet.md); what is tested here is that the worker runs it without an error.
        return
    assert props, "no proposals"
    # At least one proposal lies on a labelled object; the per-point pre-labels are classes or -1.
    assert truth and max(p.bev_iou(b) for p in props for b in truth) > 0.3
    assert win.ctrl.point_labels.shape == (len(win.ctrl.points),)
    assert win.ctrl.point_labels.min() >= -1 and (win.ctrl.point_labels >= 0).any()
    win.ctrl.accept_proposals()
    assert len(win.ctrl.boxes()) == len(props)


def test_labels_of_another_sequence_are_refused(qtbot, demo_seq, demo_truth, shared_data, tmp_path, messages):
    labels = shared_data / "kitti_tracking" / "label_02" / "0000.txt"
    if not labels.is_file():
        pytest.skip(f"{labels} not found")
    win = make_window(qtbot, demo_seq, tmp_path / "s")
    click_at(qtbot, win, *well_seen_object(win, demo_truth).center[:2])
    before = {f: win.ctrl.boxes(f) for f in range(3)}
    win.ctrl.import_labels(labels)            # 154 frames of a real drive into a 3-frame sequence
    assert [m for m in messages if m[0] in ("error", "warning")], "no dialog"
    assert {f: win.ctrl.boxes(f) for f in range(3)} == before


def test_failed_autosave_keeps_edit_in_memory_and_files_intact(qtbot, demo_seq, demo_truth, tmp_path,
                                                                messages):
    # The session folder disappears under the app (a unmounted or replaced disk): every save fails.
    out = tmp_path / "session"
    win = make_window(qtbot, demo_seq, out)
    click_at(qtbot, win, *well_seen_object(win, demo_truth).center[:2])
    assert len(win.ctrl.boxes()) == 1
    out.rename(tmp_path / "moved")
    out.write_text("not a folder")
    saved = (tmp_path / "moved" / "session.json").read_bytes()
    qtbot.keyClick(win, QtCore.Qt.Key_Delete)
    errors = [m for m in messages if m[0] == "error"]
    assert errors and "autosave failed" in errors[0][2]
    assert win.ctrl.boxes() == []                          # the edit is kept in memory
    assert "NOT SAVED" in win.stats.text()
    assert out.read_text() == "not a folder"
    assert (tmp_path / "moved" / "session.json").read_bytes() == saved
