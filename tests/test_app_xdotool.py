"""The editing views driven with real X input (xdotool key presses and mouse drags on Xvfb, the xcb
platform), as a user would: a resize key, a drag of a face handle in the 3D view, a drag of the top
edge in the side view, a click in the class list, and `D` then `Ctrl+Z`, which jumps back to the
frame the undone edit was made on. Skips without Xvfb or xdotool."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from test_app_xcb import XVFB, display, run_xcb  # noqa: F401 - display is a fixture

XDOTOOL = shutil.which("xdotool")
pytestmark = pytest.mark.skipif(XVFB is None or XDOTOOL is None,
                                reason="needs Xvfb and xdotool (Debian packages xvfb, xdotool)")


# xdotool runs from inside the app's process (its events queue up in the X server and are handled
# by the next QTest.qWait), so the test needs no second process watching the window.
DRIVER = textwrap.dedent('''
    import json, subprocess, sys
    from pathlib import Path
    import numpy as np
    from PyQt5 import QtCore, QtWidgets
    from PyQt5.QtTest import QTest
    app = QtWidgets.QApplication(["latte"])
    from latte.app import box_edit, dialogs
    from latte.app.controller import AppController
    from latte.app.demo import demo_ground_truth
    from latte.app.window import MainWindow
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels
    messages = []
    dialogs.message_hook = lambda *m: messages.append(m)
    seq_dir, out = sys.argv[1:3]
    truth = read_tracking_labels(demo_ground_truth(Path(seq_dir)), open_sequence(seq_dir).calib(0))
    win = MainWindow(AppController())
    win.resize(1400, 880)
    win.move(0, 0)
    win.show()
    assert QTest.qWaitForWindowExposed(win)
    assert win.ctrl.open(seq_dir, out)
    pts = win.ctrl.points
    car = max((b for b in truth[0] if b.label in ("Car", "Van") and np.hypot(*b.center[:2]) < 30),
              key=lambda b: int(b.contains(pts).sum()))
    win.ctrl.click(*pts[car.contains(pts), :2].mean(axis=0))
    win.view3d.focus_on(win.ctrl.selected_box())
    win.activateWindow()
    for _ in range(100):
        if QtWidgets.QApplication.activeWindow() is win:
            break
        QTest.qWait(50)
    QTest.qWait(300)

    def xdo(*args):
        subprocess.run(["xdotool", *map(str, args)], check=True)
        QTest.qWait(400)

    def drag(widget, a, b):
        ga = widget.mapToGlobal(QtCore.QPoint(*map(int, a)))
        gb = widget.mapToGlobal(QtCore.QPoint(*map(int, b)))
        xdo("mousemove", ga.x(), ga.y())
        xdo("mousedown", 1)
        for t in (0.25, 0.5, 0.75, 1.0):
            xdo("mousemove", int(ga.x() + t * (gb.x() - ga.x())), int(ga.y() + t * (gb.y() - ga.y())))
        xdo("mouseup", 1)

    facts = {}
    b0 = win.ctrl.selected_box()
    xdo("key", "ctrl+Up")
    b1 = win.ctrl.selected_box()
    facts["key_resize"] = b1.size[0] - b0.size[0]
    # 3D: the front face handle dragged along the heading's image by one metre's worth of pixels.
    v = win.view3d
    front = box_edit.face_centers(b1)[0]
    a, z = v.to_widget(front), v.to_widget(front + box_edit.axis_direction(b1, 0))
    drag(v, (a.x(), a.y()), (z.x(), z.y()))
    b2 = win.ctrl.selected_box()
    facts["drag3d"] = [b2.size[0] - b1.size[0],
                       float(np.linalg.norm(box_edit.face_centers(b2)[1] - box_edit.face_centers(b1)[1]))]
    # Side view: the top edge handle dragged 25 pixels up.
    side = win.box_views.side
    top = side.roi.mapToScene(QtCore.QPointF(side.roi.size().x() / 2, side.roi.size().y()))
    p = side.mapFromScene(top)
    drag(side, (p.x(), p.y()), (p.x(), p.y() - 25))
    b3 = win.ctrl.selected_box()
    bottom = [b.center[2] - b.size[2] / 2 for b in (b2, b3)]
    facts["side_drag"] = [b3.size[2] - b2.size[2], bottom[1] - bottom[0]]
    # Class list: a click on "Pedestrian" relabels the selected box.
    lst = win.class_list
    r = lst.visualItemRect(lst.item(3)).center()
    g = lst.viewport().mapToGlobal(r)
    xdo("mousemove", g.x(), g.y())
    xdo("click", 1)
    facts["relabel"] = win.ctrl.selected_box().label
    facts["ops"] = [c.op for c in win.ctrl.session._stack.done]
    # Next frame, then undo: the relabel made on frame 0 is undone there, and the app goes there.
    win.activateWindow()
    QTest.qWait(200)
    xdo("key", "d")
    facts["after_d"] = win.ctrl.frame
    xdo("key", "ctrl+z")
    facts["after_undo"] = [win.ctrl.frame, win.ctrl.selected_box().label, win.statusBar().currentMessage()]
    facts["errors"] = [m for m in messages if m[0] == "error"]
    win.close()
    print("FACTS " + json.dumps(facts))
''')


def test_editing_with_real_x_input(display, demo_seq, tmp_path):  # noqa: F811
    proc = run_xcb(display, ["-c", DRIVER, str(demo_seq), str(tmp_path / "s")], timeout=240)
    facts = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("FACTS "))[6:])
    assert facts["key_resize"] == pytest.approx(0.1), facts
    grow, rear_moved = facts["drag3d"]
    assert grow == pytest.approx(1.0, abs=0.15) and rear_moved < 1e-6, facts
    taller, bottom = facts["side_drag"]
    assert taller > 0.1 and bottom == pytest.approx(0.0, abs=1e-6), facts   # top edge only
    assert facts["relabel"] == "Pedestrian", facts
    assert facts["ops"][-4:] == ["resize", "resize", "resize", "relabel"], facts
    assert facts["after_d"] == 1, facts
    frame, label, status = facts["after_undo"]
    assert frame == 0 and label == "Car" and "jumped" in status, facts
    assert not facts["errors"], facts
