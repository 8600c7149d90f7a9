"""Pre-labelling through the app's model worker: per-frame wall time (first frame: worker start,
TensorFlow import and model load; then the model stays loaded) and duplicate proposals before and
after suppression in bird's-eye view (latte.core.nms).

    python scripts/bench_app_prelabel.py [SEQUENCE] [--frames N] [--source auto|detector|segmentation]

Without SEQUENCE it uses the `latte --demo` drive (10 simulated frames with camera). Runs the real
app window offscreen; the GUI process never imports TensorFlow (checked at the end).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sequence", nargs="?")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--source", default="auto", choices=("auto", "detector", "segmentation"))
    p.add_argument("--out", default=None, help="session folder (default: a temporary one)")
    args = p.parse_args()

    import tempfile

    from PyQt5 import QtCore, QtWidgets

    from latte.app import dialogs
    from latte.app.controller import AppController
    from latte.app.window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench"])  # noqa: F841 - kept alive
    path = args.sequence
    if path is None:
        from latte.app.demo import DEMO_FRAMES, demo_sequence

        path = demo_sequence(DEMO_FRAMES, progress=False)
    dialogs.message_hook = lambda level, title, text: print(f"{level}: {title}: {text}", file=sys.stderr)
    out = args.out or tempfile.mkdtemp(prefix="latte-bench-")
    win = MainWindow(AppController())
    win.resize(1400, 900)
    win.show()
    if not win.ctrl.open(path, out):
        return 2
    n = min(args.frames, len(win.ctrl.sequence))
    rows = []
    for i in range(n):
        win.ctrl.go_to(i)
        loop = QtCore.QEventLoop()
        win.ctrl.prelabel_finished.connect(loop.quit)
        t0 = time.perf_counter()
        if win.ctrl.prelabel(args.source):
            loop.exec_()
        wall = time.perf_counter() - t0
        win.ctrl.prelabel_finished.disconnect(loop.quit)
        r = win.ctrl.last_prelabel
        rows.append((i, wall, r["seconds"], r["n_raw"], len(r["labels"]), r["pairs"]))
        s = r["seconds"]
        print(f"frame {i}: {wall:6.2f} s wall (ground {s['ground']:.2f}, load {s.get('load', 0):.2f}, "
              f"model {s['model']:.2f}, fit+nms {s['fit']:.2f}); "
              f"proposals {r['n_raw']} -> {len(r['labels'])}; "
              f"overlapping pairs > {0.1:g}: {r['pairs']['raw']} -> {r['pairs']['kept']}, "
              f"any overlap: {r['pairs']['raw_any']} -> {r['pairs']['kept_any']}", flush=True)
    warm = sorted(w for _, w, *_ in rows[1:])
    tot = {k: sum(r[5][k] for r in rows) for k in ("raw", "kept", "raw_any", "kept_any")}
    print(f"\n{n} frames ({r['source']}): first {rows[0][1]:.2f} s, then median {warm[len(warm) // 2]:.2f} s "
          f"(min {warm[0]:.2f}, max {warm[-1]:.2f}) per frame" if warm else "")
    print(f"proposals {sum(r[3] for r in rows)} -> {sum(r[4] for r in rows)}; overlapping pairs "
          f"(> 0.1 of the smaller footprint) {tot['raw']} -> {tot['kept']}, any overlap "
          f"{tot['raw_any']} -> {tot['kept_any']}")
    print(f"TensorFlow imported by the GUI process: {'tensorflow' in sys.modules}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
