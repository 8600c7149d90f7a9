"""The annotation session: editing, undo/redo, listeners, autosave and recovery, the operation log,
import/export round trips of every format, and bad input (corrupt files, failing disk)."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from latte.core.sequence import open_sequence
from latte.core.session import (
    LOCK_FILE,
    AnnotationSession,
    AutosaveError,
    SessionLockedError,
    classify_update,
    read_lock,
)
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.errors import InputError
from squeezeseg.io import write_points

H = 1.73
CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
)
OBJECTS = [
    Box3D((12.0, 2.0, -H + 0.75), (4.2, 1.8, 1.5), 0.7, "Car"),
    Box3D((8.0, -3.0, -H + 0.88), (0.7, 0.6, 1.75), 0.3, "Pedestrian"),
]


@pytest.fixture(scope="module")
def seq_dir(tmp_path_factory):
    """A 3-frame KITTI object layout: the car moves 1 m per frame."""
    root = tmp_path_factory.mktemp("kitti") / "training"
    for k in range(3):
        boxes = [OBJECTS[0].replace(center=(12.0 + k, 2.0, OBJECTS[0].center[2])), OBJECTS[1]]
        write_points(
            root / "velodyne" / f"{k:06d}.bin", scan_scene(boxes, beams=32, azimuth_steps=1024, seed=k)
        )
        (root / "calib").mkdir(exist_ok=True)
        (root / "calib" / f"{k:06d}.txt").write_text(format_kitti_calib(CALIB))
        (root / "image_2").mkdir(exist_ok=True)
        Image.new("RGB", (1242, 375)).save(root / "image_2" / f"{k:06d}.png")
    return root


@pytest.fixture()
def session(seq_dir, tmp_path):
    t = [0.0]

    def clock():
        t[0] += 2.0
        return t[0]

    return AnnotationSession(open_sequence(seq_dir), tmp_path / "out", clock=clock)


def _same(a: Box3D, b: Box3D, tol=1e-3) -> bool:
    return (
        a.label == b.label
        and np.allclose(a.center, b.center, atol=tol)
        and np.allclose(a.size, b.size, atol=tol)
        and abs(np.angle(np.exp(1j * (a.yaw - b.yaw)))) < tol
    )


def test_add_update_remove_undo_redo_and_events(session):
    events = []
    unsubscribe = session.subscribe(events.append)
    k = session.add_box(0, OBJECTS[0])
    assert session.boxes(0)[k].track_id is not None  # a new track id is assigned
    moved = session.box(0, k).replace(center=(13.0, 2.0, -0.98))
    session.update_box(0, k, moved)
    assert session.box(0, k).center[0] == 13.0
    session.remove_box(0, k)
    assert session.boxes(0) == {}
    assert session.undo() and session.box(0, k).center[0] == 13.0
    assert session.undo() and session.box(0, k).center[0] == 12.0
    assert session.redo() and session.box(0, k).center[0] == 13.0
    assert session.can_undo and session.can_redo
    session.add_box(1, OBJECTS[1])  # a new edit clears the redo side
    assert not session.can_redo
    kinds = [e.kind for e in events if e.kind not in ("saved",)]
    assert kinds == ["change", "change", "change", "undo", "undo", "redo", "change"]
    unsubscribe()
    session.add_box(2, OBJECTS[1])
    assert len([e for e in events if e.kind == "change"]) == 4
    with pytest.raises(KeyError):
        session.update_box(0, 999, OBJECTS[0])
    with pytest.raises(IndexError):
        session.add_box(7, OBJECTS[0])


def test_classify_update():
    b = OBJECTS[0]
    assert classify_update(b, b.replace(label="Van")) == "relabel"
    assert classify_update(b, b.replace(yaw=1.0)) == "rotate"
    assert classify_update(b, b.replace(size=(5, 2, 1.5))) == "resize"
    assert classify_update(b, b.replace(center=(1, 2, 3))) == "move"


def test_instance_log_counts_operations_and_time(session):
    k = session.add_box(0, OBJECTS[0])
    tid = session.box(0, k).track_id
    session.update_box(0, k, session.box(0, k).replace(yaw=1.0))
    session.update_box(0, k, session.box(0, k).replace(center=(12.5, 2.0, -0.98)))
    session.record_operation(0, k, "accept")
    p = session.add_box(0, OBJECTS[1])
    log = {e.track_id: e for e in session.instance_log()}
    assert dict(log[tid].operations) == {"create": 1, "rotate": 1, "move": 1, "accept": 1}
    assert log[tid].n_operations == 4
    assert log[tid].seconds == pytest.approx(6.0)  # 3 gaps of 2 s (the clock ticks 2 s per call)
    assert log[session.box(0, p).track_id].seconds == pytest.approx(2.0)


def test_autosave_after_every_change_and_resume(session, seq_dir):
    k = session.add_box(0, OBJECTS[0])
    doc = json.loads(session.session_path.read_text())
    assert doc["format"] == "latte-json" and len(doc["frames"][0]["boxes"]) == 1
    assert session.recovery_path.exists()
    session.update_box(0, k, session.box(0, k).replace(label="Van"))
    assert json.loads(session.session_path.read_text())["frames"][0]["boxes"][0]["label"] == "Van"
    # A new session on the same folder resumes the saved boxes.
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert again.recovery_available
    assert [b.label for b in again.boxes(0).values()] == ["Van"]
    assert again.recover() and again.can_undo  # the recovery file brings the undo history back
    assert again.undo() and again.box(0, k).label == "Car"
    again.close()
    assert not again.recovery_path.exists()


def test_failing_disk_reports_and_damages_nothing(session, monkeypatch):
    session.add_box(0, OBJECTS[0])
    before = session.session_path.read_bytes()
    events = []
    session.subscribe(events.append)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(AutosaveError, match="No space left"):
        session.add_box(1, OBJECTS[1])
    assert session.session_path.read_bytes() == before  # the last good save is intact
    assert not [p for p in session.out_dir.iterdir() if p.name.endswith(".tmp")]  # no temp files left
    assert events[-1].kind == "save_error" and session.last_save_error is not None
    assert len(session.boxes(1)) == 1  # the change is kept in memory
    monkeypatch.undo()
    session.save()
    assert session.last_save_error is None
    assert len(json.loads(session.session_path.read_text())["frames"]) == 2


@pytest.mark.parametrize(
    "fmt,target",
    [("kitti", "label_2"), ("tracking", "0000.txt"), ("json", "labels.json"), ("semantickitti", "labels")],
)
def test_export_import_round_trip(session, seq_dir, tmp_path, fmt, target):
    for f in range(3):
        session.add_boxes(
            f,
            [
                OBJECTS[0].replace(center=(12.0 + f, 2.0, OBJECTS[0].center[2]), track_id=5),
                OBJECTS[1].replace(track_id=6),
            ],
        )
    session.export(fmt, tmp_path / target)
    other = AnnotationSession(open_sequence(seq_dir), tmp_path / "other")
    report = other.import_labels(tmp_path / target, fmt)
    assert report.n_boxes == 6 and report.errors == ()
    for f in range(3):
        got = sorted(other.boxes(f).values(), key=lambda b: b.label)
        want = sorted(session.boxes(f).values(), key=lambda b: b.label)
        if fmt == "semantickitti":  # boxes are re-fitted to the labelled points: compare point labels
            assert [g.label for g in got] == [w.label for w in want]
            assert {b.track_id for b in got} == {5, 6}
        else:
            assert all(_same(g, w) for g, w in zip(got, want)), (got, want)
            if fmt != "kitti":
                assert [b.track_id for b in got] == [w.track_id for w in want]
    if fmt == "semantickitti":
        from squeezeseg.io import read_semantickitti_labels

        other.export(fmt, tmp_path / "again")
        for f in range(3):
            a = read_semantickitti_labels(tmp_path / target / f"{f:06d}.label")
            b = read_semantickitti_labels(tmp_path / "again" / f"{f:06d}.label")
            assert (a[0] == b[0]).mean() > 0.995 and (a[1] == b[1]).mean() > 0.995
    assert other.undo() and other.session_summary()["boxes"] == 0  # an import is one undoable step


def test_semantickitti_export_labels_every_point(session, tmp_path):
    from squeezeseg.io import read_semantickitti_labels

    session.add_box(0, OBJECTS[0].replace(track_id=9))
    session.export("semantickitti", tmp_path / "sk")
    pts = session.sequence.points(0)
    cls, inst = read_semantickitti_labels(tmp_path / "sk" / "000000.label", len(pts))
    inside = OBJECTS[0].contains(pts)
    assert (cls[inside] == 10).all() and (inst[inside] == 9).all()
    assert set(np.unique(cls[~inside])) <= {49, 0} and (cls == 49).mean() > 0.3  # ground and background


def test_corrupt_kitti_file_reports_line_and_imports_the_rest(session, tmp_path):
    session.add_boxes(0, [OBJECTS[0], OBJECTS[1]])
    session.export("kitti", tmp_path / "lab")
    path = tmp_path / "lab" / "000000.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "Car 0.00 0 oops 1 2 3", lines[1]]) + "\n")
    report = session.import_labels(path, "kitti", frame=0)
    assert report.n_boxes == 2
    assert (
        len(report.errors) == 1 and "line 2" in str(report.errors[0]) and str(path) in str(report.errors[0])
    )


def test_bad_json_and_unknown_format(session, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "latte-json", "version": 1, "frames": [')
    with pytest.raises(InputError, match="line 1"):
        session.import_labels(bad, "json")
    wrong = tmp_path / "w.json"
    wrong.write_text(
        json.dumps(
            {
                "format": "latte-json",
                "version": 1,
                "frames": [
                    {
                        "index": 0,
                        "boxes": [
                            {"label": "Car", "center": [1, 2, 3], "size": [4, 2, 1.5], "yaw": 0},
                            {"label": "Car", "center": [1, 2], "size": [4, 2, 1.5]},
                        ],
                    }
                ],
            }
        )
    )
    report = session.import_labels(wrong, "json")
    assert report.n_boxes == 1 and "boxes[1]" in str(report.errors[0])
    with pytest.raises(InputError, match="unknown label format"):
        session.export("yolo", tmp_path / "x")


# ---- the folder lock ---------------------------------------------------------------------------
def _write_lock(out, pid: int, host: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"pid": pid, "host": host or socket.gethostname(), "started": "2024-01-01 00:00:00", "token": "x"}
    (out / LOCK_FILE).write_text(json.dumps(doc))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_lock_refuses_a_second_opener(seq_dir, tmp_path):
    out = tmp_path / "out"
    _write_lock(out, os.getppid())  # a process that is certainly running
    with pytest.raises(SessionLockedError, match=f"pid {os.getppid()} on {socket.gethostname()}"):
        AnnotationSession(open_sequence(seq_dir), out)
    assert read_lock(out).token == "x"  # the owner's lock is left alone
    assert not (out / "session.json").exists()


def test_a_stale_lock_is_taken_over(seq_dir, tmp_path):
    out = tmp_path / "out"
    pid = _dead_pid()
    _write_lock(out, pid)
    s = AnnotationSession(open_sequence(seq_dir), out)
    assert s.lock_taken_over is not None and s.lock_taken_over.pid == pid
    assert read_lock(out).pid == os.getpid() and s.locked
    s.add_box(0, OBJECTS[0])
    s.close()
    assert not (out / LOCK_FILE).exists() and not s.locked


def test_a_lock_from_another_host_needs_force(seq_dir, tmp_path):
    out = tmp_path / "out"
    _write_lock(out, 12345, host="some-other-host")
    with pytest.raises(SessionLockedError, match="delete this lock file"):
        AnnotationSession(open_sequence(seq_dir), out)
    s = AnnotationSession(open_sequence(seq_dir), out, force_lock=True)
    assert s.lock_taken_over.host == "some-other-host" and read_lock(out).pid == os.getpid()


def test_a_session_whose_folder_was_taken_over_stops_saving(session, seq_dir):
    session.add_box(0, OBJECTS[0])
    before = session.session_path.read_bytes()
    _write_lock(session.out_dir, os.getppid())  # e.g. forced open elsewhere
    with pytest.raises(AutosaveError, match="taken over"):
        session.add_box(1, OBJECTS[1])
    assert session.session_path.read_bytes() == before
    assert len(session.boxes(1)) == 1  # kept in memory


def test_reopening_in_the_same_process_hands_the_folder_over(session, seq_dir):
    """The app opens the new session before closing the old one on the same folder."""
    k = session.add_box(0, OBJECTS[0])
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    session.close()  # only lets go: the files are the new session's
    assert again.locked and again.recover() and again.box(0, k).label == "Car"
    again.close()
    assert not (session.out_dir / LOCK_FILE).exists()


def test_a_read_only_folder_opens_without_a_lock_and_saves_nothing(session, seq_dir, monkeypatch):
    session.add_box(0, OBJECTS[0])
    session.close()
    before = session.session_path.read_bytes()
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_CREAT | os.O_WRONLY):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert not again.locked and again.session_summary()["boxes"] == 1
    with pytest.raises(AutosaveError):
        again.add_box(1, OBJECTS[1])
    assert session.session_path.read_bytes() == before


# ---- recovery from what a kill during autosave leaves --------------------------------------------
def test_an_older_recovery_file_never_replaces_a_newer_session(session, seq_dir):
    session.add_box(0, OBJECTS[0])
    older = session.recovery_path.read_bytes()
    session.add_box(1, OBJECTS[1])
    session.release_lock()
    session.recovery_path.write_bytes(older)  # recovery one change behind session.json
    (session.out_dir / ".session.json.abc123.tmp").write_text('{"half')  # an interrupted write
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert not again.recovery_available and not again.recover()
    assert again.session_summary()["boxes"] == 2
    assert json.loads(again.session_path.read_text())["revision"] == 2
    assert not list(again.out_dir.glob(".session*.tmp"))


def test_a_newer_recovery_file_is_recovered_with_history(session, seq_dir):
    session.add_box(0, OBJECTS[0])
    older = session.session_path.read_bytes()
    session.add_box(1, OBJECTS[1])
    session.release_lock()
    session.session_path.write_bytes(older)  # killed after the recovery write, before session.json
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert again.recovery_available and again.recover()
    assert again.session_summary()["boxes"] == 2 and again.can_undo
    assert json.loads(again.session_path.read_text())["revision"] == 3


def test_a_damaged_session_file_falls_back_to_the_recovery_file(session, seq_dir):
    session.add_box(0, OBJECTS[0])
    session.release_lock()
    session.session_path.write_text('{"format": "latte-json", "frames": [')  # e.g. an old non-atomic write
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert again.recovery_available and again.recover() and again.session_summary()["boxes"] == 1


KILL_SCRIPT = """
import sys
from latte.core.sequence import open_sequence
from latte.core.session import AnnotationSession
from squeezeseg.boxes import Box3D
s = AnnotationSession(open_sequence(sys.argv[1]), sys.argv[2])
s.recover()
n = s.session_summary()["boxes"]
print("open", n, s.lock_taken_over is not None, flush=True)
while True:
    s.add_box(n % 3, Box3D((5.0 + 0.01 * n, 0.0, -1.0), (4.0, 1.8, 1.5), 0.0, "Car"))
    n += 1
    print(n, flush=True)
"""


def test_kill_9_during_autosave_loses_no_saved_change(seq_dir, tmp_path):
    """Kill a process that autosaves in a loop at random moments, several times; every change it
    reported saved must come back, and never an older state over a newer one."""
    out = tmp_path / "killed"
    rng = random.Random(0)
    last = 0
    for round_ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(seq_dir), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        head = proc.stdout.readline().split()
        assert head and head[0] == "open", proc.stderr.read()
        assert last <= int(head[1]) <= last + 1  # recovered the newest state
        assert (head[2] == "True") == (round_ > 0)  # the killed owner's lock is taken over
        deadline = time.monotonic() + rng.uniform(0.2, 1.0)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            last = max(last, int(line))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        last = max([last, *(int(v) for v in rest.split())])
    again = AnnotationSession(open_sequence(seq_dir), out)
    assert again.lock_taken_over is not None
    again.recover()
    n = again.session_summary()["boxes"]
    assert last <= n <= last + 1, (last, n)
    assert not list(out.glob(".session*.tmp"))
    again.close()
    doc = json.loads((out / "session.json").read_text())
    assert sum(len(f["boxes"]) for f in doc["frames"]) == n


def _fsynced_files(monkeypatch) -> list[str]:
    """Names of the files os.fsync is called on from now on (Linux: through /proc/self/fd)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name the file behind a descriptor")
    names: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        names.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return names


def test_autosave_forces_only_the_recovery_file_to_disk_and_closing_both(session, monkeypatch):
    # After every change the recovery file (the same state plus the history) is fsynced and
    # session.json only renamed into place; an explicit save and closing fsync both.
    names = _fsynced_files(monkeypatch)
    session.add_box(0, OBJECTS[0])
    assert [n.split(".")[2] for n in names] == ["recovery"]  # .session.recovery.json.XXXX.tmp
    names.clear()
    session.save()
    assert sorted(n.split(".")[2] for n in names) == ["json", "recovery"]
    names.clear()
    session.add_box(1, OBJECTS[1])
    session.close()
    assert [n.split(".")[2] for n in names] == ["recovery", "recovery", "json"]
    assert json.loads(session.session_path.read_text())["frames"][1]["boxes"]


def test_the_recovery_file_is_compact_and_session_json_readable(session):
    session.add_box(0, OBJECTS[0])
    for dx in (0.1, 0.2, 0.3):
        b = OBJECTS[0]
        session.update_box(0, 1, b.replace(center=(b.center[0] + dx, b.center[1], b.center[2])))
    assert "\n" not in session.recovery_path.read_text()  # json's C encoder: no indent
    assert session.session_path.read_text().count("\n") > 10


def test_a_session_file_emptied_by_a_power_loss_reopens_from_the_recovery_file(session, seq_dir):
    # Without its fsync, session.json may be empty after a power loss; the recovery file, forced
    # to disk before it, brings the newest state back with its history.
    session.add_box(0, OBJECTS[0])
    session.add_box(2, OBJECTS[1])
    session.release_lock()
    session.session_path.write_bytes(b"")
    again = AnnotationSession(open_sequence(seq_dir), session.out_dir)
    assert again.recovery_available and again.recover()
    assert again.session_summary()["boxes"] == 2 and again.can_undo
    again.close()
