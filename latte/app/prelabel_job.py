"""Model pre-labels without TensorFlow in the GUI process.

Next to Qt drawing through Mesa's software renderer (libLLVM), importing TensorFlow in the GUI
process crashes it in LLVM's static initialisers (exit 139 under a real X server). So the models
run in a worker process, a fresh interpreter running ``python -m latte.core.model_worker FD``
(:func:`latte.core.model_worker.serve`; like multiprocessing's "spawn", nothing of the GUI process is
inherited, and unlike it the app's ``__main__`` script is not run again in the worker). The worker
imports TensorFlow, keeps its models loaded between requests, and answers with plain data through
a socket pair (``multiprocessing.connection.Connection`` on both ends). The socket is watched by a
``QSocketNotifier``, so the event loop never blocks on the model.

:class:`PrelabelJob` owns that worker: ``start(request)``, then ``progress`` signals, then one of
``finished(result)`` or ``failed(text)``; ``cancel()`` kills the worker (the next request starts a
new one); a worker that dies (crash, out of memory) is a ``failed`` signal, never a crash of the app.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from PyQt5 import QtCore

log = logging.getLogger("latte.app")


class PrelabelJob(QtCore.QObject):
    """One model worker process and the request it is working on."""

    progress = QtCore.pyqtSignal(int, str)       # percent, what the worker is doing
    finished = QtCore.pyqtSignal(object)         # the result dict of model_worker.prelabel_frame
    failed = QtCore.pyqtSignal(str)              # an error message for the user

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._proc = None
        self._conn = None
        self._notifier: QtCore.QSocketNotifier | None = None
        self._sender: threading.Thread | None = None
        self.busy = False

    @property
    def pid(self) -> int | None:
        """Process id of the running worker (None when none runs)."""
        return self._proc.pid if self._alive() else None

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, request: dict) -> None:
        """Send ``request`` (see :mod:`latte.core.model_worker`) to the worker, starting it if needed."""
        if self.busy:
            raise RuntimeError("a pre-label request is already running")
        fresh = not self._alive()
        if fresh:
            self._start_worker()
        self.busy = True
        self.progress.emit(0, "starting the model worker" if fresh else "sending the frame to the worker")
        conn = self._conn

        def send() -> None:   # the worker may still be starting: never block the event loop on it
            try:
                conn.send(request)
            except (OSError, ValueError, TypeError) as exc:   # cancelled (pipe closed) while sending
                log.info("request not sent to the model worker: %s", exc)

        self._sender = threading.Thread(target=send, name="latte-prelabel-send", daemon=True)
        self._sender.start()

    def _start_worker(self) -> None:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "latte.core.model_worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()       # only the worker holds its end: its exit is an end of file here
        conn = Connection(ours.detach())
        self._proc, self._conn = proc, conn
        self._notifier = QtCore.QSocketNotifier(conn.fileno(), QtCore.QSocketNotifier.Read, self)
        self._notifier.activated.connect(self._readable)
        log.info("model worker started (pid %s)", proc.pid)

    def _readable(self, _fd: int = 0) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            while conn.poll():
                kind, *rest = conn.recv()
                if kind == "progress":
                    self.progress.emit(int(round(100 * rest[0])), rest[1])
                elif kind == "result":
                    self.busy = False
                    self.finished.emit(rest[0])
                elif kind == "error":
                    self.busy = False
                    self.failed.emit(rest[0])
                if self._conn is not conn:   # a slot cancelled or shut the worker down
                    return
        except (EOFError, OSError):
            code = self._stop(kill=False)
            if self.busy:
                self.busy = False
                how = (f"was killed by signal {_signal_name(-code)}" if code is not None and code < 0
                       else f"exited with status {code}")
                self.failed.emit(f"The model worker stopped unexpectedly (it {how}); nothing was "
                                 "pre-labelled. Try again (a new worker is started).")

    def cancel(self) -> bool:
        """Kill the worker if it is working on a request; True when something was cancelled."""
        if not self.busy:
            return False
        self.busy = False
        self._stop(kill=True)
        return True

    def shutdown(self) -> None:
        """End the worker: killed when it is working on a request, else asked to stop (and killed
        if it does not within 2 s)."""
        if self.busy:
            self.cancel()
            return
        if self._conn is not None and self._alive():
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
        self._stop(kill=False, wait_s=2.0)

    def _stop(self, kill: bool, wait_s: float = 1.0) -> int | None:
        """Forget the worker; returns its exit status."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        proc, conn = self._proc, self._conn
        self._proc, self._conn, self._sender = None, None, None
        code = None
        if proc is not None:
            if kill:
                proc.kill()
            try:
                code = proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        if conn is not None:
            conn.close()
        return code


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
