"""Model pre-labels without TensorFlow in the GUI process.

Next to Qt drawing through Mesa's software renderer (libLLVM), importing TensorFlow in the GUI
process crashes it in LLVM's static initialisers (exit 139 under a real X server). So the models
run in a worker process started with the multiprocessing "spawn" context (a fresh interpreter that
inherits nothing of the GUI process) running :func:`latte.core.model_worker.serve`; it imports
TensorFlow there, keeps its models loaded between requests, and answers with plain data through a
pipe. The pipe is watched by a ``QSocketNotifier``, so the event loop never blocks on the model.

:class:`PrelabelJob` owns that worker: ``start(request)``, then ``progress`` signals, then one of
``finished(result)`` or ``failed(text)``; ``cancel()`` kills the worker (the next request starts a
new one); a worker that dies (crash, out of memory) is a ``failed`` signal, never a crash of the app.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading

from PyQt5 import QtCore

from latte.core import model_worker

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
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def start(self, request: dict) -> None:
        """Send ``request`` (see :mod:`latte.core.model_worker`) to the worker, starting it if needed."""
        if self.busy:
            raise RuntimeError("a pre-label request is already running")
        fresh = self._proc is None or not self._proc.is_alive()
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
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=model_worker.serve, args=(child,), name="latte-model-worker", daemon=True)
        proc.start()
        child.close()            # only the worker holds its end: its exit is an end of file here
        self._proc, self._conn = proc, parent
        self._notifier = QtCore.QSocketNotifier(parent.fileno(), QtCore.QSocketNotifier.Read, self)
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
                self.failed.emit(f"The model worker stopped unexpectedly (exit status {code}); "
                                 "nothing was pre-labelled. Try again (a new worker is started).")

    def cancel(self) -> bool:
        """Kill the worker if it is working on a request; True when something was cancelled."""
        if not self.busy:
            return False
        self.busy = False
        self._stop(kill=True)
        return True

    def shutdown(self) -> None:
        """End the worker (asked politely first, killed if it does not stop)."""
        self.busy = False
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
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
            proc.join(wait_s)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
            code = proc.exitcode
        if conn is not None:
            conn.close()
        return code
