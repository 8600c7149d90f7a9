"""Optional 3D perspective view (pyqtgraph.opengl). The app runs without it: offscreen platforms and
machines without PyOpenGL get ``None`` from :func:`make_view3d` and no 3D dock."""

from __future__ import annotations

import os

import numpy as np

from latte.app.camera_view import BOX_EDGES
from squeezeseg.boxes import Box3D

MAX_3D_POINTS = 150_000


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


def _build_view3d():
    import pyqtgraph.opengl as gl

    class View3D(gl.GLViewWidget):
        """Points coloured like the BEV, boxes as line sets."""

        def __init__(self):
            super().__init__()
            self.setCameraPosition(distance=40, elevation=25, azimuth=180)
            self.scatter = gl.GLScatterPlotItem(size=1.5, pxMode=True)
            self.addItem(self.scatter)
            self.lines = gl.GLLinePlotItem(mode="lines", width=2)
            self.addItem(self.lines)

        def set_points(self, points: np.ndarray, colors: np.ndarray) -> None:
            step = max(1, len(points) // MAX_3D_POINTS)   # drawing only
            self.scatter.setData(pos=points[::step, :3], color=colors[::step].astype(np.float32) / 255.0)

        def set_boxes(self, boxes: list[Box3D], colors: list[tuple[int, int, int]], selected=None) -> None:
            if not boxes:
                self.lines.setData(pos=np.zeros((0, 3)))
                return
            pos = np.vstack([b.corners()[BOX_EDGES.ravel()] for b in boxes])
            col = np.repeat(np.asarray(colors, np.float32) / 255.0, 24, axis=0)
            self.lines.setData(pos=pos, color=np.c_[col, np.ones(len(col))])

    return View3D()
