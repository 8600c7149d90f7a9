"""The app's controller: holds the open sequence, the current frame and the selection, and turns user
actions into calls to ``latte.core`` (session, one-click, tracker, fusion). No widgets here.

Every public action is wrapped by :func:`guarded`: a bad file or a failed write becomes a ``message``
signal (shown as a dialog) and the app keeps running.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt5 import QtCore

from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

log = logging.getLogger("latte.app")
TRACK_HISTORY = 10  # frames of a track fed to the Kalman filter when proposing the next frame


def guarded(title: str) -> Callable:
    """Decorator: report InputError / OSError / ValueError from an action as an error message."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self: AppController, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except (InputError, OSError, ValueError, KeyError, IndexError) as exc:
                log.warning("%s: %s", title, exc)
                self.message.emit("error", title, _describe(exc))
                if self.session is not None:   # e.g. a failed autosave: the edit is kept in memory
                    self.boxes_changed.emit()
                return None

        return wrapper

    return deco


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def default_out_dir(sequence_root: Path) -> Path:
    """Where a session is saved unless told otherwise: a per-sequence folder under ~/.latte/sessions,
    never inside the dataset (datasets are often read-only and shared)."""
    root = Path(sequence_root).resolve()
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:8]
    return Path.home() / ".latte" / "sessions" / f"{root.name}-{digest}"


def _import_tracking() -> None:
    import open3d  # noqa: F401

    import latte.core.ego_motion  # noqa: F401
    import latte.core.tracking  # noqa: F401


def warm_up_tracking() -> threading.Thread:
    """Import the tracker's libraries in a background thread: filterpy (scipy.stats) and Open3D take
    about 5 s to import cold, which the first next-frame would otherwise wait for. A frame change
    before they are in simply waits at the import lock."""
    thread = threading.Thread(target=_import_tracking, name="latte-warm-up", daemon=True)
    thread.start()
    return thread


class AppController(QtCore.QObject):
    """State and actions of one annotation window."""

    frame_loaded = QtCore.pyqtSignal()
    boxes_changed = QtCore.pyqtSignal()
    message = QtCore.pyqtSignal(str, str, str)   # level, title, text
    status = QtCore.pyqtSignal(str)
    prelabel_started = QtCore.pyqtSignal(str)        # source ("detector" / "segmentation" / both)
    prelabel_progress = QtCore.pyqtSignal(int, str)  # percent, what the model worker is doing
    prelabel_finished = QtCore.pyqtSignal(bool)      # True: proposals shown; False: failed or cancelled

    def __init__(self, config=None, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        from latte.core.config import load_latte_config

        self.config = load_latte_config(config)
        self.class_names = list(self.config.class_names)
        self.class_colors_list = [tuple(c.color) for c in self.config.classes]
        self.current_class = self.class_names[0]
        self.sequence = None
        self.session = None
        self.out_dir: Path | None = None
        self.frame = 0
        self.points: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.calib = None
        self.point_labels: np.ndarray | None = None
        self.proposals: list[Box3D] = []
        self.selected: int | None = None
        self._annotator = None
        self._annotator_frame = -1
        self._unsubscribe = None
        self._prelabel_job = None
        self._prelabel_for = None
        self._prelabel_t0 = 0.0
        self.last_prelabel: dict | None = None   # the last model worker result (timings, pid)
        self._history_event = None               # what the last undo/redo changed (SessionEvent)
        self._ego = None                         # scan registration of the open sequence (EgoMotion)
        self.last_tracking: dict | None = None   # what the last next-frame tracking did (timings, why not)

    # ---- opening ----------------------------------------------------------------------------
    @guarded("Cannot open sequence")
    def open(self, path: str | Path, out_dir: str | Path | None = None, frame: int = 0) -> bool:
        """Open the sequence at ``path`` and its session in ``out_dir`` (recovering autosaved work)."""
        from latte.core.sequence import open_sequence
        from latte.core.session import AnnotationSession

        seq = open_sequence(path, axes=self.config.sensor.axes)
        out = Path(out_dir) if out_dir is not None else default_out_dir(seq.root)
        session = AnnotationSession(seq, out, self.config)
        self.close()
        self.sequence, self.session, self.out_dir = seq, session, out
        self._ego = None
        if len(seq) > 1 and seq.sequential:
            warm_up_tracking()
        self._unsubscribe = session.subscribe(self._session_changed)
        self._recover_or_import(session, seq, out)
        turned = " (nuScenes axes: turned to x forward)" if seq.axes != "kitti" else ""
        self.status.emit(f"opened {seq.name} ({len(seq)} frames, {seq.layout}){turned}; saving to {out}")
        self.go_to(frame)
        if self.point_labels is not None:
            self.status.emit(f"{seq.name} has per-point labels: C (or View > Colour by per-point labels) "
                             "shows them")
        return True

    def _recover_or_import(self, session, seq, out: Path) -> None:
        """Restore an unclean exit's work (undo history included), else load the dataset's labels."""
        if session.recovery_available:
            try:
                session.recover()
                self.message.emit("info", "Recovered unsaved work",
                                  f"The last session in {out} did not close cleanly; its work and undo "
                                  "history have been restored.")
            except InputError as exc:
                self.message.emit("error", "Cannot recover the last session",
                                  f"{_describe(exc)}\nThe saved labels in {out} are used instead.")
            return
        if not session.all_boxes() and seq.labels_path is not None:
            try:
                report = session.import_labels(seq.labels_path, seq.labels_format)
            except InputError as exc:
                self.message.emit("warning", "Existing labels not loaded", _describe(exc))
                return
            if report.errors:
                self.message.emit("warning", "Some existing labels were skipped",
                                  "\n".join(_describe(e) for e in report.errors[:10]))

    def close(self) -> None:
        """Flush and detach the current session (autosave has already written every change)."""
        if self.session is not None:
            if callable(self._unsubscribe):
                self._unsubscribe()
            closer = getattr(self.session, "close", None)
            if closer is not None:
                try:
                    closer()
                except (OSError, InputError) as exc:
                    self.message.emit("error", "Cannot save", _describe(exc))
        self.session = None
        self.sequence = None

    # ---- frames -----------------------------------------------------------------------------
    def frame_id(self) -> str:
        return "" if self.sequence is None else self.sequence.frame_id(self.frame)

    def go_to(self, i: int, proposals: list[Box3D] | None = None) -> None:
        """Show frame ``i``; unreadable files are reported and the frame shows what could be read."""
        if self.sequence is None:
            return
        i = int(min(max(i, 0), len(self.sequence) - 1))
        self.frame = i
        self.selected = None
        self.point_labels = None
        self._annotator_frame = -1
        self.points = np.zeros((0, 4), np.float32)
        self.image, self.calib = None, None
        try:
            self.points = np.asarray(self.sequence.points(i), dtype=np.float32)
        except (InputError, OSError, ValueError) as exc:
            self.message.emit("error", "Cannot read scan", _describe(exc))
        try:
            self.calib = self.sequence.calib(i)
            self.image = self.sequence.image(i) if self.calib is not None else None
        except (InputError, OSError, ValueError) as exc:
            self.calib, self.image = None, None
            self.message.emit("warning", "Camera unavailable for this frame", _describe(exc))
        self.point_labels = self._dataset_point_labels(i)
        self.proposals = list(proposals or [])
        self.frame_loaded.emit()

    def _dataset_point_labels(self, i: int) -> np.ndarray | None:
        """The frame's own per-point labels (SemanticKITTI ``.label``, SqueezeSeg label channel) as
        indices into the class list (-1: none of the classes), shown by colour mode "label"."""
        from squeezeseg.classes import semantickitti_lookup

        try:
            labels = self.sequence[i].labels
        except (InputError, OSError, ValueError) as exc:
            self.message.emit("warning", "Per-point labels not loaded", _describe(exc))
            return None
        if labels is None or self.points is None or len(labels) != len(self.points):
            return None
        table = semantickitti_lookup(["(none)", *self.class_names]) - 1
        return table[np.asarray(labels, np.int64) & 0xFFFF]

    def next_frame(self) -> None:
        """Go forward one frame; the tracker proposes every track of this frame missing from the next."""
        if self.sequence is None or self.frame + 1 >= len(self.sequence):
            self.status.emit("last frame")
            return
        prev, prev_points = self.frame, self.points
        t0 = time.perf_counter()
        self.go_to(prev + 1)
        t1 = time.perf_counter()
        try:
            self.proposals = self._track_proposals(prev, self.frame, prev_points)
        except (InputError, OSError, ValueError) as exc:  # e.g. an earlier frame of a track unreadable
            self.proposals = []
            self.message.emit("warning", "No tracked proposals for this frame", _describe(exc))
        self.last_tracking = {**(self.last_tracking or {}), "load_s": t1 - t0,
                              "track_s": time.perf_counter() - t1}
        if self.proposals:
            self.status.emit(f"{len(self.proposals)} tracked proposals: Enter accepts all, "
                             "click one to take it")
        self.boxes_changed.emit()

    def prev_frame(self) -> None:
        if self.sequence is not None and self.frame > 0:
            self.go_to(self.frame - 1)

    def annotator(self):
        """The one-click annotator set to the current frame (ground fitted lazily, once per frame)."""
        from latte.core.oneclick import OneClickAnnotator

        if self._annotator is None:
            self._annotator = OneClickAnnotator(self.config)
        if self._annotator_frame != self.frame:
            pts = self.points if self.points is not None else np.zeros((0, 4), np.float32)
            self._annotator.set_frame(pts)
            self._annotator_frame = self.frame
        return self._annotator

    def linked(self, a: int, b: int) -> bool:
        """Whether frames ``a`` and ``b`` follow each other in time (tracking links them)."""
        return self._link_problem(a, b) is None

    def _link_problem(self, a: int, b: int) -> str | None:
        from latte.core.sequence import link_problem

        t = self.config.tracking
        return link_problem(self.sequence, a, b, t.max_gap_s, t.dt)

    def frame_time(self, i: int) -> float:
        from latte.core.sequence import frame_time

        return frame_time(self.sequence, i, self.config.tracking.dt)

    def ego_motion(self):
        """The scan registration of the open sequence (created on first use, cached per frame)."""
        from latte.core.ego_motion import EgoMotion

        if self._ego is None:
            self._ego = EgoMotion(self.sequence.points, self.config, self.frame_time)
        return self._ego

    def _track_proposals(self, prev: int, cur: int, prev_points: np.ndarray | None = None) -> list[Box3D]:
        """Predictions of the tracks of ``prev`` in ``cur``: the sensor's motion from scan registration,
        the object's from the Kalman filter, rigid boxes re-centred on the new points. Nothing is
        carried between frames that are not one sequence (the status bar says why)."""
        from latte.core.tracking import track_proposals

        problem = self._link_problem(prev, cur)
        tracked = [b for b in self.boxes(prev) if b.track_id is not None]
        self.last_tracking = {"frames": (prev, cur), "not_linked": problem, "ego": None}
        if not tracked:
            return []
        if problem is not None:
            self.status.emit(f"no tracked proposals: {problem}")
            return []
        ann = self.annotator() if len(self.points) else None
        ego = None
        if self.config.tracking.ego_motion and ann is not None:
            ego = self.ego_motion()
            ego.provide(cur, self.points, ann.is_ground)
            try:
                step = ego.step(cur)
            except (InputError, OSError, ValueError) as exc:  # the previous scan is unreadable
                self.message.emit("warning", "No ego-motion for this frame", _describe(exc))
                ego = None
            else:
                self.last_tracking["ego"] = step
        def points_of(j: int) -> np.ndarray:   # the previous frame's points are still in memory
            return prev_points if j == prev and prev_points is not None else self.sequence.points(j)

        return track_proposals(self.boxes, prev, cur, self.frame_time, ann, ego, self.linked, TRACK_HISTORY,
                               points_of=points_of)

    # ---- boxes ------------------------------------------------------------------------------
    def box_ids(self, frame: int | None = None) -> list[int]:
        """Session box ids of ``frame`` (default: the current one), in the order the views list them."""
        if self.session is None:
            return []
        return sorted(self.session.boxes(self.frame if frame is None else frame))

    def boxes(self, frame: int | None = None) -> list[Box3D]:
        if self.session is None:
            return []
        d = self.session.boxes(self.frame if frame is None else frame)
        return [d[k] for k in sorted(d)]

    def selected_box(self) -> Box3D | None:
        boxes = self.boxes()
        return boxes[self.selected] if self.selected is not None and self.selected < len(boxes) else None

    def class_color(self, label: str) -> tuple[int, int, int]:
        c = self.config.class_config(label)
        return tuple(c.color) if c is not None else (200, 200, 200)

    def label_palette(self) -> np.ndarray:
        """RGBA colours of the pre-label ids (index = position in the class list)."""
        return np.array([(*c, 255) for c in self.class_colors_list], dtype=np.uint8)

    def _hit(self, boxes: list[Box3D], x: float, y: float) -> int | None:
        """Index of the smallest box whose footprint contains (x, y)."""
        best, best_area = None, math.inf
        for i, b in enumerate(boxes):
            local = b.to_local(np.array([[x, y, b.center[2]]]))[0]
            if abs(local[0]) <= b.size[0] / 2 and abs(local[1]) <= b.size[1] / 2:
                area = b.size[0] * b.size[1]
                if area < best_area:
                    best, best_area = i, area
        return best

    @guarded("Cannot annotate")
    def click(self, x: float, y: float) -> Box3D | None:
        """A click at LiDAR (x, y): select the box there, take the proposal there, or make a one-click box."""
        if self.session is None:
            return None
        hit = self._hit(self.boxes(), x, y)
        if hit is not None:
            self.select(hit)
            return self.boxes()[hit]
        p = self._hit(self.proposals, x, y)
        if p is not None:
            return self._accept([self.proposals[p]])[0]
        t0 = time.perf_counter()
        box = self.annotator().click(x, y, self.current_class)
        if box is None:
            self.status.emit(f"no object at ({x:.1f}, {y:.1f})")
            return None
        box = self._add([box])[0]
        self.status.emit(f"one-click {box.label} in {(time.perf_counter() - t0) * 1000:.0f} ms")
        return box

    def _add(self, boxes: list[Box3D], op: str = "create") -> list[Box3D]:
        """Add boxes as one undoable command (the session gives new tracks their ids); select the last."""
        ids = self.session.add_boxes(self.frame, [b.replace(point_indices=None) for b in boxes], op)
        self.selected = self.box_ids().index(ids[-1])
        self.boxes_changed.emit()
        return [self.session.box(self.frame, k) for k in ids]

    def _accept(self, proposals: list[Box3D]) -> list[Box3D]:
        self.proposals = [p for p in self.proposals if not any(p is q for q in proposals)]
        return self._add([p.replace(score=None) for p in proposals], op="accept")

    @guarded("Cannot accept proposals")
    def accept_proposals(self) -> None:
        """Accept every proposal of the frame (one undoable command, one "accept" per instance)."""
        if self.proposals:
            self._accept(list(self.proposals))

    @guarded("Cannot accept proposal")
    def accept_selected(self) -> None:
        """Space: accept the first proposal."""
        if self.proposals:
            self._accept(self.proposals[:1])

    def select(self, index: int | None) -> None:
        n = len(self.boxes())
        self.selected = None if index is None or n == 0 else int(index) % n
        self.boxes_changed.emit()

    def next_box(self) -> None:
        n = len(self.boxes())
        if n:
            self.select(0 if self.selected is None else self.selected + 1)

    def prev_box(self) -> None:
        n = len(self.boxes())
        if n:
            self.select(n - 1 if self.selected is None else self.selected - 1)

    def deselect(self) -> None:
        self.select(None)

    @guarded("Cannot edit box")
    def edit_selected(self, box: Box3D, op: str | None = None) -> None:
        """Replace the selected box with ``box`` (a drag, a handle, a nudge or a class key); ``op``
        names the operation in the log (default: what changed, e.g. "move")."""
        if self.session is None or self.selected is None:
            return
        self.session.update_box(self.frame, self.box_ids()[self.selected], box, op)
        self.boxes_changed.emit()

    def nudge(self, delta: tuple[float, float]) -> None:
        box = self.selected_box()
        if box is not None:
            c = box.center
            self.edit_selected(box.replace(center=(c[0] + delta[0], c[1] + delta[1], c[2])))

    def resize(self, change: tuple[int, float]) -> None:
        """Resize key: grow the selected box by ``change`` = (axis, metres) (0 length, 1 width,
        2 height; height grows upwards from the bottom)."""
        from latte.app.box_edit import resize

        box = self.selected_box()
        if box is not None:
            self.edit_selected(resize(box, int(change[0]), float(change[1])))

    def lift(self, dz: float) -> None:
        """Move the selected box up (``dz`` > 0) or down by ``dz`` metres."""
        from latte.app.box_edit import translate

        box = self.selected_box()
        if box is not None:
            self.edit_selected(translate(box, dz=float(dz)))

    @guarded("Cannot refit box")
    def refit(self) -> Box3D | None:
        """Re-run the one-click fit on the selected box's points (the non-ground points inside it,
        grown by 15 cm): one undoable edit that keeps the box's class, track and front."""
        from latte.app.box_edit import closest_heading

        box = self.selected_box()
        if box is None:
            self.status.emit("select a box to refit")
            return None
        ann = self.annotator()
        inside = box.contains(np.asarray(ann.points)[:, :3], margin=0.15)
        if ann.is_ground is not None:
            inside &= ~np.asarray(ann.is_ground, dtype=bool)
        idx = np.flatnonzero(inside)
        if len(idx) < self.config.oneclick.min_points:
            self.status.emit(f"refit: only {len(idx)} non-ground points in the box; unchanged")
            return None
        fitted = ann.fit(idx, box.label)
        new = fitted.replace(label=box.label, track_id=box.track_id, score=None, point_indices=None,
                             yaw=closest_heading(fitted.yaw, box.yaw))
        self.edit_selected(new, op="refit")
        self.status.emit(f"refitted {box.label} to {len(idx)} points")
        return new

    def rotate(self, degrees: float) -> None:
        box = self.selected_box()
        if box is not None:
            self.edit_selected(box.replace(yaw=float((box.yaw + math.radians(degrees) + math.pi)
                                                     % (2 * math.pi) - math.pi)))

    def flip(self) -> None:
        self.rotate(180.0)

    def set_class(self, index: int) -> None:
        """Class key: set the class of the selected box (and of the next one-click boxes)."""
        if not 0 <= index < len(self.class_names):
            return
        self.current_class = self.class_names[index]
        box = self.selected_box()
        if box is not None and box.label != self.current_class:
            self.edit_selected(box.replace(label=self.current_class))

    def set_current_class(self, index: int) -> None:
        if 0 <= index < len(self.class_names):
            self.current_class = self.class_names[index]

    # ---- whole tracks (keyframe interpolation, batch edits) ----------------------------------------
    def _selected_track(self, what: str) -> int | None:
        box = self.selected_box()
        if self.session is None or box is None or box.track_id is None:
            self.status.emit(f"select a box of the track to {what}")
            return None
        return box.track_id

    @guarded("Cannot interpolate the track")
    def interpolate_track(self, snap: bool = False) -> int:
        """Fill the frames between the selected box's track's keyframes (the frames that hold it):
        linear centre, shortest-turn heading, sizes from the keyframes, the sensor's motion removed
        by scan registration; with ``snap`` each box is fitted to its frame's points. One undoable
        command; returns the number of boxes made."""
        from latte.core.interpolate import interpolate_track

        tid = self._selected_track("interpolate")
        if tid is None:
            return 0
        have = self.session.track_frames(tid)
        frames = sorted(have)
        if len(frames) < 2 or frames[-1] - frames[0] == len(frames) - 1:
            self.status.emit(f"track #{tid}: label it in two frames with a gap between them first "
                             f"(it is in frames {', '.join(str(f + 1) for f in frames)})")
            return 0
        for k in range(frames[0], frames[-1]):
            problem = self._link_problem(k, k + 1)
            if problem is not None:
                raise InputError(f"cannot interpolate track #{tid} across frames {k + 1}-{k + 2}: {problem}")
        keys = {f: self.session.box(f, k) for f, k in have.items()}
        ego = self.ego_motion() if self.config.tracking.ego_motion else None
        boxes = interpolate_track(keys, self.frame_time, ego, self._snapper() if snap else None)
        n = self.session.put_track_boxes(tid, boxes, op="interpolate")
        how = ", fitted to the points" if snap else ""
        self.status.emit(f"interpolated track #{tid} in {n} frames ({frames[0] + 1}-{frames[-1] + 1}){how}")
        self.boxes_changed.emit()
        return n

    def _snapper(self):
        """snap(frame, box): the box fitted to that frame's points (rigid: re-centred, same size)."""
        from latte.core.oneclick import OneClickAnnotator
        from latte.core.tracking import propagate_box

        ann = OneClickAnnotator(self.config)

        def snap(frame: int, box: Box3D) -> Box3D:
            ann.set_frame(self.points if frame == self.frame else self.sequence.points(frame))
            return propagate_box(box, ann, box.label)

        return snap

    @guarded("Cannot edit the track")
    def edit_track(self, label: str | None = None, size: tuple[float, float, float] | None = None) -> int:
        """Give every box of the selected box's track the class ``label`` and/or the ``size`` (one
        undoable command); returns the number of boxes changed."""
        tid = self._selected_track("edit")
        if tid is None:
            return 0
        n = self.session.edit_track(tid, label=label, size=size)
        what = " and ".join(w for w, v in (("class", label), ("size", size)) if v is not None)
        self.status.emit(f"track #{tid}: {what} set in {n} more frames" if n else
                         f"track #{tid}: every frame already has this {what}")
        self.boxes_changed.emit()
        return n

    def apply_class_to_track(self) -> int:
        """The selected box's class for its whole track."""
        box = self.selected_box()
        return self.edit_track(label=box.label) if box is not None else self.edit_track()

    def apply_size_to_track(self) -> int:
        """The selected box's size for its whole track (each box keeps its bottom)."""
        box = self.selected_box()
        return self.edit_track(size=box.size) if box is not None else self.edit_track()

    @guarded("Cannot delete box")
    def delete_box(self) -> None:
        if self.session is None or self.selected is None:
            return
        self.session.remove_box(self.frame, self.box_ids()[self.selected])
        self.selected = None
        self.boxes_changed.emit()

    @guarded("Cannot undo")
    def undo(self) -> None:
        self._history_event = None
        if self.session is not None and self.session.undo():
            self._after_history("undid")

    @guarded("Cannot redo")
    def redo(self) -> None:
        self._history_event = None
        if self.session is not None and self.session.redo():
            self._after_history("redid")

    def _after_history(self, verb: str) -> None:
        """After undo/redo: when the command changed another frame, go there and say so (an edit
        undone out of sight is an edit lost); select the box it changed when it still exists."""
        event = self._history_event
        frames = tuple(getattr(event, "frames", ()))
        op = getattr(event, "op", "") or "edit"
        if frames and self.frame not in frames:
            target = frames[0]
            self.go_to(target)
            self._select_ids(getattr(event, "box_ids", ()))
            self.status.emit(f"{verb} {op} on frame {target + 1} ({self.frame_id()}): jumped there")
            self.boxes_changed.emit()
            return
        n = len(self.boxes())
        if self.selected is not None and self.selected >= n:
            self.selected = n - 1 if n else None
        self.status.emit(f"{verb} {op}")
        self.boxes_changed.emit()

    def _select_ids(self, box_ids) -> None:
        """Select the first of the session boxes ``box_ids`` present in this frame."""
        ids = self.box_ids()
        present = [ids.index(k) for k in box_ids if k in ids]
        self.selected = present[0] if present else None

    def _session_changed(self, event) -> None:
        """Session callback: redraw when the session reloads its state (recovery); remember what an
        undo/redo changed (frames, boxes) for :meth:`_after_history`. Edits made through this
        controller redraw once when the action ends, not on every session event."""
        kind = getattr(event, "kind", "")
        if kind in ("undo", "redo"):
            self._history_event = event
        if kind == "load":
            self.boxes_changed.emit()

    # ---- saving, import, export -----------------------------------------------------------
    @guarded("Cannot save")
    def save(self) -> None:
        if self.session is not None:
            self.session.save()
            self.status.emit(f"saved to {self.out_dir}")

    def export_formats(self) -> list[str]:
        from latte.core.label_io import LABEL_FORMATS

        return list(LABEL_FORMATS)

    @guarded("Cannot export labels")
    def export(self, fmt: str, folder: str | Path) -> None:
        if self.session is not None:
            self.session.export(fmt, Path(folder))
            self.status.emit(f"exported {fmt} labels to {folder}")

    @guarded("Cannot import labels")
    def import_labels(self, path: str | Path, fmt: str | None = None) -> bool:
        """Import a label file or folder, all or nothing: when any line does not fit this sequence
        (another drive's file, frames out of range, bad lines) the import is undone and reported."""
        if self.session is None:
            return False
        report = self.session.import_labels(Path(path), fmt)
        if report.errors:
            self.session.undo()
            shown = "\n".join(_describe(e) for e in report.errors[:8])
            more = f"\n... and {len(report.errors) - 8} more" if len(report.errors) > 8 else ""
            self.message.emit("error", "Labels do not fit this sequence",
                              f"{len(report.errors)} problems, nothing was imported:\n{shown}{more}")
            self.boxes_changed.emit()
            return False
        self.status.emit(f"imported {report.n_boxes} boxes from {path}")
        self.boxes_changed.emit()
        return True

    # ---- pre-labels -------------------------------------------------------------------------
    def _job(self):
        """The model worker (a separate process: TensorFlow is never imported by the app)."""
        if self._prelabel_job is None:
            from latte.app.prelabel_job import PrelabelJob

            job = PrelabelJob(self)
            job.progress.connect(self.prelabel_progress)
            job.finished.connect(self._prelabel_done)
            job.failed.connect(self._prelabel_failed)
            self._prelabel_job = job
        return self._prelabel_job

    @property
    def prelabel_busy(self) -> bool:
        return self._prelabel_job is not None and self._prelabel_job.busy

    @guarded("Cannot pre-label")
    def prelabel(self, source: str = "auto") -> bool:
        """Start pre-labelling this frame in the model worker: proposals (dashed, Enter accepts) and
        per-point pre-labels (colour mode "label") arrive with ``prelabel_finished(True)``.
        ``source`` "detector" = SqueezeDet on the camera image through frustum fusion,
        "segmentation" = the SqueezeSeg model on the points, "auto" = both when the frame has a
        camera (the detector sees only the camera's view), else the segmenter. Duplicate proposals
        are suppressed (``latte.core.nms``) and proposals overlapping an existing box are dropped.
        Returns False when nothing was started."""
        from latte.core.model_worker import resolve_source, uses_detector

        if self.points is None or not len(self.points):
            self.status.emit("no points to pre-label in this frame")
            return False
        if self.prelabel_busy:
            self.status.emit("pre-labelling is already running")
            return False
        source = resolve_source(source, self.image is not None and self.calib is not None)
        if uses_detector(source):
            from latte.core import fusion

            if self.image is None or self.calib is None:
                raise InputError("the image detector needs a camera image and calibration; "
                                 "this frame has none")
            fusion.check_calib_image(self.calib, self.image.shape, self.calib.source)
        request = {"points": self.points, "image": self.image if uses_detector(source) else None,
                   "calib": self.calib, "config": self.config, "source": source,
                   "frame_id": self.frame_id()}
        self._prelabel_for = (self.sequence, self.frame, len(self.points))
        self._prelabel_t0 = time.perf_counter()
        self.prelabel_started.emit(source)
        try:
            self._job().start(request)
        except (OSError, RuntimeError):
            self.prelabel_finished.emit(False)
            raise
        self.status.emit(f"pre-labelling frame {self.frame_id()} with the {source}…")
        return True

    def cancel_prelabel(self) -> None:
        """Stop the running pre-label (its worker process is killed; nothing changes)."""
        if self._prelabel_job is not None and self._prelabel_job.cancel():
            self.status.emit("pre-labelling cancelled")
            self.prelabel_finished.emit(False)

    def _prelabel_done(self, result: dict) -> None:
        from latte.core.model_worker import arrays_to_boxes

        seconds = time.perf_counter() - self._prelabel_t0
        self.last_prelabel = {**result, "wall_seconds": seconds}
        if self._prelabel_for != (self.sequence, self.frame, 0 if self.points is None else len(self.points)):
            self.status.emit("pre-labels arrived for another frame; discarded")
            self.prelabel_finished.emit(False)
            return
        props = arrays_to_boxes(result)
        boxes = self.boxes()
        keep = [p for p in props if not boxes or max(p.bev_iou(b) for b in boxes) < 0.3]
        self.proposals = keep
        labels = np.asarray(result["point_labels"], dtype=np.int64)
        self.point_labels = labels if len(labels) == len(self.points) else None
        dup = int(result.get("n_raw", len(props))) - len(props)
        self.status.emit(f"{len(keep)} pre-label proposals from the {result['source']} in {seconds:.1f} s"
                         f"{f' ({dup} duplicates suppressed)' if dup else ''}: Enter accepts all; "
                         "press C for per-point pre-labels")
        self.frame_loaded.emit()
        self.prelabel_finished.emit(True)

    def _prelabel_failed(self, text: str) -> None:
        log.warning("pre-label failed: %s", text)
        self.message.emit("error", "Cannot pre-label", text)
        self.prelabel_finished.emit(False)

    def shutdown(self) -> None:
        """Close the session and end the model worker (the window is closing)."""
        self.close()
        if self._prelabel_job is not None:
            self._prelabel_job.shutdown()

    # ---- measurement ------------------------------------------------------------------------
    def stats_text(self) -> str:
        """Time and operation count of the selected instance and per instance over the session
        (the LATTE paper's measures), from the session's operation log."""
        if self.session is None:
            return ""
        log_ = {e.track_id: e for e in self.session.instance_log()}
        box = self.selected_box()
        lines = []
        if box is not None and box.track_id in log_:
            e = log_[box.track_id]
            lines.append(f"instance #{e.track_id} {e.label}: {e.seconds:.1f} s, {e.n_operations} ops")
        if log_:
            n = len(log_)
            secs = sum(e.seconds for e in log_.values()) / n
            ops = sum(e.n_operations for e in log_.values()) / n
            lines.append(f"{n} instances: {secs:.1f} s and {ops:.1f} ops per instance")
        summary = self.session.session_summary()
        lines.append(f"{summary['boxes']} boxes in {summary['annotated_frames']}/{summary['frames']} frames")
        if self.session.last_save_error is not None:
            lines.append("NOT SAVED: " + _describe(self.session.last_save_error))
        return "\n".join(lines)
