"""Make the README / docs screenshots of the LATTE app from the simulated demo drive.

    .venv/bin/python scripts/screenshots.py [--out docs/images] [--platform xcb|offscreen]

Writes latte-app.png (frame 0 after one-click boxes, one selected, its handles in the bird's-eye,
3D, side and rear views) and latte-app-tracking.png (frame 1 with the tracker's proposals). With
``--platform xcb`` (the default) the window is drawn by a real X server, so the OpenGL 3D view is in
the pictures: the script uses ``$DISPLAY`` when set, else starts its own ``Xvfb`` (Debian package
xvfb). ``offscreen`` needs no X server but has no 3D view. The session goes to a temporary folder, so
no user session is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def x_display(width: int, height: int):
    """A private Xvfb (its display number chosen by Xvfb) while inside; yields its DISPLAY value."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("screenshots: no $DISPLAY and no Xvfb (apt-get install xvfb; "
                         "or --platform offscreen)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    try:
        if not number:
            raise SystemExit("screenshots: Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images", help="folder for the PNGs")
    ap.add_argument("--size", default="1600x950")
    ap.add_argument("--platform", choices=("xcb", "offscreen"), default="xcb",
                    help="xcb: a real X server (with the 3D view); offscreen: no X server, no 3D view")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    if args.platform == "offscreen":
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return shoot(Path(args.out), w, h)
    if os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return shoot(Path(args.out), w, h)
    # A private Xvfb must outlive the Qt application (Qt aborts when its X server goes first), so
    # the pictures are taken by a child process on it.
    with x_display(w + 100, h + 100) as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        argv = [sys.executable, __file__, "--out", args.out, "--size", args.size, "--platform", "xcb"]
        return subprocess.run(argv, env=env).returncode


def shoot(out: Path, w: int, h: int) -> int:
    """Open the demo drive, annotate like a user would and save the two PNGs into ``out``."""
    import numpy as np
    from PyQt5 import QtWidgets
    from PyQt5.QtTest import QTest

    from latte.app import dialogs
    from latte.app.controller import AppController
    from latte.app.demo import demo_ground_truth, demo_sequence
    from latte.app.window import MainWindow
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["latte"])
    dialogs.message_hook = lambda level, title, text: print(f"{level}: {title}: {text}", file=sys.stderr)
    seq_dir = demo_sequence(progress=False)
    truth = read_tracking_labels(demo_ground_truth(seq_dir), open_sequence(seq_dir).calib(0))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(AppController())
        win.resize(w, h)
        win.show()
        QTest.qWaitForWindowExposed(win)
        win.ctrl.open(seq_dir, Path(tmp) / "session")
        pts = win.ctrl.points
        # The best-seen objects of frame 0 within 35 m that are still there in frame 1.
        nxt = {b.track_id for b in truth.get(1, [])}
        cands = [b for b in truth[0] if b.track_id in nxt and np.hypot(*b.center[:2]) < 35
                 and b.contains(pts).sum() >= 30]
        for b in cands[:4]:   # click where an annotator would: on the object's points
            inside = pts[b.contains(pts), :2]
            win.ctrl.click(*inside.mean(axis=0))
        win.ctrl.select(0)
        win.bev.center_on(10.0, 0.0, span_m=50.0)
        if win.view3d is not None:
            win.view3d.focus_on(win.ctrl.selected_box())
            win.view3d.setCameraPosition(elevation=30, azimuth=215)
        QTest.qWait(500)
        win.save_screenshot(out / "latte-app.png")
        win.ctrl.next_frame()
        QTest.qWait(500)
        win.save_screenshot(out / "latte-app-tracking.png")
        win.close()
        app.processEvents()
    print(f"wrote {out / 'latte-app.png'} and {out / 'latte-app-tracking.png'}"
          f"{'' if win.view3d is not None else ' (no 3D view on this platform)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
