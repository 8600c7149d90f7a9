"""The colour legend of the point views: which colour mode is on and what its colours mean (a colour
bar with its range for height and intensity, the class swatches for pre-labels)."""

from __future__ import annotations

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

from latte.app.raster import UNLABELLED_RGBA, lut

BAR_W, BAR_H = 160, 12


def _swatch(rgb, w: int = 12, h: int = 12) -> QtGui.QPixmap:
    pix = QtGui.QPixmap(w, h)
    pix.fill(QtGui.QColor(*rgb[:3]))
    return pix


def _bar(cmap: str) -> QtGui.QPixmap:
    """A horizontal colour bar of ``cmap`` (low values left)."""
    table = lut(cmap)[np.linspace(0, 255, BAR_W).astype(int)]
    rgba = np.ascontiguousarray(np.repeat(table[None], BAR_H, axis=0))
    img = QtGui.QImage(rgba.data, BAR_W, BAR_H, BAR_W * 4, QtGui.QImage.Format_RGBA8888)
    return QtGui.QPixmap.fromImage(img.copy())


class ColorLegend(QtWidgets.QWidget):
    """"Colour: height  -2.5 [bar] 1.5 m" or "Colour: labels  [Car] [Van] ... [none]" (per-point
    labels: the model's pre-labels or the dataset's own)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lay = QtWidgets.QHBoxLayout(self)
        self.lay.setContentsMargins(6, 0, 6, 0)
        self.lay.setSpacing(4)
        self.text = ""          # what the legend says, in words (tests, tooltips)

    def _clear(self) -> None:
        while self.lay.count():
            w = self.lay.takeAt(0).widget()
            if w is not None:
                w.setParent(None)

    def _label(self, text: str = "", pixmap: QtGui.QPixmap | None = None) -> QtWidgets.QLabel:
        lab = QtWidgets.QLabel(text)
        if pixmap is not None:
            lab.setPixmap(pixmap)
        self.lay.addWidget(lab)
        return lab

    def show_scale(self, scale: dict, classes: list[tuple[str, tuple[int, int, int]]]) -> None:
        """Show ``scale`` (from :func:`latte.app.raster.color_scale`); ``classes`` = (name, colour)
        of the pre-label ids, for the label mode."""
        self._clear()
        mode = scale["mode"]
        title = {"label": "labels"}.get(mode, mode)
        self._label(f"<b>Colour: {title}</b>  (C)")
        if mode == "label":
            parts = []
            for name, rgb in classes:
                self._label(pixmap=_swatch(rgb))
                self._label(name)
                parts.append(name)
            self._label(pixmap=_swatch(UNLABELLED_RGBA))
            self._label("none")
            self.text = f"labels: {', '.join(parts)}, none"
        else:
            lo, hi = scale["range"]
            unit = f" {scale['unit']}" if scale["unit"] else ""
            self._label(f"{lo:g}")
            self._label(pixmap=_bar(scale["cmap"]))
            self._label(f"{hi:g}{unit}")
            self.text = f"{mode}: {lo:g} to {hi:g}{unit} ({scale['cmap']})"
        self.setToolTip(self.text)
        self.lay.addStretch(1)
        self.updateGeometry()

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt override
        return super().sizeHint().expandedTo(QtCore.QSize(300, 20))
