"""Entry point of the desktop app: `latte [SEQUENCE] [--demo] [--screenshot FILE --quit-after S]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from squeezeseg.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latte", description="LATTE LiDAR annotation app.")
    p.add_argument("sequence", nargs="?",
                   help="KITTI raw / object / tracking folder, SemanticKITTI sequence, SqueezeSeg .npy "
                   "folder, a folder of scans (.bin, .pcd, .ply, .npy, .las) or one scan file")
    p.add_argument("--demo", action="store_true", help="simulate a drive with camera (cached) and open it")
    p.add_argument("--demo-frames", type=int, default=None, help="frames of the demo drive (default 10)")
    p.add_argument("--out", help="session folder (default: ~/.latte/sessions/<sequence>-<hash>)")
    p.add_argument("--frame", type=int, default=0, help="frame to show first")
    p.add_argument("--config", help="LATTE config YAML (default configs/latte.yaml)")
    p.add_argument("--axes", choices=("auto", "kitti", "nuscenes"),
                   help="sensor axes: kitti = x forward, y left; nuscenes = x right, y forward (turned on "
                   "reading); auto = nuscenes for .pcd.bin scans (default: sensor.axes of the config)")
    p.add_argument("--prelabel", choices=("detector", "segmentation", "auto"),
                   help="pre-label the first frame with a model (proposals to accept or adjust)")
    p.add_argument("--screenshot", metavar="FILE", help="save the window as PNG after --quit-after seconds")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after this many seconds")
    p.add_argument("--size", default="1600x950", help="window size WxH (default 1600x950)")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like 1600x950, got {text!r}") from None
    return w, h


def limit_blas_threads() -> None:
    """One BLAS thread for the app process: its matrix products are tall and thin (N x 4 @ 4 x 4
    point transforms), where OpenBLAS threads only add start-up and contention (measured 5-10x slower
    per projection of a 115k-point frame on a loaded 2-core machine; scripts/bench_app.py)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it the app only runs slower
        return
    threadpool_limits(limits=1, user_api="blas")


def _print_message(level: str, title: str, text: str) -> None:
    print(f"latte: {level}: {title}: {text}", file=sys.stderr)


def check_session_lock(out: Path, ask: Callable[[str, str], bool], tell: Callable[[str, str], None]) -> bool:
    """Whether the session folder ``out`` may be opened; asks before taking over a lock whose owner
    cannot be checked (another host) and tells why a folder open in a running process is refused.

    A lock of a process that is gone is taken over by the session itself (and logged)."""
    from latte.core.session import LOCK_FILE, read_lock

    owner = read_lock(out)
    if owner is None or owner.pid == os.getpid():
        return True
    state = owner.state()
    if state == "stale":
        return True
    if state == "live":
        tell("Session already open", f"The session folder {out} is open in another LATTE "
             f"({owner.describe()}). Close it there first, or open the sequence with another --out.")
        return False
    if ask("Session may be open elsewhere", f"The session folder {out} was opened on another computer "
           f"({owner.describe()}) and not closed. Take it over? Only do so if LATTE is not running there: "
           "two sessions on one folder overwrite each other's work."):
        (out / LOCK_FILE).unlink(missing_ok=True)
        return True
    return False


def run_app(argv: Sequence[str] | None = None) -> int:
    """Start the app; returns the exit status (2 for bad arguments or an unreadable sequence)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return _run(args)
    except InputError as exc:
        print(f"latte: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from PyQt5 import QtWidgets

    size = _size(args.size)
    limit_blas_threads()
    path: Path | None = Path(args.sequence) if args.sequence else None
    if args.demo:
        from latte.app.demo import DEMO_FRAMES, demo_sequence

        path = demo_sequence(args.demo_frames or DEMO_FRAMES, progress=sys.stderr.isatty())
    from latte.core.config import load_latte_config

    config = load_latte_config(args.config)
    if args.axes:
        import dataclasses

        config = dataclasses.replace(config, sensor=dataclasses.replace(config.sensor, axes=args.axes))
    if path is not None:
        from latte.core.sequence import open_sequence

        open_sequence(path, axes=config.sensor.axes)  # a wrong path is a command-line error (exit 2)

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["latte"])
    from latte.app import dialogs
    from latte.app.controller import AppController
    from latte.app.lifetime import destroy_now
    from latte.app.window import MainWindow

    scripted = args.screenshot is not None or args.quit_after is not None
    if scripted and dialogs.message_hook is None:
        dialogs.message_hook = _print_message
    window = MainWindow(AppController(config))
    try:
        return _show(app, window, args, path, size, scripted)
    finally:   # the window (worker, timers, views) ends here, not whenever Python's gc runs
        destroy_now(window)


def _show(app, window, args: argparse.Namespace, path: Path | None, size: tuple[int, int],
          scripted: bool) -> int:
    """Show ``window``, open ``path`` in it and run the event loop; returns the exit status."""
    from PyQt5 import QtCore

    window.resize(*size)
    window.show()
    status = {"rc": 0}
    if path is not None and not _may_open(window, path, args.out):
        path = None
        status["rc"] = 2 if scripted else 0
    opened = path is not None and window.ctrl.open(path, args.out, frame=args.frame)
    wants_prelabel = bool(opened and args.prelabel and not window.ctrl.boxes())
    if not scripted:
        if wants_prelabel:
            window.ctrl.prelabel(args.prelabel)
        return status["rc"] or app.exec_()
    # Scripted (screenshot / quit-after): a local event loop, so that leaving it does not leave Qt's
    # application-wide "quit" pending for whatever runs next in this process (tests open dialogs).
    loop = QtCore.QEventLoop()
    app.setQuitOnLastWindowClosed(False)
    timer_started = []

    def finish() -> None:
        if args.screenshot:
            try:
                window.save_screenshot(args.screenshot)
            except OSError as exc:
                _print_message("error", args.screenshot, f"cannot write screenshot ({exc})")
                status["rc"] = 2
        window.close()
        loop.quit()

    def start_timer(*_) -> None:
        if not timer_started:
            timer_started.append(True)
            QtCore.QTimer.singleShot(int(1000 * (args.quit_after or 0.5)), finish)

    # Pre-labels arrive from the worker: the picture and the exit wait for them.
    window.ctrl.prelabel_finished.connect(start_timer)
    if not (wants_prelabel and window.ctrl.prelabel(args.prelabel)):
        start_timer()
    loop.exec_()
    app.setQuitOnLastWindowClosed(True)
    return status["rc"]


def _may_open(window, path: Path, out_arg: str | None) -> bool:
    """The lock check of :func:`check_session_lock` with Qt dialogs (messages when scripted)."""
    from PyQt5 import QtWidgets

    from latte.app import dialogs
    from latte.app.controller import default_out_dir
    from latte.core.sequence import open_sequence

    out = Path(out_arg) if out_arg else default_out_dir(open_sequence(path).root)

    def tell(title: str, text: str) -> None:
        if dialogs.message_hook is not None:  # tests and scripted runs
            dialogs.message_hook("error", title, text)
        else:
            QtWidgets.QMessageBox.warning(window, title, text)

    def ask(title: str, text: str) -> bool:
        if dialogs.message_hook is not None:
            dialogs.show_message(window, "error", title, text + " (not taken over)")
            return False
        yes, no = QtWidgets.QMessageBox.Yes, QtWidgets.QMessageBox.No
        return QtWidgets.QMessageBox.question(window, title, text, yes | no, no) == yes

    return check_session_lock(out, ask, tell)
