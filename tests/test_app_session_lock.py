"""The app and the session lock: a folder open in another LATTE is refused with a dialog (a message
line in scripted runs, exit 2), never a traceback; a lock from another computer is taken over only
when the user agrees; a lock whose process is gone is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from latte.app import dialogs
from latte.app.main import check_session_lock, run_app
from latte.core.session import LOCK_FILE, read_lock
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D
from squeezeseg.io import write_points


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scans")
    car = Box3D((10.0, 0.0, -1.0), (4.2, 1.8, 1.5), 0.0, "Car")
    for k in range(2):
        write_points(root / f"{k:06d}.bin", scan_scene([car], beams=16, azimuth_steps=512, seed=k))
    return root


def _lock(out: Path, pid: int, host: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"pid": pid, "host": host or socket.gethostname(), "started": "2024-01-01 10:00:00", "token": "t"}
    (out / LOCK_FILE).write_text(json.dumps(doc))


def test_check_session_lock_decides(tmp_path):
    told, asked = [], []
    tell = lambda title, text: told.append(text)  # noqa: E731

    live = tmp_path / "live"
    _lock(live, os.getppid())
    assert not check_session_lock(live, lambda *a: True, tell)
    assert f"pid {os.getppid()}" in told[-1] and read_lock(live).token == "t"

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    stale = tmp_path / "stale"
    _lock(stale, proc.pid)
    assert check_session_lock(stale, lambda *a: False, tell)  # the session takes it over itself

    other = tmp_path / "other"
    _lock(other, 4242, host="elsewhere")
    assert not check_session_lock(other, lambda *a: asked.append(a) or False, tell)
    assert (other / LOCK_FILE).exists() and "elsewhere" in asked[-1][1]
    assert check_session_lock(other, lambda *a: True, tell) and not (other / LOCK_FILE).exists()
    assert check_session_lock(tmp_path / "none", lambda *a: False, tell)


def test_scripted_app_refuses_a_folder_open_elsewhere(scans, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dialogs, "message_hook", None)
    out = tmp_path / "s"
    _lock(out, os.getppid())
    rc = run_app([str(scans), "--out", str(out), "--quit-after", "0.1"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("latte:")]
    assert len(lines) == 1 and "open in another LATTE" in lines[0] and str(os.getppid()) in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written


def test_controller_open_of_a_locked_folder_is_a_dialog(qtbot, scans, tmp_path, monkeypatch):
    from latte.app.controller import AppController
    from latte.app.window import MainWindow

    got = []
    monkeypatch.setattr(dialogs, "message_hook", lambda level, title, text: got.append((level, title, text)))
    out = tmp_path / "s"
    _lock(out, os.getppid())
    win = MainWindow(AppController())
    qtbot.addWidget(win)
    assert not win.ctrl.open(scans, out)  # e.g. File > Open: refused, the app keeps running
    assert got and got[-1][0] == "error" and "open in another process" in got[-1][2]
    assert win.ctrl.session is None
