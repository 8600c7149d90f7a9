"""Keyboard shortcuts belong to the main window: Enter or Esc typed in a dialog acts on the dialog,
never on the window's proposals or selection (offscreen; tests/test_app_xcb.py repeats the Enter
case under a real X server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import open_demo_window
from PyQt5 import QtCore, QtWidgets

from latte.app.window import MainWindow
from squeezeseg.boxes import Box3D


@pytest.fixture
def win(qtbot, demo_seq, tmp_path, messages) -> MainWindow:
    """The demo open with one box (selected) in frame 0 and its tracked proposal in frame 1."""
    w = open_demo_window(qtbot, demo_seq, tmp_path / "session")
    w.ctrl.click(*_a_car(demo_seq, w.ctrl.points))
    assert len(w.ctrl.boxes()) == 1, messages
    qtbot.keyClick(w, QtCore.Qt.Key_D)
    assert w.ctrl.frame == 1 and len(w.ctrl.proposals) == 1 and not w.ctrl.boxes()
    return w


def _a_car(demo_seq: Path, points) -> tuple[float, float]:
    """(x, y) of the ground-truth car of frame 0 with the most points that is also in frame 1."""
    from latte.app.demo import demo_ground_truth
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels

    truth = read_tracking_labels(demo_ground_truth(demo_seq), open_sequence(demo_seq).calib(0))
    in_next = {b.track_id for b in truth[1]}
    cars = [b for b in truth[0] if b.label in ("Car", "Van") and b.track_id in in_next]
    assert cars, "the demo drive has no car seen in two frames"
    best = max(cars, key=lambda b: int(b.contains(points).sum()))
    return best.center[0], best.center[1]


def _state(w: MainWindow) -> tuple:
    return w.ctrl.frame, w.ctrl.selected, list(w.ctrl.proposals), w.ctrl.boxes(0), w.ctrl.boxes(1)


@pytest.mark.parametrize("fmt", ["json", "kitti"])
def test_enter_in_the_export_dialog_does_not_accept_proposals(qtbot, win, tmp_path, fmt):
    """json: a file name typed, Enter in the name field; kitti: a folder dialog, Enter on its list."""
    before = _state(win)
    target = tmp_path / ("labels.json" if fmt == "json" else "kitti")
    target.parent.mkdir(exist_ok=True)
    if fmt == "kitti":
        target.mkdir()
    seen = {}

    def file_dialog() -> QtWidgets.QFileDialog | None:
        found = [w for w in QtWidgets.QApplication.topLevelWidgets()
                 if isinstance(w, QtWidgets.QFileDialog) and w.isVisible()]
        return found[0] if found else None

    def type_name_and_press_enter() -> None:
        dlg = file_dialog()
        if dlg is None:                                       # not shown yet: look again soon
            return
        poll.stop()
        seen["dialog"] = type(dlg).__name__
        QtWidgets.QApplication.setActiveWindow(dlg)          # what a window manager does
        edit = dlg.findChild(QtWidgets.QLineEdit)
        edit.setText(str(target))
        if fmt == "json":
            qtbot.keyClick(edit, QtCore.Qt.Key_Return)
        else:                                                 # Enter on the folder list, then Enter
            view = dlg.findChild(QtWidgets.QListView, "listView")
            qtbot.keyClick(view, QtCore.Qt.Key_Return)
            if dlg.isVisible():
                qtbot.keyClick(edit, QtCore.Qt.Key_Return)

    def close_if_stuck() -> None:   # a failing test must not hang on a modal dialog
        dlg = file_dialog()
        if dlg is not None:
            dlg.close()

    poll, guard = QtCore.QTimer(), QtCore.QTimer()
    poll.setInterval(50)
    poll.timeout.connect(type_name_and_press_enter)
    guard.setSingleShot(True)
    guard.timeout.connect(close_if_stuck)
    poll.start()
    guard.start(10_000)
    try:
        win.export_dialog(fmt)                                # blocks until the dialog is done
    finally:
        poll.stop()
        guard.stop()
    assert seen["dialog"] == "QFileDialog"
    assert _state(win) == before                              # Enter accepted no proposal
    assert target.is_file() if fmt == "json" else any(target.rglob("*.txt"))   # the export ran
    QtWidgets.QApplication.setActiveWindow(win)
    qtbot.keyClick(win, QtCore.Qt.Key_Return)                 # in the window, Enter accepts
    assert len(win.ctrl.boxes()) == 1 and not win.ctrl.proposals


def test_keys_in_a_dialog_stay_in_the_dialog(qtbot, win):
    qtbot.keyClick(win, QtCore.Qt.Key_A)                       # back to frame 0, select its box
    qtbot.keyClick(win, QtCore.Qt.Key_N)
    assert win.ctrl.frame == 0 and win.ctrl.selected == 0
    win.ctrl.proposals = [Box3D(center=(20.0, 5.0, -1.0), size=(4.0, 1.8, 1.5))]
    before = _state(win)
    for key in (QtCore.Qt.Key_Space, QtCore.Qt.Key_D, QtCore.Qt.Key_Delete, QtCore.Qt.Key_Enter,
                QtCore.Qt.Key_Return, QtCore.Qt.Key_Escape):
        win.run_shortcut("help")                               # (re)open the help dialog
        help_dialog = win.help_dialog
        QtWidgets.QApplication.setActiveWindow(help_dialog)    # what a window manager does
        assert help_dialog.isVisible()
        qtbot.keyClick(help_dialog.table, key)
        assert _state(win) == before, QtCore.Qt.Key(key)
    assert not help_dialog.isVisible()                        # Esc closed the dialog
    QtWidgets.QApplication.setActiveWindow(win)
    qtbot.keyClick(win, QtCore.Qt.Key_Escape)                 # in the window, Esc deselects
    assert win.ctrl.selected is None


def test_every_shortcut_is_bound_to_the_window(win):
    contexts = {sc.context() for sc in win.shortcut_objects}
    assert contexts == {QtCore.Qt.WindowShortcut}
    assert all(sc.parent() is win for sc in win.shortcut_objects)
