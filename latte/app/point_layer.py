"""A pyqtgraph image layer that draws many 2D points by rasterising them at the view's pixel size.

Re-rasterised whenever the view pans, zooms or resizes; the cost grows with the number of points,
not with the zoom, and stays far below per-symbol scatter drawing (see scripts/bench_app.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore

from latte.app.raster import rasterize


class PointLayer:
    """Points (view coordinates) with RGBA colours, painted into an ImageItem of ``viewbox``."""

    def __init__(self, viewbox: pg.ViewBox, z: float = -10, min_px: int = 1):
        self.vb = viewbox
        self.min_px = min_px
        self.extra_px = 0            # the user's point size setting, added to the automatic size
        self._held = False
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(z)
        # The image always covers exactly the visible rect: it must not take part in auto-ranging,
        # or every redraw would grow the view by the padding.
        self.vb.disableAutoRange()
        self.vb.addItem(self.image, ignoreBounds=True)
        self.uv = np.zeros((0, 2), np.float32)
        self.colors = np.zeros((0, 4), np.uint8)
        self.vb.sigRangeChanged.connect(self.redraw)
        self.vb.sigResized.connect(self.redraw)

    def set_points(self, uv: np.ndarray, colors: np.ndarray) -> None:
        """Show points ``uv`` (N, 2) in draw order (later ones on top) with ``colors`` (N, 4) uint8."""
        self.uv = np.ascontiguousarray(uv, dtype=np.float32)
        self.colors = np.ascontiguousarray(colors, dtype=np.uint8)
        self.redraw()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Paint once, on leaving, however many changes (points, view range) happen inside."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            self.redraw()

    def set_extra_px(self, extra: int) -> None:
        """Paint every point ``extra`` pixels larger than the zoom level asks for (point size control)."""
        self.extra_px = max(int(extra), 0)
        self.redraw()

    def redraw(self, *_args) -> None:
        """Paint the points visible in the view at its current pixel resolution."""
        if self._held:
            return
        rect = self.vb.viewRect()
        cols = max(int(self.vb.width()), 1)
        rows = max(int(self.vb.height()), 1)
        px_per_unit = cols / max(rect.width(), 1e-9)
        # Zoomed in far enough that points would be isolated dots: paint them larger.
        point_px = max(self.min_px, 1 if px_per_unit < 12 else 2 if px_per_unit < 30 else 3) + self.extra_px
        img = rasterize(self.uv, self.colors, (rect.left(), rect.top(), rect.width(), rect.height()),
                        (rows, cols), point_px=point_px)
        self.image.setImage(img, autoLevels=False, levels=None)
        self.image.setRect(QtCore.QRectF(rect))
