"""Messages and dialogs. Errors never block the app: they open non-modal boxes, and tests or scripts
can replace :data:`message_hook` to record messages instead of showing them."""

from __future__ import annotations

from collections.abc import Callable

from PyQt5 import QtCore, QtWidgets

from latte.app.shortcuts import SHORTCUTS

# (level, title, text) -> None. When set, replaces every dialog (tests, --screenshot runs).
message_hook: Callable[[str, str, str], None] | None = None
_open_boxes: list[QtWidgets.QMessageBox] = []


def show_message(parent: QtWidgets.QWidget | None, level: str, title: str, text: str) -> None:
    """Tell the user something ("error", "warning" or "info") without blocking the event loop."""
    if message_hook is not None:
        message_hook(level, title, text)
        return
    icon = {"error": QtWidgets.QMessageBox.Critical, "warning": QtWidgets.QMessageBox.Warning}.get(
        level, QtWidgets.QMessageBox.Information)
    box = QtWidgets.QMessageBox(icon, title, text, QtWidgets.QMessageBox.Ok, parent)
    box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
    box.setWindowModality(QtCore.Qt.NonModal)
    _open_boxes.append(box)
    box.finished.connect(lambda _r, b=box: _open_boxes.remove(b) if b in _open_boxes else None)
    box.show()


def show_error(parent: QtWidgets.QWidget | None, title: str, text: str) -> None:
    """An error the user must see (unreadable file, read-only folder); the app keeps running."""
    show_message(parent, "error", title, text)


class HelpDialog(QtWidgets.QDialog):
    """Table of every keyboard shortcut, generated from :data:`latte.app.shortcuts.SHORTCUTS`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("LATTE keyboard shortcuts")
        lay = QtWidgets.QVBoxLayout(self)
        table = QtWidgets.QTableWidget(len(SHORTCUTS), 2, self)
        table.setHorizontalHeaderLabels(["keys", "action"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        for row, sc in enumerate(SHORTCUTS):
            table.setItem(row, 0, QtWidgets.QTableWidgetItem(", ".join(sc.keys)))
            table.setItem(row, 1, QtWidgets.QTableWidgetItem(sc.text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(table)
        self.table = table
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        lay.addWidget(close)
        self.resize(520, 560)
