"""The 3D perspective view (pyqtgraph.opengl), editable: the selected box can be moved, turned and
resized with the mouse here, and every key of the window (nudge, rotate, resize, class) works while
it has the focus.

Mouse (left button): Ctrl+drag moves the selected box on its ground plane; Shift+drag turns it
about its centre; without a modifier, a drag from a face handle (the large dots; the orange one is
the front) moves that face (resize along its axis, the opposite face stays), a click on a box
selects it, a click on a yellow proposal takes it, and any other drag orbits the camera (wheel
zooms, middle button pans). Each drag is one undoable edit, emitted as ``box_edited(Box3D)`` when
the button is released, like the bird's-eye view's handles.

The app runs without it: offscreen platforms and machines without PyOpenGL get ``None`` from
:func:`make_view3d` and no 3D dock. The edit geometry lives in :mod:`latte.app.box_edit` (no Qt).
"""

from __future__ import annotations

import math
import os

import numpy as np

from latte.app import box_edit
from latte.app.camera_view import BOX_EDGES
from squeezeseg.boxes import Box3D

MAX_3D_POINTS = 150_000
HANDLE_PX = 16          # drawn size of the face handles (pixels)
HANDLE_HIT_PX = 14      # a press this close to a handle grabs it
CLICK_PX = 4            # a press and release closer than this is a click (select), not a drag
BASE_POINT_PX = 1.5     # 3D point size at point size level 1
FRONT_RGBA = (1.0, 0.55, 0.0, 1.0)    # handle of the box's front face (the heading)
HANDLE_RGBA = (1.0, 0.9, 0.0, 1.0)
PROPOSAL_RGBA = (1.0, 210 / 255, 0.0, 0.9)   # the bird's-eye view's proposal yellow


def opengl_available() -> bool:
    """True when a 3D view can be created: a real display platform and pyqtgraph.opengl importable."""
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal") or os.environ.get("LATTE_NO_GL"):
        return False
    try:
        import pyqtgraph.opengl  # noqa: F401
    except Exception:  # noqa: BLE001 - PyOpenGL missing or broken drivers: no 3D view
        return False
    return True


def make_view3d():
    """A :class:`View3D` widget, or None when OpenGL is unavailable."""
    if not opengl_available():
        return None
    try:
        return _build_view3d()
    except Exception:  # noqa: BLE001 - context creation can fail on headless drivers
        return None


def box_lines(boxes: list[Box3D]) -> np.ndarray:
    """(26 * len(boxes), 3) line-segment end points: the 12 edges of each box and a tick from its
    centre to its front face (the heading)."""
    if not boxes:
        return np.zeros((0, 3))
    out = []
    for b in boxes:
        out.append(b.corners()[BOX_EDGES.ravel()])
        out.append(np.vstack([b.center, box_edit.face_centers(b)[0]]))
    return np.vstack(out)


def pick_box(boxes: list[Box3D], origin: np.ndarray, direction: np.ndarray) -> int | None:
    """Index of the smallest box whose footprint the ray crosses at the box's centre height."""
    best, best_area = None, math.inf
    for i, b in enumerate(boxes):
        hit = box_edit.ray_plane_z(origin, direction, b.center[2])
        if hit is None:
            continue
        local = b.to_local(hit[None])[0]
        if abs(local[0]) <= b.size[0] / 2 and abs(local[1]) <= b.size[1] / 2:
            area = b.size[0] * b.size[1]
            if area < best_area:
                best, best_area = i, area
    return best


def _build_view3d():
    import pyqtgraph.opengl as gl
    from PyQt5 import QtCore, QtGui

    class View3D(gl.GLViewWidget):
        """Points coloured like the bird's-eye view, boxes as line sets, the selected box with handles."""

        box_edited = QtCore.pyqtSignal(object)
        box_picked = QtCore.pyqtSignal(int)
        proposal_clicked = QtCore.pyqtSignal(float, float)   # LiDAR (x, y) of a clicked proposal

        def __init__(self):
            super().__init__()
            self.noRepeatKeys = []          # arrow keys belong to the window (nudge), not the camera
            self.setFocusPolicy(QtCore.Qt.ClickFocus)
            self.setMouseTracking(True)     # hover over a handle shows the resize cursor
            self.setCameraPosition(distance=40, elevation=25, azimuth=180)
            self.point_level = 1
            self.scatter = gl.GLScatterPlotItem(size=BASE_POINT_PX, pxMode=True)
            self.addItem(self.scatter)
            self.lines = gl.GLLinePlotItem(mode="lines", width=2, antialias=True)
            self.addItem(self.lines)
            self.sel_lines = gl.GLLinePlotItem(mode="lines", width=3, antialias=True)
            self.addItem(self.sel_lines)
            self.proposal_lines = gl.GLLinePlotItem(mode="lines", width=2, antialias=True)
            self.addItem(self.proposal_lines)
            self.handles = gl.GLScatterPlotItem(size=HANDLE_PX, pxMode=True)
            self.handles.setGLOptions("translucent")   # drawn over the points
            self.addItem(self.handles)
            self.boxes: list[Box3D] = []
            self.proposals: list[Box3D] = []
            self.selected: int | None = None
            self._drag: dict | None = None
            self.preview: Box3D | None = None

        # ---- content ----------------------------------------------------------------------
        def set_points(self, points: np.ndarray, colors: np.ndarray) -> None:
            step = max(1, len(points) // MAX_3D_POINTS)   # drawing only
            self.scatter.setData(pos=points[::step, :3], color=colors[::step].astype(np.float32) / 255.0)

        def set_point_level(self, level: int) -> None:
            """Point size level (1 = default): each level adds a pixel."""
            self.point_level = max(int(level), 1)
            self.scatter.setData(size=BASE_POINT_PX + (self.point_level - 1))

        def set_boxes(self, boxes: list[Box3D], colors: list[tuple[int, int, int]], selected=None,
                      proposals: list[Box3D] = ()) -> None:
            """The frame's boxes in their class ``colors``, the one at ``selected`` with handles, and
            the proposals (tracker, pre-labels) in yellow; a click on a proposal takes it."""
            self.boxes, self.selected, self.preview = list(boxes), selected, None
            self.proposals = list(proposals)
            if self.proposals:
                pos = box_lines(self.proposals)
                self.proposal_lines.setData(pos=pos, color=np.tile(PROPOSAL_RGBA, (len(pos), 1)))
            else:
                self.proposal_lines.setData(pos=np.zeros((0, 3)))
            others = [i for i in range(len(boxes)) if i != selected]
            if others:
                col = np.repeat(np.asarray([colors[i] for i in others], np.float32) / 255.0, 26, axis=0)
                self.lines.setData(pos=box_lines([boxes[i] for i in others]),
                                   color=np.c_[col, np.ones(len(col))])
            else:
                self.lines.setData(pos=np.zeros((0, 3)))
            self._show_selected(boxes[selected] if selected is not None and selected < len(boxes) else None,
                                colors[selected] if selected is not None and selected < len(colors) else None)

        def _show_selected(self, box: Box3D | None, color=None) -> None:
            if box is None:
                self.sel_lines.setData(pos=np.zeros((0, 3)))
                self.handles.setData(pos=np.zeros((0, 3)))
                return
            rgb = np.asarray(color if color is not None else (255, 255, 255), np.float32) / 255.0
            rgba = np.tile(np.r_[np.clip(rgb * 0.5 + 0.5, 0, 1), 1.0], (26, 1))   # lighter: selected
            self.sel_lines.setData(pos=box_lines([box]), color=rgba)
            hcol = np.array([FRONT_RGBA] + [HANDLE_RGBA] * 5, np.float32)
            self.handles.setData(pos=box_edit.face_centers(box), color=hcol, size=HANDLE_PX)

        def focus_on(self, box: Box3D) -> None:
            """Centre the camera on ``box`` at a distance that frames it."""
            import pyqtgraph as pg

            span = max(float(np.max(box.size)) * 3.5, 8.0)
            self.setCameraPosition(pos=pg.Vector(*box.center), distance=span)

        # ---- camera as matrices -------------------------------------------------------------
        def mvp(self) -> np.ndarray:
            """4x4 model-view-projection of the current camera (row-major, numpy)."""
            w, h = max(self.width(), 1), max(self.height(), 1)
            m = self.projectionMatrix((0, 0, w, h), (0, 0, w, h)) * self.viewMatrix()
            return np.asarray(m.data(), dtype=np.float64).reshape(4, 4).T

        def to_widget(self, point) -> QtCore.QPoint:
            """Widget pixel of the LiDAR-frame ``point`` (tests and scripts drag with it)."""
            pt = np.asarray(point, np.float64)[None]
            px, _ = box_edit.project(self.mvp(), pt, self.width(), self.height())
            return QtCore.QPoint(int(round(px[0, 0])), int(round(px[0, 1])))

        def handle_at(self, px: tuple[float, float]) -> int | None:
            """Face index (:data:`latte.app.box_edit.FACES`) of the handle under pixel ``px``."""
            box = self._selected_box()
            if box is None:
                return None
            pts, front = box_edit.project(self.mvp(), box_edit.face_centers(box), self.width(), self.height())
            d = np.hypot(pts[:, 0] - px[0], pts[:, 1] - px[1])
            d[~front] = np.inf
            i = int(np.argmin(d))
            return i if d[i] <= HANDLE_HIT_PX else None

        def _selected_box(self) -> Box3D | None:
            ok = self.selected is not None and self.selected < len(self.boxes)
            return self.boxes[self.selected] if ok else None

        def _ground_point(self, px: tuple[float, float], z: float) -> np.ndarray | None:
            origin, direction = box_edit.pixel_ray(self.mvp(), px, self.width(), self.height())
            return box_edit.ray_plane_z(origin, direction, z)

        # ---- mouse --------------------------------------------------------------------------
        def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt override
            pos = ev.localPos()
            px = (pos.x(), pos.y())
            box = self._selected_box()
            self._drag = {"kind": "camera", "press": px}
            if ev.button() == QtCore.Qt.LeftButton and box is not None:
                mods = ev.modifiers()
                kind = ("move" if mods & QtCore.Qt.ControlModifier
                        else "turn" if mods & QtCore.Qt.ShiftModifier else None)
                start = self._ground_point(px, box.center[2]) if kind else None
                face = None if kind else self.handle_at(px)
                if start is not None:        # a modifier wins over a handle under the mouse
                    self._drag = {"kind": kind, "start": start, "press": px, "box": box}
                elif face is not None:
                    self._drag = {"kind": "face", "face": face, "press": px, "box": box}
            super().mousePressEvent(ev)

        def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt override
            drag = self._drag
            if ev.buttons() == QtCore.Qt.NoButton:          # hovering: say what a press would grab
                pos = ev.localPos()
                over = self.handle_at((pos.x(), pos.y())) is not None
                self.setCursor(QtCore.Qt.SizeAllCursor if over else QtCore.Qt.ArrowCursor)
                return
            if drag is None or drag["kind"] == "camera" or not ev.buttons() & QtCore.Qt.LeftButton:
                super().mouseMoveEvent(ev)
                return
            pos = ev.localPos()
            self.preview = self._dragged_box(drag, (pos.x(), pos.y()))
            if self.preview is not None:
                self._show_selected(self.preview, (255, 255, 255))

        def _dragged_box(self, drag: dict, px: tuple[float, float]) -> Box3D | None:
            """The selected box as the drag so far makes it."""
            box: Box3D = drag["box"]
            if drag["kind"] == "face":
                axis, sign = box_edit.FACES[drag["face"]]
                anchor = box_edit.face_centers(box)[drag["face"]]
                direction = box_edit.axis_direction(box, axis) * sign
                moved = np.subtract(px, drag["press"])
                metres = box_edit.screen_drag_along(self.mvp(), anchor, direction, moved,
                                                    self.width(), self.height())
                return box_edit.move_face(box, axis, sign, metres)
            now = self._ground_point(px, box.center[2])
            if now is None:
                return None
            if drag["kind"] == "move":
                d = now - drag["start"]
                return box_edit.translate(box, float(d[0]), float(d[1]))
            c = np.asarray(box.center[:2])
            a0 = math.atan2(*(drag["start"][:2] - c)[::-1])
            a1 = math.atan2(*(now[:2] - c)[::-1])
            return box_edit.turn(box, a1 - a0)

        def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt override
            drag, self._drag = self._drag, None
            pos = ev.localPos()
            px = (pos.x(), pos.y())
            if drag is None or ev.button() != QtCore.Qt.LeftButton:
                super().mouseReleaseEvent(ev)
                return
            moved = math.hypot(px[0] - drag["press"][0], px[1] - drag["press"][1])
            if drag["kind"] != "camera" and moved >= 1:
                new = self._dragged_box(drag, px)
                self.preview = None
                if new is not None and new != drag["box"]:
                    self.box_edited.emit(new)
                return
            if moved < CLICK_PX:
                origin, direction = box_edit.pixel_ray(self.mvp(), px, self.width(), self.height())
                hit = pick_box(self.boxes, origin, direction)
                if hit is not None and hit != self.selected:
                    self.box_picked.emit(hit)
                elif hit is None:
                    taken = pick_box(self.proposals, origin, direction)
                    if taken is not None:
                        c = self.proposals[taken].center
                        self.proposal_clicked.emit(float(c[0]), float(c[1]))
            super().mouseReleaseEvent(ev)

    return View3D()
