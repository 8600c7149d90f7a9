"""The 3D view on a real X server (Xvfb, xcb platform, Mesa OpenGL): shown by default, and the selected
box edited there with the mouse: a face handle dragged (resize with the opposite face fixed),
Ctrl+drag (move), Shift+drag (turn), a click on another box (select), window keys while the 3D view
has the focus, each drag one undoable command, and a click on a tracked proposal takes it. Runs in a
fresh interpreter like tests/test_app_xcb.py, whose Xvfb fixture it shares; skips without Xvfb."""

from __future__ import annotations

import json
import textwrap

import pytest
from test_app_xcb import XVFB, display, run_xcb  # noqa: F401 - display is a fixture

pytestmark = pytest.mark.skipif(
    XVFB is None, reason="Xvfb is not installed (Debian package xvfb; `make test` installs it as root)")


# Mouse events are sent to the GL widget as Qt events with the button held (QTest.mouseMove carries
# no buttons in Qt 5); the handlers are the ones a real mouse reaches.
DRIVER = textwrap.dedent('''
    import json, math, sys
    import numpy as np
    from PyQt5 import QtCore, QtGui, QtWidgets
    from PyQt5.QtTest import QTest
    app = QtWidgets.QApplication(["latte"])
    assert app.platformName() == "xcb", app.platformName()
    from latte.app import box_edit, dialogs
    from latte.app.controller import AppController
    from latte.app.window import MainWindow
    from latte.app.demo import demo_ground_truth
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels
    messages = []
    dialogs.message_hook = lambda *m: messages.append(m)
    seq_dir, out, shot = sys.argv[1:4]
    from pathlib import Path
    truth = read_tracking_labels(demo_ground_truth(Path(seq_dir)), open_sequence(seq_dir).calib(0))
    win = MainWindow(AppController())
    win.resize(1400, 900)
    win.show()
    assert QTest.qWaitForWindowExposed(win)
    assert win.ctrl.open(seq_dir, out)
    v = win.view3d
    facts = {"has3d": v is not None, "dock_visible": v is not None and win.docks["3D"].isVisible()}
    pts = win.ctrl.points
    objs = sorted((b for b in truth[0] if np.hypot(*b.center[:2]) < 30 and b.contains(pts).sum() >= 50),
                  key=lambda b: -int(b.contains(pts).sum()))
    for b in objs[:2]:
        win.ctrl.click(*pts[b.contains(pts), :2].mean(axis=0))
    win.ctrl.select(0)
    v.focus_on(win.ctrl.selected_box())
    QTest.qWait(300)

    def send(kind, px, buttons=QtCore.Qt.LeftButton, mods=QtCore.Qt.NoModifier):
        types = {"press": QtCore.QEvent.MouseButtonPress, "move": QtCore.QEvent.MouseMove,
                 "release": QtCore.QEvent.MouseButtonRelease}
        button = QtCore.Qt.NoButton if kind == "move" else QtCore.Qt.LeftButton
        held = QtCore.Qt.NoButton if kind == "release" else buttons
        p = QtCore.QPointF(*px)
        ev = QtGui.QMouseEvent(types[kind], p, v.mapToGlobal(p.toPoint()), button, held, mods)
        QtWidgets.QApplication.sendEvent(v, ev)

    def drag(a, b, mods=QtCore.Qt.NoModifier, steps=5):
        send("press", a, mods=mods)
        for t in np.linspace(0, 1, steps + 1)[1:]:
            send("move", (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), mods=mods)
        send("release", b, mods=mods)
        QTest.qWait(50)

    def px_of(p):
        q = v.to_widget(p)
        return (float(q.x()), float(q.y()))

    box0 = win.ctrl.selected_box()
    # 1. The front face handle dragged outwards along the heading's image on screen.
    front, rear = box_edit.face_centers(box0)[0], box_edit.face_centers(box0)[1]
    a, b = np.array(px_of(front)), np.array(px_of(front + box_edit.axis_direction(box0, 0)))
    facts["handle_hit"] = v.handle_at(tuple(a))
    send("move", tuple(a), buttons=QtCore.Qt.NoButton)        # hovering over the handle
    facts["hover_cursor"] = v.cursor().shape() == QtCore.Qt.SizeAllCursor
    drag(tuple(a), tuple(a + (b - a)))          # one metre's worth of pixels
    box1 = win.ctrl.selected_box()
    facts["resize"] = [box1.size[0] - box0.size[0],
                       float(np.linalg.norm(box_edit.face_centers(box1)[1] - rear))]
    # 2. Ctrl+drag: the box follows the mouse on its ground plane.
    c = np.array(box1.center)
    start, end = px_of(c), px_of(c + np.array([1.5, -1.0, 0.0]))
    drag(start, end, QtCore.Qt.ControlModifier)
    box2 = win.ctrl.selected_box()
    facts["move"] = list(np.subtract(box2.center, box1.center))
    # 3. Shift+drag: a quarter turn of the mouse around the centre turns the box a quarter.
    c = np.array(box2.center)
    r = 3.0
    arc = [px_of(c + r * np.array([math.cos(t), math.sin(t), 0.0])) for t in np.linspace(0, math.pi / 2, 8)]
    send("press", arc[0], mods=QtCore.Qt.ShiftModifier)
    for p in arc[1:]:
        send("move", p, mods=QtCore.Qt.ShiftModifier)
    send("release", arc[-1], mods=QtCore.Qt.ShiftModifier)
    box3 = win.ctrl.selected_box()
    facts["turn_deg"] = math.degrees(math.atan2(math.sin(box3.yaw - box2.yaw), math.cos(box3.yaw - box2.yaw)))
    facts["ops"] = [cmd.op for cmd in win.ctrl.session._stack.done][-3:]
    # 4. Keys while the 3D view has the focus: arrows nudge the box (not orbit the camera).
    win.activateWindow()            # no window manager on Xvfb: ask for the focus and wait for it
    for _ in range(100):
        if QtWidgets.QApplication.activeWindow() is win:
            break
        QTest.qWait(50)
    v.setFocus()
    QTest.qWait(50)
    facts["focus_in_3d"] = QtWidgets.QApplication.focusWidget() is v
    cam = dict(v.opts)
    QTest.keyClick(v, QtCore.Qt.Key_Up)
    box4 = win.ctrl.selected_box()
    facts["key_nudge"] = box4.center[0] - box3.center[0]
    facts["camera_still"] = v.opts["azimuth"] == cam["azimuth"] and v.opts["elevation"] == cam["elevation"]
    # 5. A plain click on the other box selects it; a plain drag elsewhere orbits the camera.
    other = win.ctrl.boxes()[1]
    p = px_of(other.center)
    send("press", p)
    send("release", p)
    facts["picked"] = win.ctrl.selected
    az, n_done = v.opts["azimuth"], len(win.ctrl.session._stack.done)
    drag((20.0, 20.0), (80.0, 20.0))
    facts["orbited"] = v.opts["azimuth"] != az and len(win.ctrl.session._stack.done) == n_done
    # 6. Undo the nudge, turn, move and resize: the box is back as one-click made it.
    for _ in range(4):
        win.ctrl.undo()
    facts["undone"] = win.ctrl.boxes()[0] == box0
    # 7. Next frame: the tracked proposals are drawn in 3D, and a click on one takes it.
    win.ctrl.next_frame()
    props = list(win.ctrl.proposals)
    facts["proposals"] = len(props)
    if props:
        v.focus_on(props[0])
        QTest.qWait(100)
        p = px_of(props[0].center)
        send("press", p)
        send("release", p)
    facts["taken"] = [len(win.ctrl.boxes()), len(win.ctrl.proposals)]
    QTest.qWait(200)
    win.grab().save(shot)   # the 3D view included (QOpenGLWidget renders into the grab)
    from PIL import Image
    img = np.asarray(Image.open(shot).convert("RGB"))
    tl = v.mapTo(win, QtCore.QPoint(0, 0))
    region = img[tl.y():tl.y() + v.height(), tl.x():tl.x() + v.width()]
    facts["gl_colours"] = int(len(np.unique(region.reshape(-1, 3), axis=0)))
    facts["errors"] = [m for m in messages if m[0] == "error"]
    win.close()
    print("FACTS " + json.dumps(facts))
''')


def test_3d_view_is_shown_and_edits_the_selected_box(display, demo_seq, tmp_path):  # noqa: F811
    shot = tmp_path / "view3d.png"
    proc = run_xcb(display, ["-c", DRIVER, str(demo_seq), str(tmp_path / "s"), str(shot)], timeout=240)
    facts = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("FACTS "))[6:])
    assert facts["has3d"] and facts["dock_visible"], facts
    assert facts["handle_hit"] == 0 and facts["hover_cursor"], facts   # the front face's handle
    grow, rear_moved = facts["resize"]
    assert grow == pytest.approx(1.0, abs=0.15) and rear_moved < 1e-6, facts
    assert facts["move"] == pytest.approx([1.5, -1.0, 0.0], abs=0.1), facts
    assert facts["turn_deg"] == pytest.approx(90.0, abs=4.0), facts
    assert facts["ops"] == ["resize", "move", "rotate"], facts
    assert facts["focus_in_3d"] and facts["key_nudge"] == pytest.approx(0.1) and facts["camera_still"], facts
    assert facts["picked"] == 1 and facts["orbited"], facts
    assert facts["undone"] and not facts["errors"], facts
    assert facts["proposals"] >= 1 and facts["taken"] == [1, facts["proposals"] - 1], facts
    assert facts["gl_colours"] > 50, facts                      # the GL view drew points
