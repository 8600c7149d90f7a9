"""Make the README / docs screenshots of the LATTE app from the simulated demo drive (offscreen).

    .venv/bin/python scripts/screenshots.py [--out docs/images]

Writes latte-app.png (frame 0 after three one-click boxes, one selected) and
latte-app-tracking.png (frame 1 with the tracker's proposals). The session goes to a temporary
folder, so no user session is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images", help="folder for the PNGs")
    ap.add_argument("--size", default="1600x950")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))

    import numpy as np
    from PyQt5 import QtWidgets

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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(AppController())
        win.resize(w, h)
        win.show()
        win.ctrl.open(seq_dir, Path(tmp) / "session")
        pts = win.ctrl.points
        # The best-seen objects of frame 0 within 30 m that are still there in frame 1.
        nxt = {b.track_id for b in truth.get(1, [])}
        cands = [b for b in truth[0] if b.track_id in nxt and np.hypot(*b.center[:2]) < 35
                 and b.contains(pts).sum() >= 30]
        for b in cands[:4]:   # click where an annotator would: on the object's points
            inside = pts[b.contains(pts), :2]
            win.ctrl.click(*inside.mean(axis=0))
        win.ctrl.select(0)
        win.bev.center_on(10.0, 0.0, span_m=60.0)
        app.processEvents()
        win.save_screenshot(out / "latte-app.png")
        win.ctrl.next_frame()
        app.processEvents()
        win.save_screenshot(out / "latte-app-tracking.png")
        win.close()
    print(f"wrote {out / 'latte-app.png'} and {out / 'latte-app-tracking.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
