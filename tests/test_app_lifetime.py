"""A closed window leaves nothing of Qt for Python's garbage collector: every Qt object it made is
destroyed with it, by Qt, in the GUI thread (latte.app.lifetime). Python's collector runs in any
thread that allocates (the tracker's import warm-up thread among them), and a QWidget it destroys
there, or while Qt is delivering an event to it, aborts the test run ("pure virtual method called")."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets, sip

from latte.app.controller import AppController
from latte.app.window import MainWindow
from squeezeseg.io import write_points


@pytest.fixture
def scans(tmp_path):
    """Three small scans in a folder (a sequence the app opens)."""
    rng = np.random.default_rng(0)
    for i in range(3):
        pts = np.c_[rng.uniform(-20, 20, (500, 2)), rng.uniform(-2, 1, (500, 1)), rng.random((500, 1))]
        write_points(tmp_path / "scans" / f"{i:06d}.bin", pts.astype(np.float32))
    return tmp_path / "scans"


def python_owned_parts(win: MainWindow) -> list[QtCore.QObject]:
    """The window's QObjects that would belong to Python, not to the window, without
    latte.app.lifetime: its controller, and the context menus (with their widget groups) that
    pyqtgraph makes without a parent for each ViewBox and ROI handle."""
    parts: list[QtCore.QObject] = [win.ctrl]
    for view in win.findChildren(QtWidgets.QGraphicsView):
        for item in view.scene().items():
            menu = getattr(item, "menu", None)
            if isinstance(menu, QtWidgets.QMenu):
                parts += [menu, *getattr(menu, "widgetGroups", ())]
    return parts


def test_deleting_the_window_destroys_every_qt_object_it_made(qtbot, scans, tmp_path, messages):
    """Nothing of a deleted window is left alive for Python's garbage collector to destroy later."""
    win = MainWindow(AppController())
    win.show()
    assert win.ctrl.open(scans, tmp_path / "s")
    win.ctrl.next_frame()
    qtbot.wait(20)
    parts = python_owned_parts(win)
    assert len(parts) >= 4
    win.close()
    win.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.DeferredDelete)
    assert sip.isdeleted(win)
    assert [type(o).__name__ for o in parts if not sip.isdeleted(o)] == []


def test_pyqtgraph_menus_belong_to_their_views(qtbot):
    """pyqtgraph makes ViewBox and ROI handle menus without a parent; the window adopts them."""
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    menus = [item.menu for view in win.findChildren(QtWidgets.QGraphicsView)
             for item in view.scene().items() if isinstance(getattr(item, "menu", None), QtWidgets.QMenu)]
    assert len(menus) >= 2                           # ROI handles (bird's-eye, side views), camera ViewBox
    assert all(m.parent() is not None for m in menus)
    assert win.ctrl.parent() is win


def test_closing_the_window_stops_its_timer(qtbot):
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    win.show()
    assert win._tick.isActive()
    win.close()
    assert not win._tick.isActive()
    win.show()                                       # shown again: the status figures update again
    assert win._tick.isActive()


def test_run_app_destroys_its_window_when_it_returns(scans, tmp_path, messages):
    """The scripted app's window is gone when run_app returns, before any garbage collection."""
    from latte.app.main import run_app

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    gc.collect()
    gc.disable()
    try:
        assert run_app([str(scans), "--out", str(tmp_path / "s"), "--quit-after", "0.05"]) == 0
        left = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    finally:
        gc.enable()
    assert left == []
