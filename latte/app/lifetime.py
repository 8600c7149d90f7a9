"""Qt object lifetime: every Qt object of a window is destroyed by Qt, with the window, in the GUI
thread; none is left for Python's garbage collector.

Why: a parentless Qt object that Python owns and that sits in a reference cycle (pyqtgraph's
context menus, a controller whose signals call lambdas holding the window) is destroyed whenever
Python's cyclic garbage collector next runs, and that runs in whichever thread happens to allocate:
the tracker's import warm-up thread (:func:`latte.app.controller.warm_up_tracking`), the pre-label
sender thread, or the GUI thread in the middle of another object's event. A QWidget destroyed from a
non-GUI thread, or while Qt is delivering an event to it, aborts the process ("pure virtual method
called") or crashes in painting. Giving each such object a Qt parent makes its destruction part of
the window's, at a point Qt chooses.
"""

from __future__ import annotations

from PyQt5 import QtCore, QtWidgets


def adopt_pyqtgraph_menus(view: QtWidgets.QGraphicsView) -> int:
    """Parent the context menus pyqtgraph creates without a parent (each ViewBox's "ViewBox
    options" menu and its widget groups, each ROI handle's menu) to ``view``; returns how many
    menus were adopted. Call after the view's items are made (handles added later need another
    call)."""
    adopted = 0
    scene = view.scene()
    if scene is None:
        return 0
    for item in scene.items():
        menu = getattr(item, "menu", None)
        if not isinstance(menu, QtWidgets.QMenu):
            continue
        if menu.parent() is None:
            menu.setParent(view, menu.windowFlags())   # keeps it a popup
            adopted += 1
        for group in getattr(menu, "widgetGroups", ()):
            if isinstance(group, QtCore.QObject) and group.parent() is None:
                group.setParent(menu)
    return adopted


def adopt_orphans(window: QtWidgets.QWidget) -> int:
    """Adopt the parentless pyqtgraph menus of every graphics view inside ``window``."""
    return sum(adopt_pyqtgraph_menus(v) for v in window.findChildren(QtWidgets.QGraphicsView))


def destroy_now(widget: QtWidgets.QWidget) -> None:
    """Close ``widget`` and destroy its C++ object (and children) now, in this thread: for a window
    whose event loop has ended, so that nothing of it waits for Python's garbage collector. Must not
    be called from one of the widget's own event handlers."""
    from PyQt5 import sip

    if sip.isdeleted(widget):
        return
    widget.close()
    sip.delete(widget)
