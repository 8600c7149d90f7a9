"""The bird's-eye-view canvas: rasterised points, range rings, boxes, and the editable selected box.

Screen layout follows the driver's view: LiDAR +x (forward) points up, +y (left) points left. That is
a pure 90-degree rotation of the LiDAR x-y plane (u = -y, v = x), so angles keep their sense.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui

from latte.app.lifetime import adopt_pyqtgraph_menus
from latte.app.point_layer import PointLayer
from latte.app.raster import draw_order
from squeezeseg.boxes import Box3D

RING_STEP_M = 10.0
RING_MAX_M = 80.0
HANDLE_PX = 11


def to_view(xy: np.ndarray) -> np.ndarray:
    """LiDAR (x, y) -> view (u, v) = (-y, x)."""
    xy = np.asarray(xy)
    return np.stack([-xy[..., 1], xy[..., 0]], axis=-1)


def from_view(u: float, v: float) -> tuple[float, float]:
    """View (u, v) -> LiDAR (x, y)."""
    return float(v), float(-u)


def box_outline(box: Box3D) -> np.ndarray:
    """(7, 2) view-coordinate polyline: the 4 corners closed, then a tick from the centre to the front."""
    c = box.bev_corners()
    front = (c[0] + c[3]) / 2
    pts = np.vstack([c, c[:1], np.asarray(box.center[:2])[None], front[None]])
    path = to_view(pts)
    return np.vstack([path[:5], [[np.nan, np.nan]], path[5:]])


class BoxROI(pg.ROI):
    """Editable rectangle of the selected box: drag to move, edge handles to resize, corner to rotate."""

    def __init__(self, pen: QtGui.QPen):
        super().__init__([0, 0], [1, 1], pen=pen, movable=True, rotatable=True, resizable=True,
                         hoverPen=pg.mkPen((255, 230, 0), width=3), handlePen=pg.mkPen("w", width=2),
                         handleHoverPen=pg.mkPen((255, 230, 0), width=3))
        self.handleSize = HANDLE_PX   # pyqtgraph's default (5 px) is hard to hit
        self.addScaleHandle([1.0, 0.5], [0.0, 0.5])
        self.addScaleHandle([0.0, 0.5], [1.0, 0.5])
        self.addScaleHandle([0.5, 1.0], [0.5, 0.0])
        self.addScaleHandle([0.5, 0.0], [0.5, 1.0])
        self.addRotateHandle([1.0, 1.0], [0.5, 0.5])
        self.addRotateHandle([1.0, 0.0], [0.5, 0.5])

    def set_box(self, box: Box3D) -> None:
        """Place the ROI on ``box`` without emitting change signals."""
        l, w, _ = box.size
        theta = box.yaw + math.pi / 2
        cu, cv = to_view(np.asarray(box.center[:2]))
        c, s = math.cos(theta), math.sin(theta)
        pos = (cu - (c * l / 2 - s * w / 2), cv - (s * l / 2 + c * w / 2))
        self.blockSignals(True)
        try:
            self.setState({"pos": pos, "size": (max(l, 0.05), max(w, 0.05)), "angle": math.degrees(theta)})
        finally:
            self.blockSignals(False)

    def to_box(self, template: Box3D) -> Box3D:
        """The box the ROI shows now (height, z and labels from ``template``)."""
        st = self.getState()
        l, w = float(st["size"][0]), float(st["size"][1])
        theta = math.radians(st["angle"])
        c, s = math.cos(theta), math.sin(theta)
        cu = st["pos"][0] + c * l / 2 - s * w / 2
        cv = st["pos"][1] + s * l / 2 + c * w / 2
        x, y = from_view(cu, cv)
        yaw = (theta - math.pi / 2 + math.pi) % (2 * math.pi) - math.pi
        size = (abs(l), abs(w), template.size[2])
        return template.replace(center=(x, y, template.center[2]), size=size, yaw=yaw)


class BEVView(pg.GraphicsView):
    """Main canvas. Emits ``clicked(x, y)`` (LiDAR metres) on a left click and ``box_edited(Box3D)``
    when a drag of the selected box ends."""

    clicked = QtCore.pyqtSignal(float, float)
    box_edited = QtCore.pyqtSignal(object)

    def __init__(self, parent=None):
        super().__init__(parent=parent, background=(18, 20, 24))
        self.setMinimumSize(300, 300)
        self.vb = pg.ViewBox(lockAspect=True, enableMenu=False)
        self.setCentralItem(self.vb)
        self.vb.setBackgroundColor((18, 20, 24))
        self.layer = PointLayer(self.vb)
        self._add_rings()
        self._box_items: list[pg.GraphicsObject] = []
        self._selected: Box3D | None = None
        self.roi = BoxROI(pg.mkPen((255, 255, 255), width=2))
        self.roi.setZValue(20)
        self.roi.hide()
        self.vb.addItem(self.roi)
        self.roi.sigRegionChangeFinished.connect(self._roi_finished)
        self.scene().sigMouseClicked.connect(self._scene_clicked)
        self.vb.setRange(xRange=(-30, 30), yRange=(-10, 50), padding=0)
        adopt_pyqtgraph_menus(self)      # the ROI handles' menus die with the view

    # ---- content --------------------------------------------------------------------------
    def _add_rings(self) -> None:
        t = np.linspace(0, 2 * np.pi, 181)
        pieces = []
        for r in np.arange(RING_STEP_M, RING_MAX_M + 1e-6, RING_STEP_M):
            pieces.append(np.c_[r * np.cos(t), r * np.sin(t)])
            pieces.append([[np.nan, np.nan]])
            label = pg.TextItem(f"{r:.0f} m", color=(120, 130, 140), anchor=(0, 1))
            label.setPos(r * 0.707, r * 0.707)
            label.setZValue(-5)
            self.vb.addItem(label)
        ring = np.vstack(pieces)
        self.rings = pg.PlotCurveItem(ring[:, 0], ring[:, 1], connect="finite",
                                      pen=pg.mkPen((70, 80, 90), width=1, style=QtCore.Qt.DashLine))
        self.rings.setZValue(-5)
        self.vb.addItem(self.rings)
        ego = pg.PlotCurveItem([-0.9, 0.0, 0.9, -0.9], [-2.0, 2.2, -2.0, -2.0],
                               pen=pg.mkPen((230, 230, 230), width=2))
        self.vb.addItem(ego)

    def set_points(self, points: np.ndarray, colors: np.ndarray) -> None:
        """Show ``points`` (N, >=3, LiDAR frame) with per-point RGBA ``colors`` (N, 4) uint8."""
        order = draw_order(points)
        self.layer.set_points(to_view(points[order, :2]), colors[order])

    def set_boxes(self, boxes: list[Box3D], colors: list[tuple[int, int, int]], selected: int | None,
                  proposals: list[Box3D] = (), proposal_color: tuple[int, int, int] = (255, 210, 0)) -> None:
        """Draw the frame's boxes (``colors`` per box) and the dashed proposals; the box at index
        ``selected`` gets the editing handles."""
        for item in self._box_items:
            self.vb.removeItem(item)
        self._box_items = []
        for i, (box, col) in enumerate(zip(boxes, colors)):
            width = 3 if i == selected else 2
            tid = "" if box.track_id is None else f" {box.track_id}"
            self._add_outline(box, pg.mkPen(col, width=width), f"{box.label}{tid}")
        for box in proposals:
            self._add_outline(box, pg.mkPen(proposal_color, width=2, style=QtCore.Qt.DashLine), "?")
        if selected is not None and 0 <= selected < len(boxes):
            self._selected = boxes[selected]
            self.roi.set_box(boxes[selected])
            self.roi.show()
        else:
            self._selected = None
            self.roi.hide()

    def _add_outline(self, box: Box3D, pen: QtGui.QPen, text: str) -> None:
        path = box_outline(box)
        curve = pg.PlotCurveItem(path[:, 0], path[:, 1], connect="finite", pen=pen)
        curve.setZValue(10)
        self.vb.addItem(curve)
        self._box_items.append(curve)
        label = pg.TextItem(text.strip(), color=pen.color(), anchor=(0.5, 1.2))
        top = to_view(np.asarray(box.center[:2]))
        label.setPos(float(top[0]), float(top[1]) + box.size[0] / 2)
        label.setZValue(11)
        self.vb.addItem(label)
        self._box_items.append(label)

    # ---- drawing ------------------------------------------------------------------------
    def redraw(self) -> None:
        """Re-rasterise the visible points (pan and zoom do this by themselves)."""
        self.layer.redraw()

    def center_on(self, x: float, y: float, span_m: float | None = None) -> None:
        """Centre the view on LiDAR (x, y), keeping the zoom unless ``span_m`` is given."""
        rect = self.vb.viewRect()
        half_w = (span_m or rect.width()) / 2
        half_h = (span_m or rect.height()) / 2
        u, v = -y, x
        self.vb.setRange(xRange=(u - half_w, u + half_w), yRange=(v - half_h, v + half_h), padding=0)

    def lidar_to_widget(self, x: float, y: float) -> QtCore.QPoint:
        """Widget pixel of LiDAR (x, y) (used by tests and scripts to click on objects)."""
        scene = self.vb.mapViewToScene(QtCore.QPointF(-y, x))
        return self.mapFromScene(scene)

    # ---- events -------------------------------------------------------------------------
    def _scene_clicked(self, ev) -> None:
        if ev.button() != QtCore.Qt.LeftButton or ev.double():
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        if not self.vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        x, y = from_view(p.x(), p.y())
        self.clicked.emit(x, y)

    def _roi_finished(self, _roi) -> None:
        if self._selected is None:
            return
        new = self.roi.to_box(self._selected)
        if new != self._selected:
            self.box_edited.emit(new)
