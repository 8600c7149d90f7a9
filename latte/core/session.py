"""The annotation session: the boxes of every frame, undo/redo, autosave, import/export and the
per-instance operation and time log (the LATTE paper's measure of annotation effort).

Files in ``out_dir``:
- ``session.json``: the annotations in LATTE JSON plus the operation log, rewritten atomically
  after every change (the autosave; forced to disk on an explicit save and on closing);
- ``session.recovery.json``: the same plus the undo/redo history (compact JSON), also written
  after every change (before ``session.json``, and forced to disk every time) and deleted by
  :meth:`AnnotationSession.close`. Finding it when a session
  opens means the last one did not close cleanly; :meth:`AnnotationSession.recover` restores it,
  history included, but only when it is at least as new as ``session.json`` (both files carry a
  ``revision`` counter, so a kill between the two writes never brings an older state back);
- ``session.lock``: the owner's pid, host and start time while a session is open. A second opener
  gets :class:`SessionLockedError`; a lock whose process is gone (same host) is taken over.
A failed write (full or read-only disk) leaves the previous files intact, notifies the listeners
with a ``save_error`` event and raises :class:`AutosaveError`; the change stays in memory.
Leftover ``.session*.tmp`` files of an interrupted write are removed when a session opens.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latte.core.commands import BoxChange, Command, CommandStack
from latte.core.config import LatteConfig, load_latte_config
from latte.core.formats import read_json_labels, write_json_labels
from latte.core.label_io import LABEL_FORMATS
from latte.core.sequence import Sequence
from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

SESSION_FILE = "session.json"
RECOVERY_FILE = "session.recovery.json"
LOCK_FILE = "session.lock"
log = logging.getLogger("latte.session")


class AutosaveError(InputError):
    """The session could not be saved; the files already on disk are unchanged."""


class SessionLockedError(InputError):
    """The session folder is open in another process (``owner`` says which)."""

    def __init__(self, message: str, path: str | Path, owner: LockOwner | None):
        super().__init__(message, path)
        self.owner = owner


def _process_start(pid: int) -> str | None:
    """Start time of process ``pid`` (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class LockOwner:
    """Who holds a session folder: process id, host name, start time and a unique token."""

    pid: int
    host: str
    started: str
    token: str
    pid_start: str | None = None

    @classmethod
    def me(cls) -> LockOwner:
        return cls(
            os.getpid(),
            socket.gethostname(),
            time.strftime("%Y-%m-%d %H:%M:%S"),
            uuid.uuid4().hex,
            _process_start(os.getpid()),
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started}"

    def state(self) -> str:
        """"live", "stale" (same host, process gone) or "unknown" (another host: cannot tell)."""
        if self.host != socket.gethostname():
            return "unknown"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "stale"
        except PermissionError:
            pass
        if self.pid_start is not None and _process_start(self.pid) not in (None, self.pid_start):
            return "stale"  # the pid was reused by another process
        return "live"


def read_lock(out_dir: str | Path) -> LockOwner | None:
    """The owner recorded in ``out_dir/session.lock``; None when there is none or it is unreadable."""
    return _read_lock_file(Path(out_dir) / LOCK_FILE)


def _read_lock_file(path: Path) -> LockOwner | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return LockOwner(
            int(doc["pid"]), str(doc["host"]), str(doc["started"]), str(doc["token"]), doc.get("pid_start")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LockUnavailableError(InputError):
    """The folder is read-only: no lock can be made (and no session can save there either)."""


class SessionLock:
    """``out_dir/session.lock``, created exclusively (O_EXCL) and holding the owner as JSON.

    :meth:`acquire` takes over a stale lock (its process is gone), a lock of this very process (the
    app reopening a folder), and, with ``force``, any lock; otherwise it raises SessionLockedError.
    """

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK_FILE
        self.owner = LockOwner.me()

    def acquire(self, force: bool = False) -> LockOwner | None:
        """Take the lock; returns the previous owner when one was taken over, else None."""
        taken_over = None
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                previous = read_lock(self.path.parent)
                self._check_takeover(previous, force)
                if self._remove(previous):
                    taken_over = previous
                continue
            except OSError as exc:
                read_only = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                cls = LockUnavailableError if read_only else InputError
                raise cls(f"cannot create the session lock: {exc.strerror}", self.path) from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(self.owner), fh)
                fh.flush()
                os.fsync(fh.fileno())
            return taken_over
        raise SessionLockedError("another process keeps taking the session lock", self.path, None)

    def _check_takeover(self, previous: LockOwner | None, force: bool) -> None:
        if previous is None:
            age = time.time() - self.path.stat().st_mtime if self.path.exists() else 1e9
            if age < 5 and not force:  # being written by an opener right now
                raise SessionLockedError("the session is being opened by another process", self.path, None)
            return
        same_process = previous.pid == os.getpid() and previous.host == self.owner.host
        state = previous.state()
        if force or same_process or state == "stale":
            return
        how = (
            "if it is not running any more, delete this lock file"
            if state == "unknown"
            else "close it there first"
        )
        raise SessionLockedError(
            f"the session is open in another process ({previous.describe()}): {how}", self.path, previous
        )

    def _remove(self, previous: LockOwner | None) -> bool:
        """Move the old lock aside and delete it, unless someone replaced it meanwhile."""
        aside = self.path.with_name(f"{LOCK_FILE}.{self.owner.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        moved = _read_lock_file(aside)
        if previous is not None and (moved is None or moved.token != previous.token):
            with contextlib.suppress(FileExistsError):  # a new owner won the race: put its lock back
                os.link(aside, self.path)
            aside.unlink(missing_ok=True)
            raise SessionLockedError("another process took the session lock just now", self.path, moved)
        aside.unlink(missing_ok=True)
        return previous is not None

    def held(self) -> bool:
        """Whether the lock file still names this owner (another process may have taken it over)."""
        current = read_lock(self.path.parent)
        return current is not None and current.token == self.owner.token

    def release(self) -> None:
        """Delete the lock file if it is still ours."""
        if self.held():
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SessionEvent:
    """What changed: ``kind`` is "change", "undo", "redo", "load", "saved" or "save_error"."""

    kind: str
    frames: tuple[int, ...] = ()
    box_ids: tuple[int, ...] = ()
    op: str = ""
    error: Exception | None = None


@dataclass
class InstanceLog:
    """Effort spent on one object instance (a track): operations by name and active seconds."""

    track_id: int
    label: str = ""
    operations: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def n_operations(self) -> int:
        return int(sum(self.operations.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "label": self.label,
            "operations": dict(self.operations),
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class ImportReport:
    """Result of an import: boxes imported and the problems skipped (each naming file and line)."""

    n_boxes: int
    errors: tuple[InputError, ...] = ()


def classify_update(before: Box3D, after: Box3D) -> str:
    """Operation name of an edit: relabel, rotate, resize or move (the first that applies)."""
    if before.label != after.label:
        return "relabel"
    if not np.isclose(before.yaw, after.yaw):
        return "rotate"
    if not np.allclose(before.size, after.size):
        return "resize"
    if not np.allclose(before.center, after.center):
        return "move"
    return "edit"


class AnnotationSession:
    """Boxes per frame of ``sequence`` with undo/redo and autosave into ``out_dir``.

    Box ids are unique in the session. A box added without a track id gets a new one. ``clock``
    (seconds) is injectable for tests. An existing ``session.json`` in ``out_dir`` is resumed.

    The folder is locked while the session is open (``lock=False`` skips that, for throwaway
    sessions): a lock held by another live process raises :class:`SessionLockedError` unless
    ``force_lock``; a stale one is taken over and recorded in :attr:`lock_taken_over`.
    """

    def __init__(
        self,
        sequence: Sequence,
        out_dir: str | Path,
        config: LatteConfig | str | None = None,
        clock: Callable[[], float] = time.monotonic,
        resume: bool = True,
        lock: bool = True,
        force_lock: bool = False,
    ):
        self.sequence = sequence
        self.out_dir = Path(out_dir)
        self.config = load_latte_config(config)
        self.clock = clock
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder: {exc.strerror}", self.out_dir) from None
        self._frames: dict[int, dict[int, Box3D]] = {}
        self._stack = CommandStack()
        self._listeners: list[Callable[[SessionEvent], None]] = []
        self._next_box_id = 1
        self._next_track_id = 0
        self._log: dict[int, InstanceLog] = {}
        self._last_op_time: float | None = None
        self._revision = 0
        self.last_save_error: Exception | None = None
        self._lock: SessionLock | None = None
        self.lock_taken_over: LockOwner | None = None
        if lock:
            self._lock = SessionLock(self.out_dir)
            try:
                self.lock_taken_over = self._lock.acquire(force_lock)
            except LockUnavailableError as exc:  # a read-only folder: nobody can save there to protect
                log.warning("%s; opened without a lock (saving will fail too)", exc)
                self._lock = None
            if self.lock_taken_over is not None:
                log.warning(
                    "%s: took over the lock of a session that did not close (%s is not running)",
                    self.out_dir,
                    self.lock_taken_over.describe(),
                )
        try:
            self._remove_temporaries()
            self._open_files(resume)
        except BaseException:
            self.release_lock()
            raise

    def _remove_temporaries(self) -> None:
        """Delete the ``.session*.tmp`` files an interrupted atomic write left behind."""
        if self._lock is None:
            return  # without the lock they may belong to a save in progress elsewhere
        for tmp in self.out_dir.glob(".session*.tmp"):
            log.info("removing %s left by an interrupted save", tmp)
            tmp.unlink(missing_ok=True)

    def _open_files(self, resume: bool) -> None:
        """Resume ``session.json`` and decide whether the recovery file is worth recovering."""
        damaged: InputError | None = None
        if resume and self.session_path.exists():
            try:
                self._load_state(self._read(self.session_path), history=False)
            except InputError as exc:
                damaged = exc
        self.recovery_available = False
        if self.recovery_path.exists():
            newer = self._recovery_is_newest() if damaged is None else True
            self.recovery_available = newer
            if not newer:
                log.info("%s is older than %s: ignored", self.recovery_path, self.session_path)
        if damaged is not None and not self.recovery_available:
            raise damaged
        if damaged is not None:
            log.warning("%s; the recovery file will be used instead", damaged)

    def _recovery_is_newest(self) -> bool:
        """Whether the recovery file holds a state at least as new as what was loaded (the revision
        counter both files carry; file times for files written before there was one)."""
        if not self.session_path.exists():
            return True
        try:
            rec = read_session_file(self.recovery_path)
            ses = read_session_file(self.session_path)
        except InputError:
            return True
        if isinstance(rec.get("revision"), int) and isinstance(ses.get("revision"), int):
            return rec["revision"] >= ses["revision"]
        return self.recovery_path.stat().st_mtime >= self.session_path.stat().st_mtime

    def release_lock(self) -> None:
        """Give up the folder lock (done by :meth:`close`)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def locked(self) -> bool:
        """Whether this session still holds its folder lock."""
        return self._lock is not None and self._lock.held()

    # ---- paths and listeners --------------------------------------------------------------------
    @property
    def session_path(self) -> Path:
        return self.out_dir / SESSION_FILE

    @property
    def recovery_path(self) -> Path:
        return self.out_dir / RECOVERY_FILE

    def subscribe(self, callback: Callable[[SessionEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _notify(self, event: SessionEvent) -> None:
        for cb in list(self._listeners):
            cb(event)

    # ---- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.sequence)

    def boxes(self, frame: int) -> dict[int, Box3D]:
        """{box_id: Box3D} of ``frame`` (a copy)."""
        return dict(self._frames.get(frame, {}))

    def box(self, frame: int, box_id: int) -> Box3D:
        try:
            return self._frames[frame][box_id]
        except KeyError:
            raise KeyError(f"no box {box_id} in frame {frame}") from None

    def all_boxes(self) -> dict[int, list[Box3D]]:
        """{frame: [boxes]} of every frame that has boxes."""
        return {f: list(b.values()) for f, b in sorted(self._frames.items()) if b}

    def find_track(self, frame: int, track_id: int) -> int | None:
        """Box id of track ``track_id`` in ``frame``, or None."""
        for k, b in self._frames.get(frame, {}).items():
            if b.track_id == track_id:
                return k
        return None

    def new_track_id(self) -> int:
        t = self._next_track_id
        self._next_track_id += 1
        return t

    @property
    def can_undo(self) -> bool:
        return self._stack.can_undo

    @property
    def can_redo(self) -> bool:
        return self._stack.can_redo

    # ---- editing ----------------------------------------------------------------------------------
    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < len(self.sequence):
            raise IndexError(f"frame {frame} out of range (sequence has {len(self.sequence)} frames)")

    def _prepare(self, box: Box3D) -> Box3D:
        if box.track_id is None:
            box = box.replace(track_id=self.new_track_id())
        else:
            self._next_track_id = max(self._next_track_id, box.track_id + 1)
        return box

    def add_box(self, frame: int, box: Box3D, op: str = "create") -> int:
        """Add ``box`` to ``frame``; returns its new box id."""
        return self.add_boxes(frame, [box], op)[0]

    def add_boxes(self, frame: int, boxes: list[Box3D], op: str = "create") -> list[int]:
        """Add several boxes as one undoable command; returns their box ids."""
        self._check_frame(frame)
        ids, changes = [], []
        for b in boxes:
            k = self._next_box_id
            self._next_box_id += 1
            ids.append(k)
            changes.append(BoxChange(frame, k, None, self._prepare(b)))
        self._execute(Command(op, tuple(changes), self.clock()))
        return ids

    def update_box(self, frame: int, box_id: int, box: Box3D, op: str | None = None) -> None:
        """Replace box ``box_id``; ``op`` names the operation (default: classified from the change)."""
        before = self.box(frame, box_id)
        after = self._prepare(box if box.track_id is not None else box.replace(track_id=before.track_id))
        self._execute(
            Command(
                op or classify_update(before, after), (BoxChange(frame, box_id, before, after),), self.clock()
            )
        )

    def track_frames(self, track_id: int) -> dict[int, int]:
        """{frame: box id} of every frame that holds track ``track_id``."""
        out = {}
        for f, boxes in sorted(self._frames.items()):
            for k, b in boxes.items():
                if b.track_id == track_id:
                    out[f] = k
                    break
        return out

    def put_track_boxes(self, track_id: int, boxes: dict[int, Box3D], op: str = "interpolate") -> int:
        """Set track ``track_id``'s box in each frame of ``boxes`` {frame: box} (replacing the track's
        box there, else adding one) as one undoable command; returns the number of boxes set."""
        have = self.track_frames(track_id)
        changes = []
        for f, box in sorted(boxes.items()):
            self._check_frame(f)
            box = box.replace(track_id=track_id, point_indices=None, score=None)
            if f in have:
                changes.append(BoxChange(f, have[f], self._frames[f][have[f]], box))
            else:
                changes.append(BoxChange(f, self._next_box_id, None, box))
                self._next_box_id += 1
        self._next_track_id = max(self._next_track_id, track_id + 1)
        self._execute(Command(op, tuple(changes), self.clock()))
        return len(changes)

    def edit_track(self, track_id: int, label: str | None = None,
                   size: tuple[float, float, float] | None = None, op: str = "edit_track") -> int:
        """Give every box of track ``track_id`` the class ``label`` and/or the ``size`` (l, w, h; the
        bottom of each box stays where it is) as one undoable command (one operation in the log);
        returns the number of boxes changed."""
        changes = []
        for f, k in self.track_frames(track_id).items():
            before = self._frames[f][k]
            after = before
            if label is not None:
                after = after.replace(label=label)
            if size is not None:
                bottom = before.center[2] - before.size[2] / 2
                c = (before.center[0], before.center[1], bottom + size[2] / 2)
                after = after.replace(size=tuple(size), center=c)
            if after != before:
                changes.append(BoxChange(f, k, before, after))
        self._execute(Command(op, tuple(changes), self.clock()))
        return len(changes)

    def remove_box(self, frame: int, box_id: int) -> None:
        before = self.box(frame, box_id)
        self._execute(Command("delete", (BoxChange(frame, box_id, before, None),), self.clock()))

    def reset(self) -> None:
        """Forget every box, the undo history and the operation log (a fresh start in the same
        folder, e.g. pre-labels replacing older pre-labels), then save."""
        self._frames = {}
        self._stack = CommandStack()
        self._log = {}
        self._last_op_time = None
        self._next_box_id, self._next_track_id = 1, 0
        self._notify(SessionEvent("load"))
        self._autosave()

    def hand_work(self, automatic: tuple[str, ...] = ("prelabel",)) -> tuple[int, int]:
        """(boxes, operations) a person made: boxes whose track has an operation other than the
        ``automatic`` ones or none logged, and the count of those operations."""
        ops = sum(n for e in self._log.values() for op, n in e.operations.items() if op not in automatic)
        auto = {t for t, e in self._log.items() if set(e.operations) <= set(automatic)}
        boxes = sum(1 for f in self._frames.values() for b in f.values() if b.track_id not in auto)
        return boxes, ops

    def record_operation(self, frame: int, box_id: int, op: str = "accept") -> None:
        """Log an operation that changes no box (e.g. accepting a proposal as it is)."""
        box = self.box(frame, box_id)
        self._log_op(op, [box], self.clock())
        self._autosave()

    def undo(self) -> bool:
        """Undo the last command; False when there is nothing to undo."""
        if not self._stack.can_undo:
            return False
        cmd = self._stack.pop_undo()
        self._apply(cmd.inverse_changes())
        self._log_op("undo", [c.before or c.after for c in cmd.changes], self.clock())
        self._after_change(SessionEvent("undo", *self._keys(cmd), op=cmd.op))
        return True

    def redo(self) -> bool:
        """Redo the last undone command; False when there is nothing to redo."""
        if not self._stack.can_redo:
            return False
        cmd = self._stack.pop_redo()
        self._apply(cmd.changes)
        self._log_op("redo", [c.after or c.before for c in cmd.changes], self.clock())
        self._after_change(SessionEvent("redo", *self._keys(cmd), op=cmd.op))
        return True

    @staticmethod
    def _keys(cmd: Command) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(sorted({c.frame for c in cmd.changes})), tuple(c.box_id for c in cmd.changes)

    def _execute(self, cmd: Command) -> None:
        if not cmd.changes:
            return
        self._apply(cmd.changes)
        self._stack.push(cmd)
        self._log_op(cmd.op, [c.after or c.before for c in cmd.changes], cmd.time)
        self._after_change(SessionEvent("change", *self._keys(cmd), op=cmd.op))

    def _apply(self, changes: tuple[BoxChange, ...]) -> None:
        for c in changes:
            slot = self._frames.setdefault(c.frame, {})
            if c.after is None:
                slot.pop(c.box_id, None)
            else:
                slot[c.box_id] = c.after
            self._next_box_id = max(self._next_box_id, c.box_id + 1)

    def _after_change(self, event: SessionEvent) -> None:
        self._notify(event)
        self._autosave()

    # ---- operation and time log -------------------------------------------------------------------
    def _log_op(self, op: str, boxes: list[Box3D], t: float) -> None:
        """Count ``op`` once per instance touched; the time since the previous operation (capped by
        the idle limit) is the work that led to it."""
        gap = 0.0 if self._last_op_time is None else max(0.0, t - self._last_op_time)
        gap = min(gap, self.config.session.idle_limit_s)
        self._last_op_time = t
        tracks = {b.track_id: b for b in boxes if b is not None and b.track_id is not None}
        for tid, b in tracks.items():
            entry = self._log.setdefault(tid, InstanceLog(tid, b.label))
            entry.label = b.label
            entry.operations[op] += 1
            entry.seconds += gap / len(tracks)

    def instance_log(self) -> list[InstanceLog]:
        """Per-instance operation counts and active time, by track id."""
        return [self._log[k] for k in sorted(self._log)]

    # ---- saving -----------------------------------------------------------------------------------
    def _frames_for_json(self) -> list[tuple[int, str, dict[int, Box3D]]]:
        return [(f, self.sequence.frame_id(f), boxes) for f, boxes in sorted(self._frames.items()) if boxes]

    def _extra(self, history: bool) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "revision": self._revision,
            "saved_at": time.time(),
            "instance_log": [e.to_dict() for e in self.instance_log()],
            "next_box_id": self._next_box_id,
            "next_track_id": self._next_track_id,
        }
        if history:
            extra["history"] = self._stack.to_dict()
        return extra

    def save(self, durable: bool = True) -> None:
        """Write the recovery file, then ``session.json``, each atomically, both with the next
        revision number (AutosaveError on failure, or when another process took the folder over).

        The recovery file is always forced to disk (fsync); ``session.json`` only when
        ``durable`` (an explicit save, closing). The autosave after every change skips that
        second fsync: the recovery file, written first, already holds the same state durably,
        and after a power loss or an OS crash that leaves ``session.json`` older or empty the
        session reopens from the recovery file (``_open_files``, ``recover``)."""
        owner = self._taken_over_by()
        if owner is not None:
            self._save_failed(
                AutosaveError(
                    f"not saved: the session folder was taken over by another process ({owner.describe()}); "
                    "the change is kept in memory only",
                    self.out_dir,
                )
            )
        self._revision += 1
        frames = self._frames_for_json()
        try:
            write_json_labels(  # compact: the undo history makes it large, and only recover() reads it
                self.recovery_path, self.sequence.name, frames, self._extra(True), indent=None
            )
            write_json_labels(
                self.session_path, self.sequence.name, frames, self._extra(False), durable=durable
            )
        except OSError as exc:
            self._save_failed(
                AutosaveError(
                    f"autosave failed ({exc.strerror or exc}); the last saved state on disk is "
                    "intact, the change is kept in memory",
                    self.out_dir,
                )
            )
        self.last_save_error = None
        self._notify(SessionEvent("saved"))

    def _taken_over_by(self) -> LockOwner | None:
        """The other owner whose lock replaced ours (None while ours, or when the lock file is
        missing: a folder gone from under the session makes the save itself fail)."""
        if self._lock is None:
            return None
        owner = read_lock(self.out_dir)
        return owner if owner is not None and owner.token != self._lock.owner.token else None

    def _save_failed(self, err: AutosaveError) -> None:
        self.last_save_error = err
        self._notify(SessionEvent("save_error", error=err))
        raise err from None

    def _autosave(self) -> None:
        self.save(durable=False)

    def close(self) -> None:
        """Final save, then remove the recovery file and the lock (a clean end of the session).

        A session whose folder another session of this process has taken over (the app reopening
        the same folder) only lets go: every change was autosaved already, and the files are the
        other session's now.
        """
        if self._taken_over_by() is not None:
            self._lock = None
            self.recovery_available = False
            return
        self.save()
        self.recovery_path.unlink(missing_ok=True)
        self.recovery_available = False
        self.release_lock()

    def _read(self, path: Path) -> tuple[dict[str, Any], list]:
        errors: list[InputError] = []
        doc, frames = read_json_labels(path, errors)
        if errors:
            raise errors[0]
        return doc, frames

    def _load_state(self, parsed: tuple[dict[str, Any], list], history: bool) -> None:
        doc, frames = parsed
        self._frames = {}
        for index, _fid, boxes in frames:
            self._frames[index] = {
                k if k is not None else self._next_box_id + j: b for j, (k, b) in enumerate(boxes)
            }
        ids = [k for b in self._frames.values() for k in b]
        tracks = [b.track_id for f in self._frames.values() for b in f.values() if b.track_id is not None]
        self._next_box_id = max([int(doc.get("next_box_id", 1)), *(i + 1 for i in ids)])
        self._next_track_id = max([int(doc.get("next_track_id", 0)), *(t + 1 for t in tracks)])
        revision = doc.get("revision", 0)
        self._revision = max(self._revision, revision if isinstance(revision, int) else 0)
        self._log = {}
        for e in doc.get("instance_log", []):
            self._log[int(e["track_id"])] = InstanceLog(
                int(e["track_id"]),
                str(e.get("label", "")),
                Counter(e.get("operations", {})),
                float(e.get("seconds", 0)),
            )
        if history and isinstance(doc.get("history"), dict):
            try:
                self._stack = CommandStack.from_dict(doc["history"])
            except (KeyError, TypeError, ValueError, InputError):
                self._stack = CommandStack()
        elif history:
            self._stack = CommandStack()
        self._notify(SessionEvent("load", tuple(sorted(self._frames))))

    def recover(self) -> bool:
        """Restore the state and undo history of an unclean exit from the recovery file.

        Returns False when there is no recovery file or it is older than ``session.json`` (a kill
        between the two writes of an autosave); the newer ``session.json`` stays as it is then.
        A damaged recovery file raises InputError.
        """
        if not self.recovery_path.exists():
            return False
        if not self._recovery_is_newest():
            log.info("%s is older than %s: not recovered", self.recovery_path, self.session_path)
            self.recovery_available = False
            return False
        self._load_state(self._read(self.recovery_path), history=True)
        self.recovery_available = False
        self._autosave()
        return True

    # ---- import / export --------------------------------------------------------------------------
    def export(self, format: str, path: str | Path) -> None:
        """Write the annotations as ``format``: "kitti" (a label_2 folder, one file per frame),
        "tracking" (one label_02 file), "semantickitti" (a folder of .label files, one per frame,
        ground and background included) or "json" (one file)."""
        from latte.core import label_io

        _check_format(format)
        label_io.export_session(self, format, Path(path))

    def import_labels(
        self, path: str | Path, format: str | None = None, frame: int | None = None, replace: bool = True
    ) -> ImportReport:
        """Import labels (format guessed from ``path`` when None) as one undoable command.

        ``frame`` picks the frame for a single per-frame file (kitti .txt, .label). With ``replace``
        the boxes already in the imported frames are removed. Malformed lines are skipped and
        returned in the report (each naming file and line); the rest is imported.
        """
        from latte.core import label_io

        path = Path(path)
        format = format or label_io.guess_format(path)
        _check_format(format)
        per_frame, errors = label_io.read_for_session(self, format, path, frame)
        changes = []
        for f, boxes in sorted(per_frame.items()):
            self._check_frame(f)
            if replace:
                changes += [BoxChange(f, k, b, None) for k, b in self._frames.get(f, {}).items()]
            for b in boxes:
                k = self._next_box_id
                self._next_box_id += 1
                changes.append(BoxChange(f, k, None, self._prepare(b.replace(point_indices=None))))
        self._execute(Command("import", tuple(changes), self.clock()))
        return ImportReport(sum(len(b) for b in per_frame.values()), tuple(errors))

    def session_summary(self) -> dict[str, Any]:
        """Counts for status bars and reports."""
        boxes = self.all_boxes()
        return {
            "frames": len(self.sequence),
            "annotated_frames": len(boxes),
            "boxes": sum(len(b) for b in boxes.values()),
            "tracks": len({b.track_id for bs in boxes.values() for b in bs}),
        }


def _check_format(format: str) -> None:
    if format not in LABEL_FORMATS:
        raise InputError(f"unknown label format '{format}' (choose from {', '.join(LABEL_FORMATS)})")


def read_session_file(path: str | Path) -> dict[str, Any]:
    """The raw JSON document of a session or recovery file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read session file: {exc}", path) from None
