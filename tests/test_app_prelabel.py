"""Pre-labelling from the app (offscreen): the shipped SqueezeDet runs in a worker process, the GUI
process never imports TensorFlow, a progress dialog can cancel (killing the worker), a worker that
dies is an error dialog, and duplicate proposals are suppressed."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import open_demo_window
from PyQt5 import QtCore, QtWidgets

from latte.app.controller import AppController
from latte.app.window import MainWindow
from latte.core.nms import overlapping_pairs

WORKER_TIMEOUT_MS = 240_000   # spawn + TensorFlow import + model load on a loaded 2-core machine


@pytest.fixture
def window(qtbot, demo_seq, tmp_path) -> MainWindow:
    from squeezeseg.resources import default_model_path

    if not Path(default_model_path("squeezedet")).is_file():
        pytest.skip(f"no shipped SqueezeDet weights at {default_model_path('squeezedet')}")
    return open_demo_window(qtbot, demo_seq, tmp_path / "session")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie (exited, not yet reaped) counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_prelabel_runs_in_worker_and_gui_never_imports_tensorflow(qtbot, window, messages):
    tf_before = "tensorflow" in sys.modules   # another test of this process may have imported it
    win = window
    assert not win.ctrl.boxes()
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=WORKER_TIMEOUT_MS) as done:
        qtbot.keyClick(win, QtCore.Qt.Key_P)
        assert win.progress_dialog is not None and win.progress_dialog.isVisible()
    assert done.args == [True], messages
    assert not [m for m in messages if m[0] == "error"], messages
    result = win.ctrl.last_prelabel
    assert result["pid"] != os.getpid() and result["source"] == "detector+segmentation"  # auto: both
    if not tf_before:
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    assert win.progress_dialog is None
    props = win.ctrl.proposals
    assert props and all(p.score is None or 0 < p.score <= 1 for p in props)  # the segmenter's: no score
    assert result["n_raw"] >= len(props)
    assert overlapping_pairs(props) == []                     # duplicates suppressed
    labels = win.ctrl.point_labels
    assert labels.shape == (len(win.ctrl.points),) and (labels >= 0).any() and labels.min() >= -1
    QtWidgets.QApplication.setActiveWindow(win)   # offscreen has no window manager to give focus back
    qtbot.keyClick(win, QtCore.Qt.Key_Return)                 # accept them all
    assert len(win.ctrl.boxes()) == len(props) and not win.ctrl.proposals

    # The worker stays up with its model loaded: the next frame's pre-label reuses it.
    pid = win.ctrl._prelabel_job.pid
    qtbot.keyClick(win, QtCore.Qt.Key_D)
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=WORKER_TIMEOUT_MS) as done:
        win.run_shortcut("prelabel")
    assert done.args == [True]
    assert win.ctrl.last_prelabel["pid"] == pid and win.ctrl.last_prelabel["seconds"]["load"] < 0.5
    if not tf_before:
        assert "tensorflow" not in sys.modules
    win.close()                                               # closing the window ends the worker
    assert not _alive(pid)


def test_cancel_kills_the_worker_and_changes_nothing(qtbot, window, messages):
    win = window
    before = win.ctrl.point_labels  # the dataset's own labels (the demo's), or None
    before = None if before is None else before.copy()
    with qtbot.waitSignal(win.ctrl.prelabel_started, timeout=5000):
        win.run_shortcut("prelabel")
    pid = win.ctrl._prelabel_job.pid
    assert pid is not None and _alive(pid)
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=10_000) as done:
        button = win.progress_dialog.findChild(QtWidgets.QPushButton)
        assert button.text() == "Cancel"
        qtbot.mouseClick(button, QtCore.Qt.LeftButton)
    assert done.args == [False]
    assert not _alive(pid) and win.progress_dialog is None
    assert win.ctrl.proposals == [] and not messages
    after = win.ctrl.point_labels
    assert (after is None) == (before is None)
    if before is not None:
        np.testing.assert_array_equal(after, before)  # the model's labels did not replace them
    # Esc in the progress dialog cancels too (a new worker was started for this request).
    win.run_shortcut("prelabel")
    second = win.ctrl._prelabel_job.pid
    assert second != pid and _alive(second)
    QtWidgets.QApplication.setActiveWindow(win.progress_dialog)
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=10_000) as done:
        qtbot.keyClick(win.progress_dialog, QtCore.Qt.Key_Escape)
    assert done.args == [False] and not _alive(second) and not messages


def test_worker_crash_is_an_error_dialog_not_a_crash(qtbot, window, messages):
    win = window
    win.run_shortcut("prelabel")
    pid = win.ctrl._prelabel_job.pid
    qtbot.waitUntil(lambda: win.progress_dialog is not None and win.progress_dialog.value() > 0,
                    timeout=WORKER_TIMEOUT_MS)                # the worker is working
    with qtbot.waitSignal(win.ctrl.prelabel_finished, timeout=10_000) as done:
        os.kill(pid, signal.SIGSEGV)                           # what TensorFlow did to the app
    assert done.args == [False]
    errors = [m for m in messages if m[0] == "error"]
    assert len(errors) == 1 and "stopped unexpectedly" in errors[0][2] and "SIGSEGV" in errors[0][2], messages
    assert win.ctrl.proposals == [] and win.isVisible()
    QtWidgets.QApplication.setActiveWindow(win)
    qtbot.keyClick(win, QtCore.Qt.Key_D)                        # the app goes on
    assert win.ctrl.frame == 1


def test_prelabel_without_points_starts_nothing(qtbot, tmp_path, messages):
    scans = tmp_path / "scans"
    scans.mkdir()
    np.zeros((0, 4), np.float32).tofile(scans / "000000.bin")
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    assert win.ctrl.open(scans, tmp_path / "s")
    assert win.ctrl.prelabel("auto") is False
    assert win.ctrl._prelabel_job is None and win.progress_dialog is None


def test_auto_runs_both_models_on_a_frame_with_a_camera():
    from latte.core.model_worker import BOTH, resolve_source, uses_detector

    assert resolve_source("auto", has_camera=True) == BOTH and uses_detector(BOTH)
    assert resolve_source("auto", has_camera=False) == "segmentation"
    assert resolve_source(BOTH, has_camera=True) == BOTH  # the worker gets the app's resolved source
    assert not uses_detector("segmentation") and uses_detector("detector")
    with pytest.raises(ValueError, match="unknown pre-label source"):
        resolve_source("lidar", has_camera=True)
