"""Editing latency of the LATTE app: from a key press, a click or the end of a drag to the repainted
window, for the keyboard edits (nudge, resize, rotate, refit), a one-click box, and drags in the
3D and side views. Each figure is the median of ``--repeats`` runs.

    .venv/bin/python scripts/bench_app_edit.py [--sequence PATH] [--platform xcb|offscreen] [--repeats 9]

``--platform xcb`` (default) draws through an X server with the OpenGL 3D view (``$DISPLAY``, else
a private Xvfb as in scripts/screenshots.py); ``offscreen`` has no 3D view, which shows what the 3D
view adds. "edit" = the event handled (session command, autosave, views updated); "+ paint" also
includes painting the whole window (``QWidget.grab``, the 3D view included), a pessimistic bound on
what the screen needs. "autosave_ms": the session's save after each edit (part of "edit"), median
and 90th percentile over the run. The session goes to a temporary folder. Default sequence: the
demo drive.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def measure(win, app, repeats: int) -> dict[str, list[float]]:
    """(edit, edit + paint) seconds per operation name."""
    import numpy as np
    from PyQt5 import QtCore, QtGui, QtWidgets
    from PyQt5.QtTest import QTest

    from latte.app import box_edit

    out: dict[str, list[float]] = {}

    def timed(name: str, action) -> None:
        t0 = time.perf_counter()
        action()
        t1 = time.perf_counter()
        win.grab()
        t2 = time.perf_counter()
        out.setdefault(f"{name} edit", []).append(t1 - t0)
        out.setdefault(f"{name} + paint", []).append(t2 - t0)

    for k in (QtCore.Qt.Key_Up, QtCore.Qt.Key_Down) * 2:   # warm-up: first paints, caches
        QTest.keyClick(win, k)
        win.grab()
    keys = {"nudge (Up)": (QtCore.Qt.Key_Up, QtCore.Qt.NoModifier, QtCore.Qt.Key_Down),
            "resize (Ctrl+Up)": (QtCore.Qt.Key_Up, QtCore.Qt.ControlModifier, QtCore.Qt.Key_Down),
            "rotate (Q)": (QtCore.Qt.Key_Q, QtCore.Qt.NoModifier, QtCore.Qt.Key_E)}
    for name, (k, mods, back) in keys.items():
        for i in range(repeats):
            key = k if i % 2 == 0 else back
            timed(name, lambda key=key, mods=mods: QTest.keyClick(win, key, mods))
    for _ in range(repeats):
        timed("refit (G)", lambda: QTest.keyClick(win, QtCore.Qt.Key_G))
        win.ctrl.undo()
    # One-click: a click on an object without a box (the box is undone after each run).
    box = win.ctrl.selected_box()
    win.ctrl.delete_box()
    win.bev.center_on(box.center[0], box.center[1], span_m=40.0)
    app.processEvents()
    pos = win.bev.lidar_to_widget(box.center[0], box.center[1])
    for _ in range(repeats):
        timed("one-click (BEV click)",
              lambda: QTest.mouseClick(win.bev.viewport(), QtCore.Qt.LeftButton, pos=pos))
        win.ctrl.undo()
    win.ctrl.undo()                        # the deleted box comes back, selected
    win.ctrl.select(0)
    # Side view: the top edge handle dragged 0.2 m up (and back).
    for i in range(repeats):
        roi = win.box_views.side.roi
        lo, hi = roi.extent()
        dh = 0.2 if i % 2 == 0 else -0.2
        timed("side view resize", lambda roi=roi, lo=lo, hi=hi, dh=dh:
              roi.setSize((hi[0] - lo[0], hi[1] - lo[1] + dh), finish=True))
    v = win.view3d
    if v is not None:
        v.focus_on(win.ctrl.selected_box())
        app.processEvents()

        def drag3d(sign: int) -> None:
            b = win.ctrl.selected_box()
            front = box_edit.face_centers(b)[0]
            a = v.to_widget(front)
            z = v.to_widget(front + 0.3 * sign * box_edit.axis_direction(b, 0))
            for kind, p, held in ((QtCore.QEvent.MouseButtonPress, a, QtCore.Qt.LeftButton),
                                  (QtCore.QEvent.MouseMove, z, QtCore.Qt.LeftButton),
                                  (QtCore.QEvent.MouseButtonRelease, z, QtCore.Qt.NoButton)):
                button = QtCore.Qt.NoButton if kind == QtCore.QEvent.MouseMove else QtCore.Qt.LeftButton
                ev = QtGui.QMouseEvent(kind, QtCore.QPointF(p), v.mapToGlobal(p), button, held,
                                       QtCore.Qt.NoModifier)
                QtWidgets.QApplication.sendEvent(v, ev)

        for i in range(repeats):
            timed("3D face drag", lambda i=i: drag3d(1 if i % 2 == 0 else -1))
    assert not np.isnan(win.ctrl.selected_box().center).any()
    return out


def run(args: argparse.Namespace) -> dict:
    from PyQt5 import QtWidgets
    from PyQt5.QtTest import QTest

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["latte"])
    from latte.app import dialogs
    from latte.app.controller import AppController
    from latte.app.demo import demo_ground_truth, demo_sequence
    from latte.app.window import MainWindow

    messages = []
    dialogs.message_hook = lambda *m: messages.append(m)
    seq = Path(args.sequence) if args.sequence else demo_sequence(progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(AppController())
        win.resize(1600, 950)
        win.show()
        QTest.qWaitForWindowExposed(win)
        assert win.ctrl.open(seq, Path(tmp) / "s"), messages
        win.activateWindow()
        for _ in range(100):
            if QtWidgets.QApplication.activeWindow() is win:
                break
            QTest.qWait(50)
        target = _an_object(win, seq, demo_ground_truth if not args.sequence else None)
        win.ctrl.click(*target)
        assert win.ctrl.selected is not None, f"no object at {target}: {messages}"
        saves = _time_saves(win.ctrl.session)
        times = measure(win, app, args.repeats)
        n_points = len(win.ctrl.points)
        win.close()
        app.processEvents()
    return {"platform": app.platformName(), "3d": win.view3d is not None, "points": n_points,
            "sequence": str(seq), "median_ms": {k: median_ms(v) for k, v in times.items()},
            "max_ms": {k: round(max(v) * 1000, 1) for k, v in times.items()},
            "autosave_ms": {"saves": len(saves), "median": median_ms(saves),
                            "p90": round(sorted(saves)[int(0.9 * (len(saves) - 1))] * 1000, 1)}}


def _time_saves(session) -> list[float]:
    """Seconds of every save ``session`` makes from now on (the autosave after each edit is part
    of each "edit" figure): wraps the instance's ``save``."""
    seconds: list[float] = []
    save = session.save

    def timed_save(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return save(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - t0)

    session.save = timed_save
    return seconds


def _an_object(win, seq: Path, truth_of) -> tuple[float, float]:
    """(x, y) to click: the best-seen ground-truth object of the demo, else the dataset's first
    label, else the largest non-ground cluster near the sensor's front."""
    import numpy as np

    pts = win.ctrl.points
    boxes = []
    if truth_of is not None:
        from latte.core.sequence import open_sequence
        from squeezeseg.io import read_tracking_labels

        boxes = read_tracking_labels(truth_of(seq), open_sequence(seq).calib(0)).get(0, [])
    boxes = boxes or win.ctrl.boxes()
    if boxes:
        best = max(boxes, key=lambda b: int(b.contains(pts).sum()))
        for _ in range(len(win.ctrl.boxes())):        # dataset labels: start from an empty frame
            win.ctrl.select(0)
            win.ctrl.delete_box()
        return tuple(pts[best.contains(pts), :2].mean(axis=0))
    ann = win.ctrl.annotator()
    obj = pts[~ann.is_ground] if ann.is_ground is not None else pts
    near = obj[(obj[:, 0] > 5) & (obj[:, 0] < 25) & (np.abs(obj[:, 1]) < 8)]
    return tuple(near[len(near) // 2, :2])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequence", help="sequence to open (default: the demo drive)")
    ap.add_argument("--platform", choices=("xcb", "offscreen"), default="xcb")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    if args.platform == "xcb" and not os.environ.get("DISPLAY"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from screenshots import x_display

        with x_display(1700, 1050) as display:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
            return subprocess.run([sys.executable, __file__, *(argv or sys.argv[1:])], env=env).returncode
    os.environ["QT_QPA_PLATFORM"] = args.platform
    result = run(args)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
