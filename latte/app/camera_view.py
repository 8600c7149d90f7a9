"""The camera view: the frame's image with the LiDAR points painted in by depth, and the boxes' edges.

Points are painted into the image array (one vectorised pass, nearest point on top) instead of being
drawn as scatter symbols, which keeps a full frame well under the redraw budget.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore

from latte.app.raster import rasterize, scalar_colors
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib

# The 12 edges of Box3D.corners(): bottom ring, top ring, verticals.
BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                      [0, 4], [1, 5], [2, 6], [3, 7]])
MAX_DEPTH_M = 60.0


def project_to_image(points: np.ndarray, calib: KittiCalib, size: tuple[int, int]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uv (M, 2), depth (M,), index (M,)) of the points that land inside an image of ``size`` (w, h)."""
    uv, depth = calib.velo_to_image(points[:, :3])
    w, h = size
    ok = (depth > 0.5) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    idx = np.flatnonzero(ok)
    return uv[idx], depth[idx], idx


def overlay_points(image: np.ndarray, uv: np.ndarray, depth: np.ndarray, point_px: int = 2) -> np.ndarray:
    """A copy of ``image`` (H, W, 3|4) with the points painted in, coloured by depth, near ones on top."""
    h, w = image.shape[:2]
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = image[..., :3]
    rgba[..., 3] = 255
    # Far points first so near ones end on top; depth quantised to cm for a linear radix sort.
    key = np.clip((MAX_DEPTH_M * 4 - depth) * 100.0, 0, 65535).astype(np.uint16)
    order = np.argsort(key, kind="stable")
    colors = scalar_colors(depth[order], 0.0, MAX_DEPTH_M, "turbo")
    layer = rasterize(uv[order], colors, (0.0, 0.0, float(w), float(h)), (h, w), point_px=point_px)
    painted = layer[..., 3] > 0
    rgba[painted] = layer[painted]
    return rgba


def box_image_segments(box: Box3D, calib: KittiCalib) -> np.ndarray | None:
    """(24, 2) image points, pairs of edge ends, or None when part of the box is behind the camera."""
    uv, depth = calib.velo_to_image(box.corners())
    if np.any(depth <= 0.1):
        return None
    return uv[BOX_EDGES.ravel()]


class CameraView(pg.GraphicsLayoutWidget):
    """Image with projected points and box edges; shows a note when the sequence has no camera."""

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        self.setBackground((18, 20, 24))
        self.vb = self.addViewBox(enableMenu=False)   # no context menu (none made, none left to gc)
        self.vb.setAspectLocked(True)
        self.vb.invertY(True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image_item)
        self.note = pg.TextItem("no camera image", color=(160, 160, 160), anchor=(0.5, 0.5))
        self.vb.addItem(self.note)
        self._box_items: list[pg.PlotCurveItem] = []
        self.image: np.ndarray | None = None
        self.calib: KittiCalib | None = None

    def set_frame(self, image: np.ndarray | None, calib: KittiCalib | None, points: np.ndarray) -> None:
        """Show ``image`` with ``points`` projected through ``calib`` (either may be None: no camera)."""
        self.image, self.calib = image, calib
        if image is None or calib is None:
            self.image_item.clear()
            self.note.setVisible(True)
            self.note.setPos(0, 0)
            self.vb.setRange(xRange=(-1, 1), yRange=(-1, 1))
            return
        self.note.setVisible(False)
        h, w = image.shape[:2]
        uv, depth, _ = project_to_image(points, calib, (w, h))
        self.image_item.setImage(overlay_points(image, uv, depth), autoLevels=False, levels=None)
        self.image_item.setRect(QtCore.QRectF(0, 0, w, h))
        self.vb.setRange(xRange=(0, w), yRange=(0, h), padding=0)

    def set_boxes(self, boxes: list[Box3D], colors: list[tuple[int, int, int]], selected: int | None) -> None:
        """Draw the boxes' 3D edges in the image."""
        for item in self._box_items:
            self.vb.removeItem(item)
        self._box_items = []
        if self.image is None or self.calib is None:
            return
        for i, (box, col) in enumerate(zip(boxes, colors)):
            seg = box_image_segments(box, self.calib)
            if seg is None:
                continue
            item = pg.PlotCurveItem(seg[:, 0], seg[:, 1], connect="pairs",
                                    pen=pg.mkPen(col, width=3 if i == selected else 1.5))
            self.vb.addItem(item)
            self._box_items.append(item)
