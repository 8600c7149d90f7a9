"""The main window: the views around the bird's-eye canvas, menus, shortcuts and status bar.

The window only draws what the :class:`~latte.app.controller.AppController` holds and forwards user
actions to it; all editing goes through the controller into the core annotation session.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt5 import QtCore, QtGui, QtWidgets

from latte.app import dialogs
from latte.app.bev_view import BEVView
from latte.app.camera_view import CameraView
from latte.app.controller import AppController
from latte.app.raster import point_colors
from latte.app.shortcuts import SHORTCUTS
from latte.app.side_views import SelectedBoxViews
from latte.app.view3d import make_view3d

COLOR_MODES = ("height", "intensity", "label")


class MainWindow(QtWidgets.QMainWindow):
    """LATTE annotation window."""

    def __init__(self, controller: AppController | None = None):
        super().__init__()
        self.ctrl = controller or AppController()
        self.color_mode = "height"
        self.last_draw_ms = 0.0
        self.progress_dialog: QtWidgets.QProgressDialog | None = None
        self.setWindowTitle("LATTE")
        self.resize(1600, 950)
        self._build_views()
        self._build_docks()
        self._build_menus()
        self._bind_shortcuts()
        self._connect()
        self.effort = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.effort)
        self.statusBar().showMessage("Open a sequence (Ctrl+O) or start with `latte --demo`.")
        self._tick = QtCore.QTimer(self)
        self._tick.timeout.connect(self._update_status)
        self._tick.start(1000)

    # ---- layout -----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.bev = BEVView(self)
        self.setCentralWidget(self.bev)
        self.camera = CameraView(self)
        self.box_views = SelectedBoxViews(self)
        self.view3d = make_view3d()

    def _dock(self, title: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        R, L, B = QtCore.Qt.RightDockWidgetArea, QtCore.Qt.LeftDockWidgetArea, QtCore.Qt.BottomDockWidgetArea
        self.camera.setMinimumHeight(200)
        self._dock("Camera", self.camera, R)
        self._dock("Selected box", self.box_views, R)
        if self.view3d is not None:
            self._dock("3D", self.view3d, R)
        # Left: class list and the frame's boxes.
        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QtWidgets.QLabel("Classes (keys 1-9)"))
        self.class_list = QtWidgets.QListWidget()
        for i, (name, color) in enumerate(zip(self.ctrl.class_names, self.ctrl.class_colors_list)):
            pix = QtGui.QPixmap(14, 14)
            pix.fill(QtGui.QColor(*color))
            key = f"{i + 1}  " if i < 9 else "   "
            self.class_list.addItem(QtWidgets.QListWidgetItem(QtGui.QIcon(pix), f"{key}{name}"))
        self.class_list.setCurrentRow(0)
        self.class_list.setMaximumHeight(22 * max(len(self.ctrl.class_names), 3) + 8)
        lay.addWidget(self.class_list)
        lay.addWidget(QtWidgets.QLabel("Boxes in this frame"))
        self.box_list = QtWidgets.QListWidget()
        lay.addWidget(self.box_list, 1)
        self.stats = QtWidgets.QLabel("")
        self.stats.setWordWrap(True)
        lay.addWidget(self.stats)
        left.setMinimumWidth(220)
        self._dock("Annotation", left, L)
        # Bottom: frame slider.
        bar = QtWidgets.QWidget()
        bl = QtWidgets.QHBoxLayout(bar)
        bl.setContentsMargins(6, 2, 6, 2)
        self.prev_btn = QtWidgets.QPushButton("◀ A")
        self.next_btn = QtWidgets.QPushButton("D ▶")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.slider.setMinimum(0)
        self.slider.setMaximum(0)
        self.frame_label = QtWidgets.QLabel("no sequence")
        self.frame_label.setMinimumWidth(260)
        for w in (self.prev_btn, self.slider, self.next_btn, self.frame_label):
            bl.addWidget(w, 1 if w is self.slider else 0)
        self._dock("Frames", bar, B)
        self.resizeDocks([self.findChild(QtWidgets.QDockWidget, "Camera")], [640], QtCore.Qt.Horizontal)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        f.addAction("&Open sequence…", lambda: self.run_shortcut("open"))
        f.addAction("&Import labels…", self.import_labels_dialog)
        self.export_menu = f.addMenu("&Export labels")
        for fmt in self.ctrl.export_formats():
            self.export_menu.addAction(fmt, lambda fmt=fmt: self.export_dialog(fmt))
        f.addAction("&Save now", lambda: self.run_shortcut("save"))
        f.addSeparator()
        f.addAction("&Quit", self.close)
        e = mb.addMenu("&Edit")
        e.addAction("&Undo", lambda: self.run_shortcut("undo"))
        e.addAction("&Redo", lambda: self.run_shortcut("redo"))
        e.addAction("&Delete box", lambda: self.run_shortcut("delete_box"))
        e.addAction("&Accept all proposals", lambda: self.run_shortcut("accept_proposals"))
        v = mb.addMenu("&View")
        for mode in COLOR_MODES:
            v.addAction(f"Colour by {mode}", lambda m=mode: self.set_color_mode(m))
        t = mb.addMenu("&Tools")
        t.addAction("&Pre-label with model (P: detector if camera, else SqueezeSeg)",
                    lambda: self.run_shortcut("prelabel"))
        t.addAction("Pre-label with the image &detector (SqueezeDet + fusion)",
                    lambda: self.ctrl.prelabel("detector"))
        t.addAction("Pre-label with the &SqueezeSeg model", lambda: self.ctrl.prelabel("segmentation"))
        h = mb.addMenu("&Help")
        h.addAction("&Keyboard shortcuts", lambda: self.run_shortcut("help"))

    def _bind_shortcuts(self) -> None:
        self.shortcut_objects: list[QtWidgets.QShortcut] = []
        for sc in SHORTCUTS:
            for key in sc.keys:
                obj = QtWidgets.QShortcut(QtGui.QKeySequence(key), self)
                # The main window's keys only: Enter or Esc typed in a dialog belongs to that
                # dialog (an application-wide Enter accepted proposals from the export dialog).
                obj.setContext(QtCore.Qt.WindowShortcut)
                obj.activated.connect(lambda a=sc.action, arg=sc.arg: self.run_shortcut(a, arg))
                self.shortcut_objects.append(obj)

    def _connect(self) -> None:
        c = self.ctrl
        c.frame_loaded.connect(self._on_frame_loaded)
        c.boxes_changed.connect(self._on_boxes_changed)
        c.message.connect(lambda level, title, text: dialogs.show_message(self, level, title, text))
        c.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        c.prelabel_started.connect(self._prelabel_started)
        c.prelabel_progress.connect(self._prelabel_progress)
        c.prelabel_finished.connect(self._prelabel_finished)
        self.bev.clicked.connect(c.click)
        self.bev.box_edited.connect(c.edit_selected)
        self.prev_btn.clicked.connect(c.prev_frame)
        self.next_btn.clicked.connect(c.next_frame)
        self.slider.valueChanged.connect(lambda i: c.go_to(i) if i != c.frame else None)
        self.class_list.currentRowChanged.connect(c.set_current_class)
        self.box_list.currentRowChanged.connect(self._box_list_clicked)

    # ---- actions ----------------------------------------------------------------------------
    def run_shortcut(self, action: str, arg=None) -> None:
        """Run the action bound to a shortcut (window actions here, editing in the controller)."""
        local = {
            "open": self.open_dialog, "help": self.show_help, "quit": self.close,
            "cycle_colors": self.cycle_colors, "focus_selected": self.focus_selected,
        }
        if action in local:
            local[action]()
            return
        method = getattr(self.ctrl, action)
        method() if arg is None else method(arg)
        if action == "set_class" and isinstance(arg, int) and arg < self.class_list.count():
            self.class_list.blockSignals(True)
            self.class_list.setCurrentRow(arg)
            self.class_list.blockSignals(False)

    def open_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a sequence folder")
        if path:
            self.ctrl.open(Path(path))

    def import_labels_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Import labels")
        if path:
            self.ctrl.import_labels(Path(path))

    def export_dialog(self, fmt: str) -> None:
        """A format of one file per frame (kitti, semantickitti) exports into a folder, others to one file."""
        from latte.core.label_io import label_format

        if not label_format(fmt).per_frame:
            suffix = label_format(fmt).suffix.lstrip(".")
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {fmt} labels",
                                                            f"labels.{suffix}", f"*.{suffix}")
        else:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, f"Export {fmt} labels to folder")
        if path:
            self.ctrl.export(fmt, Path(path))

    def show_help(self) -> None:
        self.help_dialog = dialogs.HelpDialog(self)
        self.help_dialog.show()

    # ---- pre-label progress -----------------------------------------------------------------
    def _prelabel_started(self, source: str) -> None:
        """A window-modal progress dialog while the model worker runs; Cancel kills the worker."""
        self._prelabel_finished(False)
        model = "SqueezeDet" if source == "detector" else "SqueezeSeg"
        dlg = QtWidgets.QProgressDialog(f"Pre-labelling with {model}…", "Cancel", 0, 100, self)
        dlg.setWindowTitle("Pre-label")
        dlg.setWindowModality(QtCore.Qt.WindowModal)
        dlg.setMinimumDuration(0)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.setMinimumWidth(420)
        dlg.canceled.connect(self.ctrl.cancel_prelabel)
        dlg.setValue(0)
        dlg.show()
        self.progress_dialog = dlg

    def _prelabel_progress(self, percent: int, text: str) -> None:
        dlg = getattr(self, "progress_dialog", None)
        if dlg is not None:
            dlg.setLabelText(text)
            dlg.setValue(max(0, min(percent, 99)))   # 100 only when the proposals are shown

    def _prelabel_finished(self, _ok: bool) -> None:
        dlg = getattr(self, "progress_dialog", None)
        self.progress_dialog = None
        if dlg is not None:
            dlg.canceled.disconnect(self.ctrl.cancel_prelabel)
            dlg.close()
            dlg.deleteLater()

    def set_color_mode(self, mode: str) -> None:
        self.color_mode = mode
        self._draw_points()

    def cycle_colors(self) -> None:
        self.set_color_mode(COLOR_MODES[(COLOR_MODES.index(self.color_mode) + 1) % len(COLOR_MODES)])

    def focus_selected(self) -> None:
        box = self.ctrl.selected_box()
        if box is not None:
            self.bev.center_on(box.center[0], box.center[1], span_m=max(box.size[0] * 4, 12.0))

    def _box_list_clicked(self, row: int) -> None:
        if row >= 0 and row != self.ctrl.selected:
            self.ctrl.select(row)

    # ---- redraw -----------------------------------------------------------------------------
    def _draw_points(self) -> None:
        pts = self.ctrl.points
        if pts is None:
            return
        colors = point_colors(pts, self.color_mode, self.ctrl.point_labels, self.ctrl.label_palette())
        self.bev.set_points(pts, colors)
        if self.view3d is not None:
            self.view3d.set_points(pts, colors)

    def _on_frame_loaded(self) -> None:
        t0 = time.perf_counter()
        c = self.ctrl
        self._draw_points()
        if c.points is not None:
            self.camera.set_frame(c.image, c.calib, c.points)
        self._on_boxes_changed()
        n = len(c.sequence) if c.sequence is not None else 0
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(n - 1, 0))
        self.slider.setValue(c.frame)
        self.slider.blockSignals(False)
        npts = 0 if c.points is None else len(c.points)
        fid = c.frame_id()
        self.frame_label.setText(f"frame {c.frame + 1}/{n}  ({fid})  {npts:,} points")
        self.setWindowTitle(f"LATTE — {c.sequence.name if c.sequence else ''}  [{fid}]")
        self.last_draw_ms = (time.perf_counter() - t0) * 1000
        self._update_status()

    def _on_boxes_changed(self) -> None:
        c = self.ctrl
        boxes = c.boxes()
        colors = [c.class_color(b.label) for b in boxes]
        sel = c.selected
        self.bev.set_boxes(boxes, colors, sel, c.proposals)
        self.camera.set_boxes(boxes + list(c.proposals), colors + [(255, 210, 0)] * len(c.proposals), sel)
        if self.view3d is not None:
            self.view3d.set_boxes(boxes, colors, sel)
        box = c.selected_box()
        self.box_views.show_box(c.points, box, c.image, c.calib)
        self.box_list.blockSignals(True)
        self.box_list.clear()
        for i, b in enumerate(boxes):
            tid = "" if b.track_id is None else f"  #{b.track_id}"
            self.box_list.addItem(f"{i + 1:2d}  {b.label}{tid}  ({b.center[0]:.1f}, {b.center[1]:.1f})")
        for b in c.proposals:
            self.box_list.addItem(f" ?  {b.label} proposal  ({b.center[0]:.1f}, {b.center[1]:.1f})")
        if sel is not None:
            self.box_list.setCurrentRow(sel)
        self.box_list.blockSignals(False)
        self._update_status()

    def _update_status(self) -> None:
        """Effort figures (time and operations per instance) in the panel and the status bar."""
        text = self.ctrl.stats_text()
        self.stats.setText(text)
        self.effort.setText("  |  ".join(text.splitlines()[:2]))

    # ---- lifecycle --------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.ctrl.shutdown()
        super().closeEvent(event)

    def save_screenshot(self, path: str | Path) -> None:
        """Render the window into a PNG (written atomically)."""
        from squeezeseg.atomic import atomic_path

        with atomic_path(path) as tmp:
            if not self.grab().save(str(tmp), "PNG"):
                raise OSError(f"cannot write {path}")
