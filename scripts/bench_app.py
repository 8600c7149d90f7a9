"""Speed of the LATTE app's drawing, offscreen: open-and-draw of a frame, pan and zoom redraws, for
130k and 300k points; and the per-symbol pyqtgraph scatter the BEV layer replaces, as a baseline.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_app.py [--repeats 7] [--kitti] [--kitti-raw]

Every figure is the median of ``--repeats`` runs. "open" = read the scan, image and calibration,
colour and rasterise the points, project them into the camera image, draw the boxes, and paint the
window (``QWidget.grab``). "pan"/"zoom" = one view change of the bird's-eye view and its repaint.
The CPU may be shared: figures are pessimistic on a loaded machine.

``--kitti-raw``: the real KITTI raw drive (../shared/data/kitti_raw, 30 frames with camera): the
time to open it (a fresh session, first frame drawn with its camera image), and the next frame with
tracking (``D``: read and draw the frame, register the scan onto the previous one, propose every
track of the previous frame) with three cars boxed by one click in frame 0 and the proposals
accepted (``Enter``) on every frame; the first ``D`` after opening is given apart (the tracker's
libraries may still be importing in the background).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def synthetic_scan(n: int, seed: int = 0):
    """A KITTI-like ring scan of ``n`` points: 64 beams over 360 degrees plus a few box-shaped objects."""
    import numpy as np

    rng = np.random.default_rng(seed)
    beams = np.radians(np.linspace(-24.8, 2.0, 64))
    az = rng.uniform(-np.pi, np.pi, n)
    el = beams[rng.integers(0, 64, n)]
    r = np.where(el < 0, np.minimum(1.73 / np.tan(-el + 1e-3), 80.0), rng.uniform(5, 80, n))
    r *= rng.uniform(0.98, 1.02, n)
    ce = np.cos(el)
    pts = np.c_[r * ce * np.cos(az), r * ce * np.sin(az), r * np.sin(el), rng.uniform(0, 1, n)]
    return pts.astype(np.float32)


CPU_MS: dict[int, float] = {}


def median_ms(fn, repeats: int) -> float:
    """Median wall time in ms; the median CPU time of the same runs is kept in CPU_MS[id(fn)]."""
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    CPU_MS[id(fn)] = statistics.median(cpu)
    return statistics.median(times)


def bench_sequence(win, app, path: Path, out: Path, repeats: int) -> dict[str, float]:
    win.ctrl.open(path, out)
    app.processEvents()
    n = len(win.ctrl.sequence)

    def open_frame(i=[0]):  # noqa: B006 - a counter that cycles through the frames
        i[0] = (i[0] + 1) % n
        win.ctrl.go_to(i[0])
        app.processEvents()
        win.grab()

    res = {"points": float(len(win.ctrl.points)), "open_ms": median_ms(open_frame, repeats)}
    res["open_cpu"] = CPU_MS[id(open_frame)]
    vb = win.bev.vb

    def pan():
        vb.translateBy(x=2.0, y=1.0)
        app.processEvents()
        win.bev.grab()

    def zoom(k=[0]):  # noqa: B006
        k[0] += 1
        s = 0.8 if k[0] % 2 else 1.25
        vb.scaleBy((s, s))
        app.processEvents()
        win.bev.grab()

    res["pan_ms"] = median_ms(pan, repeats * 3)
    res["pan_cpu"] = CPU_MS[id(pan)]
    res["zoom_ms"] = median_ms(zoom, repeats * 3)
    res["zoom_cpu"] = CPU_MS[id(zoom)]
    return res


RAW_CARS = ((9.8, -0.2), (7.5, 3.3), (31.2, -4.4))   # cars in frame 0 of the shared KITTI raw drive


def bench_kitti_raw(win, app, path: Path, tmp: Path, repeats: int) -> dict[str, float]:
    """Open time and next-frame-with-tracking time on the real drive (see the module docstring)."""
    import numpy as np

    def open_fresh(k=[0]):  # noqa: B006 - a counter: a new session folder per run
        k[0] += 1
        win.ctrl.open(path, tmp / f"raw{k[0]}")
        app.processEvents()
        win.grab()

    res = {"open_ms": median_ms(open_fresh, repeats)}
    res["open_cpu"] = CPU_MS[id(open_fresh)]
    win.ctrl.open(path, tmp / "raw-track")
    for x, y in RAW_CARS:
        win.ctrl.click(x, y)
    app.processEvents()
    times, cpu, props, track = [], [], [], []
    for _ in range(len(win.ctrl.sequence) - 1):
        t0, c0 = time.perf_counter(), time.process_time()
        win.ctrl.next_frame()
        app.processEvents()
        win.grab()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        props.append(len(win.ctrl.proposals))
        track.append(win.ctrl.last_tracking.get("track_s", 0.0) * 1000)
        win.ctrl.accept_proposals()
        app.processEvents()
    res.update(first_next_ms=times[0], next_ms=statistics.median(times[1:]),
               next_cpu=statistics.median(cpu[1:]), next_p90=float(np.percentile(times[1:], 90)),
               track_ms=statistics.median(track[1:]),
               proposals=statistics.median(props), frames=len(times))
    return res


def bench_scatter_baseline(points, repeats: int) -> float:
    """Per-point-coloured pg.ScatterPlotItem in a PlotWidget: set data and paint once."""
    import pyqtgraph as pg

    from latte.app.raster import point_colors

    colors = point_colors(points, "height")
    brushes = [pg.mkBrush(*c) for c in colors]
    w = pg.PlotWidget()
    w.resize(900, 800)
    w.show()
    item = pg.ScatterPlotItem(size=2, pen=None, pxMode=True)
    w.addItem(item)

    def draw():
        item.setData(points[:, 0], points[:, 1], brush=brushes)
        w.grab()

    return median_ms(draw, repeats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="LATTE app drawing benchmark (offscreen)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--kitti", action="store_true", help="also the real KITTI object frames (shared data)")
    ap.add_argument("--kitti-raw", action="store_true",
                    help="open and next-frame-with-tracking times of the real KITTI raw drive (shared data)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the slow scatter baseline")
    ap.add_argument("--blas-threads", action="store_true",
                    help="keep OpenBLAS's default threads (the app limits them to 1)")
    args = ap.parse_args(argv)

    from PyQt5 import QtWidgets

    from latte.app.main import limit_blas_threads

    if not args.blas_threads:
        limit_blas_threads()

    from latte.app import dialogs
    from latte.app.controller import AppController
    from latte.app.raster import point_colors
    from latte.app.window import MainWindow
    from squeezeseg.resources import shared_data_dir

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench"])
    dialogs.message_hook = lambda level, title, text: print(f"{level}: {title}: {text}", file=sys.stderr)
    win = MainWindow(AppController())
    win.resize(1600, 950)
    win.show()
    app.processEvents()
    rows = []
    raw_res = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = shared_data_dir() / "kitti_raw"
        if args.kitti_raw and raw.is_dir():
            raw_res = bench_kitti_raw(win, app, raw, tmp, args.repeats)
        for n in (130_000, 300_000):
            folder = tmp / f"scans{n}"
            folder.mkdir()
            for k in range(3):
                synthetic_scan(n, k).tofile(folder / f"{k:06d}.bin")
            rows.append((f"synthetic {n // 1000}k, no camera", bench_sequence(win, app, folder, tmp / f"s{n}",
                                                                              args.repeats)))
        kitti = shared_data_dir() / "kitti_object" / "training"
        if args.kitti and kitti.is_dir():
            rows.append(("KITTI object + camera + labels", bench_sequence(win, app, kitti, tmp / "k",
                                                                          args.repeats)))
        if not args.no_baseline:
            pts = synthetic_scan(130_000)
            scatter = bench_scatter_baseline(pts, 3)
            win.ctrl.open(tmp / "scans130000", tmp / "s130000")
            app.processEvents()
            win.bev.resize(900, 800)

            def ours():
                win.bev.set_points(pts, point_colors(pts, "height"))
                win.bev.grab()

            raster = median_ms(ours, 5)
            print(f"130k points, set + paint (wall): pg.ScatterPlotItem {scatter:.0f} ms, rasterised layer "
                  f"{raster:.0f} ms ({scatter / raster:.0f}x faster)")
        win.close()
    print(f"median of {args.repeats} (pan/zoom: {args.repeats * 3}) runs, wall ms (CPU ms); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if raw_res is not None:
        r = raw_res
        print(f"KITTI raw drive: open (fresh session, first frame with camera drawn) {r['open_ms']:.0f} ms "
              f"({r['open_cpu']:.0f} CPU); next frame with tracking (D, draw included) median "
              f"{r['next_ms']:.0f} ms ({r['next_cpu']:.0f} CPU), p90 {r['next_p90']:.0f} ms, of which "
              f"registration + proposals {r['track_ms']:.0f} ms; {r['proposals']:.0f} proposals per frame "
              f"over {r['frames']} frames; first D after opening {r['first_next_ms']:.0f} ms")
    print(f"{'case':34s} {'points':>7s} {'open+draw':>16s} {'pan':>14s} {'zoom':>14s}")
    for name, r in rows:
        print(f"{name:34s} {int(r['points']):7d} {r['open_ms']:8.1f} ({r['open_cpu']:5.1f}) "
              f"{r['pan_ms']:6.1f} ({r['pan_cpu']:5.1f}) {r['zoom_ms']:6.1f} ({r['zoom_cpu']:5.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
