"""Views of the selected box: side (length x height), rear (width x height), and the camera crop used
to confirm its class. The side and rear views are editable: drag the rectangle to move the box in
that projection, its edge and corner handles to move faces (resize); one drag is one undoable edit."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from latte.app.box_edit import set_extent
from latte.app.lifetime import adopt_pyqtgraph_menus
from latte.app.point_layer import PointLayer
from latte.app.raster import scalar_colors
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib

MARGIN_M = 1.0
HANDLE_PX = 10     # handle size of the editable rectangles (pyqtgraph's default 5 is hard to hit)


def box_neighbourhood(points: np.ndarray, box: Box3D,
                      margin: float = MARGIN_M) -> tuple[np.ndarray, np.ndarray]:
    """(local (M, 3) coordinates in the box frame, inside (M,) bool) of the points near ``box``."""
    r = np.hypot(*box.size[:2]) / 2 + margin
    dx = np.abs(points[:, 0] - box.center[0])
    dy = np.abs(points[:, 1] - box.center[1])
    near = np.flatnonzero((dx <= r) & (dy <= r))
    local = box.to_local(points[near])
    half = np.asarray(box.size) / 2
    keep = np.all(np.abs(local) <= half + margin, axis=1)
    local = local[keep]
    inside = np.all(np.abs(local) <= half, axis=1)
    return local, inside


def crop_image(image: np.ndarray, box: Box3D, calib: KittiCalib, pad_px: int = 8) -> np.ndarray | None:
    """The part of the camera image that ``box`` projects into (None when not visible)."""
    h, w = image.shape[:2]
    ib = box.image_box(calib, (w, h))
    if ib is None:
        return None
    l, t, r, b = (int(v) for v in (ib[0] - pad_px, ib[1] - pad_px, ib[2] + pad_px, ib[3] + pad_px))
    l, t, r, b = max(l, 0), max(t, 0), min(r, w), min(b, h)
    if r - l < 2 or b - t < 2:
        return None
    return image[t:b, l:r]


class ExtentROI(pg.ROI):
    """The box's rectangle in one projection: drag to move, edge and corner handles to resize."""

    def __init__(self):
        super().__init__([0, 0], [1, 1], pen=pg.mkPen((255, 255, 255), width=2), movable=True,
                         rotatable=False, resizable=True, hoverPen=pg.mkPen((255, 230, 0), width=3),
                         handlePen=pg.mkPen((255, 255, 255), width=2),
                         handleHoverPen=pg.mkPen((255, 230, 0), width=3))
        self.handleSize = HANDLE_PX
        for pos, anchor in (([1, 0.5], [0, 0.5]), ([0, 0.5], [1, 0.5]), ([0.5, 1], [0.5, 0]),
                            ([0.5, 0], [0.5, 1]), ([1, 1], [0, 0]), ([0, 0], [1, 1]), ([1, 0], [0, 1]),
                            ([0, 1], [1, 0])):
            self.addScaleHandle(pos, anchor)

    def set_extent(self, lo: tuple[float, float], hi: tuple[float, float]) -> None:
        """Show the rectangle [lo, hi] (view coordinates) without emitting change signals."""
        self.blockSignals(True)
        try:
            self.setPos(lo, update=False)
            self.setSize((hi[0] - lo[0], hi[1] - lo[1]))
        finally:
            self.blockSignals(False)

    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((lo_a, lo_b), (hi_a, hi_b)) of the rectangle now."""
        pos, size = self.pos(), self.size()
        return (pos.x(), pos.y()), (pos.x() + size.x(), pos.y() + size.y())


class _Ortho(pg.GraphicsLayoutWidget):
    """One orthographic projection of the box neighbourhood (axes a, b of the box frame), with a
    1 m grid for scale. Emits ``box_edited(Box3D)`` when a drag of the rectangle or a handle ends."""

    box_edited = QtCore.pyqtSignal(object)

    def __init__(self, title: str, axes: tuple[int, int]):
        super().__init__()
        self.setBackground((18, 20, 24))
        self.axes = axes
        self.addLabel(title, color=(200, 200, 200), size="9pt")
        self.nextRow()
        self.vb = self.addViewBox(lockAspect=True, enableMenu=False)
        grid = pg.GridItem(pen=pg.mkPen((60, 66, 74)), textPen=None)
        grid.setTickSpacing(x=[1.0], y=[1.0])
        self.vb.addItem(grid)
        self.layer = PointLayer(self.vb, min_px=2)
        self.roi = ExtentROI()
        self.roi.setZValue(20)
        self.roi.hide()
        self.vb.addItem(self.roi)
        self.roi.sigRegionChangeFinished.connect(self._roi_finished)
        self.box: Box3D | None = None
        adopt_pyqtgraph_menus(self)      # the ROI handles' menus die with the view

    def show_box(self, local: np.ndarray, inside: np.ndarray, box: Box3D | None) -> None:
        self.box = box
        if box is None:
            self.layer.set_points(np.zeros((0, 2)), np.zeros((0, 4), np.uint8))
            self.roi.hide()
            return
        a, b = self.axes
        colors = scalar_colors(local[:, 2], -box.size[2] / 2, box.size[2] / 2, "turbo")
        colors[~inside] = (colors[~inside] * 0.4).astype(np.uint8)   # outside the box: dimmed
        colors[:, 3] = 255
        order = np.argsort(inside, kind="stable")                    # points inside on top
        ha, hb = box.size[a] / 2, box.size[b] / 2
        with self.layer.hold():                                      # one rasterisation, not two
            self.layer.set_points(local[order][:, [a, b]], colors[order])
            self.vb.setRange(xRange=(-ha - MARGIN_M, ha + MARGIN_M), yRange=(-hb - MARGIN_M, hb + MARGIN_M),
                             padding=0)
        self.roi.set_extent((-ha, -hb), (ha, hb))
        self.roi.show()

    def edited_box(self) -> Box3D | None:
        """The box as the rectangle shows it now (None without a box)."""
        if self.box is None:
            return None
        (lo_a, lo_b), (hi_a, hi_b) = self.roi.extent()
        a, b = self.axes
        return set_extent(set_extent(self.box, a, lo_a, hi_a), b, lo_b, hi_b)

    def _roi_finished(self, _roi=None) -> None:
        new = self.edited_box()
        if new is not None and not (np.allclose(new.center, self.box.center, atol=1e-4)
                                    and np.allclose(new.size, self.box.size, atol=1e-4)):
            self.box_edited.emit(new)


class SelectedBoxViews(QtWidgets.QWidget):
    """Side view, rear view and camera crop of the selected box, side by side (``horizontal``) or
    stacked. Emits ``box_edited(Box3D)`` when the box is edited in the side or rear view."""

    box_edited = QtCore.pyqtSignal(object)

    def __init__(self, parent=None, horizontal: bool = True):
        super().__init__(parent)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        row = QtWidgets.QWidget()
        outer.addWidget(row, 1)
        lay = QtWidgets.QHBoxLayout(row) if horizontal else QtWidgets.QVBoxLayout(row)
        lay.setContentsMargins(2, 2, 2, 2)
        self.side = _Ortho("side (length x height): drag to move, handles resize", (0, 2))
        self.rear = _Ortho("rear (width x height): drag to move, handles resize", (1, 2))
        self.crop = pg.GraphicsLayoutWidget()
        self.crop.setBackground((18, 20, 24))
        self.crop_vb = self.crop.addViewBox()
        self.crop_vb.setAspectLocked(True)
        self.crop_vb.invertY(True)
        self.crop_item = pg.ImageItem(axisOrder="row-major")
        self.crop_vb.addItem(self.crop_item)
        adopt_pyqtgraph_menus(self.crop)
        self.info = QtWidgets.QLabel("no box selected")
        for w in (self.side, self.rear, self.crop):
            w.setMinimumHeight(90)
            lay.addWidget(w, 1)
        outer.addWidget(self.info)
        self.side.box_edited.connect(self.box_edited)
        self.rear.box_edited.connect(self.box_edited)

    def show_box(self, points: np.ndarray | None, box: Box3D | None, image: np.ndarray | None = None,
                 calib: KittiCalib | None = None) -> None:
        """Show the neighbourhood of ``box`` in ``points`` (None clears the views)."""
        if box is None or points is None:
            self.side.show_box(np.zeros((0, 3)), np.zeros(0, bool), None)
            self.rear.show_box(np.zeros((0, 3)), np.zeros(0, bool), None)
            self.crop_item.clear()
            self.info.setText("no box selected")
            return
        local, inside = box_neighbourhood(points, box)
        self.side.show_box(local, inside, box)
        self.rear.show_box(local, inside, box)
        crop = None if image is None or calib is None else crop_image(image, box, calib)
        if crop is None:
            self.crop_item.clear()
        else:
            self.crop_item.setImage(crop, autoLevels=False, levels=None)
            self.crop_vb.autoRange(padding=0)
        l, w, h = box.size
        tid = "" if box.track_id is None else f"  track {box.track_id}"
        self.info.setText(f"{box.label}{tid}  l={l:.2f} w={w:.2f} h={h:.2f} m  "
                          f"yaw={np.degrees(box.yaw):.0f}°  {int(inside.sum())} pts")
