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
from latte.app.legend import ColorLegend
from latte.app.lifetime import adopt_orphans
from latte.app.raster import color_scale, point_colors
from latte.app.shortcuts import SHORTCUTS, hint
from latte.app.side_views import SelectedBoxViews
from latte.app.view3d import make_view3d

COLOR_MODES = ("height", "intensity", "label")
POINT_LEVELS = (1, 6)   # point size control: 1 = the automatic size, each level one pixel more


class MainWindow(QtWidgets.QMainWindow):
    """LATTE annotation window."""

    def __init__(self, controller: AppController | None = None):
        super().__init__()
        self.ctrl = controller or AppController()
        if self.ctrl.parent() is None:   # dies with the window, never by Python's gc (latte.app.lifetime)
            self.ctrl.setParent(self)
        self.color_mode = "height"
        self.point_level = 1
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self.last_draw_ms = 0.0
        self.progress_dialog: QtWidgets.QProgressDialog | None = None
        self.setWindowTitle("LATTE")
        self.resize(1600, 950)
        self._build_views()
        self._build_docks()
        self._build_toolbar()
        self._build_menus()
        self._bind_shortcuts()
        self._connect()
        self.effort = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.effort)
        self.statusBar().showMessage("Open a sequence (Ctrl+O) or start with `latte --demo`.")
        self._tick = QtCore.QTimer(self)
        self._tick.timeout.connect(self._update_status)
        self._tick.start(1000)
        adopt_orphans(self)

    # ---- layout -----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.bev = BEVView(self)
        self.setCentralWidget(self.bev)
        self.camera = CameraView(self)
        self.box_views = SelectedBoxViews(self, horizontal=True)
        self.view3d = make_view3d()

    def _dock(self, title: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetClosable)   # View menu brings it back
        self.addDockWidget(area, dock)
        self.docks[title] = dock
        return dock

    def _build_docks(self) -> None:
        R, L, B = QtCore.Qt.RightDockWidgetArea, QtCore.Qt.LeftDockWidgetArea, QtCore.Qt.BottomDockWidgetArea
        # Right: the camera above the 3D view (shown by default, where OpenGL is available).
        self.camera.setMinimumHeight(120)
        self._dock("Camera", self.camera, R)
        if self.view3d is not None:
            self.view3d.setMinimumHeight(180)
            self._dock("3D", self.view3d, R)
        # Left: class list and the frame's boxes.
        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QtWidgets.QLabel("Class (keys 1-9; follows the selected box)"))
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
        # Bottom: side, rear and camera crop of the selected box (editable), then the frame slider.
        self.box_views.setMinimumHeight(130)
        self._dock("Selected box", self.box_views, B)
        self._dock("Frames", bar, B)
        self.splitDockWidget(self.docks["Selected box"], self.docks["Frames"], QtCore.Qt.Vertical)
        self.resizeDocks([self.docks["Camera"]], [640], QtCore.Qt.Horizontal)
        if self.view3d is not None:
            self.resizeDocks([self.docks["Camera"], self.docks["3D"]], [260, 520], QtCore.Qt.Vertical)
        self.resizeDocks([self.docks["Selected box"]], [210], QtCore.Qt.Vertical)

    def _build_toolbar(self) -> None:
        """Colour mode, point size and the colour legend, always in sight above the views."""
        bar = self.view_bar = self.addToolBar("View settings")
        bar.setObjectName("View settings")
        bar.setMovable(False)
        bar.addWidget(QtWidgets.QLabel(" Colour by "))
        self.color_combo = QtWidgets.QComboBox()
        self.color_combo.addItems(["height", "intensity", "labels"])
        self.color_combo.setToolTip(f"colour mode ({hint('cycle_colors')} cycles)")
        self.color_combo.activated.connect(lambda i: self.set_color_mode(COLOR_MODES[i]))
        self.color_combo.setFocusPolicy(QtCore.Qt.NoFocus)   # the window's keys keep working after a pick
        bar.addWidget(self.color_combo)
        bar.addWidget(QtWidgets.QLabel("  Point size "))
        self.point_spin = QtWidgets.QSpinBox()
        self.point_spin.setRange(*POINT_LEVELS)
        self.point_spin.setValue(self.point_level)
        self.point_spin.setToolTip(f"point size in every view ({hint('point_size', 1)} / "
                                   f"{hint('point_size', -1)})")
        self.point_spin.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.point_spin.valueChanged.connect(self.set_point_level)
        bar.addWidget(self.point_spin)
        bar.addSeparator()
        self.legend = ColorLegend(self)
        bar.addWidget(self.legend)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._menu_action(f, "&Open sequence…", "open")
        f.addAction("Open one scan &file…", self.open_file_dialog)
        f.addAction("&Import labels…", self.import_labels_dialog)
        self.export_menu = f.addMenu("&Export labels")
        for fmt in self.ctrl.export_formats():
            self.export_menu.addAction(fmt, lambda fmt=fmt: self.export_dialog(fmt))
        self._menu_action(f, "&Save now", "save")
        f.addSeparator()
        self._menu_action(f, "&Quit", "quit")
        e = mb.addMenu("&Edit")
        self._menu_action(e, "&Undo", "undo")
        self._menu_action(e, "&Redo", "redo")
        e.addSeparator()
        self._menu_action(e, "Re&fit box to its points (one-click)", "refit")
        self._menu_action(e, "&Delete box", "delete_box")
        self._menu_action(e, "Turn box &around", "flip")
        size = e.addMenu("Re&size box")
        for sc in SHORTCUTS:
            if sc.action in ("resize", "lift"):
                self._menu_action(size, sc.text[0].upper() + sc.text[1:], sc.action, sc.arg)
        e.addSeparator()
        self._menu_action(e, "&Accept all proposals", "accept_proposals")
        self._menu_action(e, "Accept the &first proposal", "accept_selected")
        self._menu_action(e, "&Next box", "next_box")
        self._menu_action(e, "&Previous box", "prev_box")
        self._menu_action(e, "&Clear selection", "deselect")
        v = mb.addMenu("&View")
        for mode in COLOR_MODES:
            name = "per-point labels" if mode == "label" else mode
            self._menu_action(v, f"Colour by {name}", "set_color_mode", mode, key=hint("cycle_colors"))
        self._menu_action(v, "&Larger points", "point_size", 1)
        self._menu_action(v, "&Smaller points", "point_size", -1)
        self._menu_action(v, "&Centre on the selected box", "focus_selected")
        v.addSeparator()
        for dock in self.docks.values():      # show / hide each panel
            v.addAction(dock.toggleViewAction())
        v.addAction(self.view_bar.toggleViewAction())
        self.frames_menu = mb.addMenu("F&rames")
        self._menu_action(self.frames_menu, "&Next frame (tracked proposals)", "next_frame")
        self._menu_action(self.frames_menu, "&Previous frame", "prev_frame")
        track = mb.addMenu("Trac&k")   # whole tracks across frames (latte.core.interpolate, session)
        self._menu_action(track, "&Interpolate between keyframes", "interpolate_track")
        self._menu_action(track, "Interpolate and &fit to the points", "interpolate_track", True)
        self._menu_action(track, "Apply this box's &class to the whole track", "apply_class_to_track")
        self._menu_action(track, "Apply this box's &size to the whole track", "apply_size_to_track")
        t = mb.addMenu("&Tools")
        self._menu_action(t, "&Pre-label with model (detector if camera, else SqueezeSeg)", "prelabel")
        t.addAction("Pre-label with the image &detector (SqueezeDet + fusion)",
                    lambda: self.ctrl.prelabel("detector"))
        t.addAction("Pre-label with the &SqueezeSeg model", lambda: self.ctrl.prelabel("segmentation"))
        h = mb.addMenu("&Help")
        self._menu_action(h, "&Keyboard shortcuts", "help")

    def _menu_action(self, menu: QtWidgets.QMenu, text: str, action: str, arg=None,
                     key: str | None = None) -> QtWidgets.QAction:
        """A menu entry running ``action`` and showing its key from the shortcut table. The key is
        only shown (after a tab), not bound: the window's QShortcuts are the one binding."""
        key = hint(action, arg) if key is None else key
        act = menu.addAction(f"{text}\t{key}" if key else text)
        act.triggered.connect(lambda _checked=False: self.run_shortcut(action, arg))
        return act

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
        self.box_views.box_edited.connect(c.edit_selected)
        if self.view3d is not None:
            self.view3d.box_edited.connect(c.edit_selected)
            self.view3d.box_picked.connect(c.select)
            self.view3d.proposal_clicked.connect(c.click)
        self.prev_btn.clicked.connect(c.prev_frame)
        self.next_btn.clicked.connect(c.next_frame)
        self.slider.valueChanged.connect(lambda i: c.go_to(i) if i != c.frame else None)
        self.class_list.currentRowChanged.connect(self._class_list_clicked)
        self.box_list.currentRowChanged.connect(self._box_list_clicked)

    # ---- actions ----------------------------------------------------------------------------
    def run_shortcut(self, action: str, arg=None) -> None:
        """Run the action bound to a shortcut (window actions here, editing in the controller)."""
        local = {
            "open": self.open_dialog, "help": self.show_help, "quit": self.close,
            "cycle_colors": self.cycle_colors, "focus_selected": self.focus_selected,
            "point_size": self.change_point_size, "set_color_mode": self.set_color_mode,
        }
        if action in local:
            local[action]() if arg is None else local[action](arg)
            return
        method = getattr(self.ctrl, action)
        method() if arg is None else method(arg)
        if action == "set_class":
            self._show_class(self.ctrl.current_class)

    def open_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a sequence folder")
        if path:
            self.ctrl.open(Path(path))

    def open_file_dialog(self) -> None:
        """Open a single scan (.bin, .pcd, .ply, .npy, .las/.laz, nuScenes .pcd.bin) as a sequence of one."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a scan file", "", "Scans (*.bin *.pcd *.ply *.npy *.npz *.las *.laz);;All files (*)")
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
        model = {"detector": "SqueezeDet", "segmentation": "SqueezeSeg"}.get(source,
                                                                             "SqueezeDet and SqueezeSeg")
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
        self.color_combo.setCurrentIndex(COLOR_MODES.index(mode))
        self._draw_points()

    def set_point_level(self, level: int) -> None:
        """Point size in the bird's-eye, side, rear and 3D views (1 = automatic by zoom)."""
        level = int(min(max(level, POINT_LEVELS[0]), POINT_LEVELS[1]))
        self.point_level = level
        if self.point_spin.value() != level:
            self.point_spin.setValue(level)     # calls back here once, with the same level
            return
        for layer in (self.bev.layer, self.box_views.side.layer, self.box_views.rear.layer):
            layer.set_extra_px(level - 1)
        if self.view3d is not None:
            self.view3d.set_point_level(level)
        self.statusBar().showMessage(f"point size {level}", 2000)

    def change_point_size(self, step: int) -> None:
        self.set_point_level(self.point_level + int(step))

    def cycle_colors(self) -> None:
        self.set_color_mode(COLOR_MODES[(COLOR_MODES.index(self.color_mode) + 1) % len(COLOR_MODES)])

    def focus_selected(self) -> None:
        box = self.ctrl.selected_box()
        if box is not None:
            self.bev.center_on(box.center[0], box.center[1], span_m=max(box.size[0] * 4, 12.0))
            if self.view3d is not None:
                self.view3d.focus_on(box)

    def _box_list_clicked(self, row: int) -> None:
        if row >= 0 and row != self.ctrl.selected:
            self.ctrl.select(row)

    def _class_list_clicked(self, row: int) -> None:
        """A class picked in the list: the class of the selected box (as keys 1-9) and of the next
        one-click boxes."""
        self.ctrl.set_class(row)

    def _show_class(self, label: str, follow: bool = False) -> None:
        """Highlight ``label`` in the class list without relabelling anything; ``follow``: it also
        becomes the class of the next one-click boxes (the list follows the selected box)."""
        cls = self.ctrl.config.class_config(label)
        if cls is None or cls.name not in self.ctrl.class_names:
            return
        row = self.ctrl.class_names.index(cls.name)
        if follow:
            self.ctrl.set_current_class(row)
        if self.class_list.currentRow() != row:
            self.class_list.blockSignals(True)
            self.class_list.setCurrentRow(row)
            self.class_list.blockSignals(False)

    # ---- redraw -----------------------------------------------------------------------------
    def _draw_points(self) -> None:
        pts = self.ctrl.points
        if pts is None:
            return
        colors = point_colors(pts, self.color_mode, self.ctrl.point_labels, self.ctrl.label_palette())
        self.bev.set_points(pts, colors)
        if self.view3d is not None:
            self.view3d.set_points(pts, colors)
        self.legend.show_scale(color_scale(pts, self.color_mode, self.ctrl.point_labels),
                               list(zip(self.ctrl.class_names, self.ctrl.class_colors_list)))

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
            self.view3d.set_boxes(boxes, colors, sel, c.proposals)
        box = c.selected_box()
        self.box_views.show_box(c.points, box, c.image, c.calib)
        if box is not None:                      # the class list follows the selection
            self._show_class(box.label, follow=True)
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
        """Closing stops everything the window runs: the status timer, the pre-label progress
        dialog and the model worker process; the session is flushed and detached."""
        self._tick.stop()
        self._prelabel_finished(False)
        self.ctrl.shutdown()
        super().closeEvent(event)

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt override
        if not self._tick.isActive():      # shown again after a close
            self._tick.start(1000)
        super().showEvent(event)

    def save_screenshot(self, path: str | Path) -> None:
        """Render the window into a PNG (written atomically)."""
        from squeezeseg.atomic import atomic_path

        with atomic_path(path) as tmp:
            if not self.grab().save(str(tmp), "PNG"):
                raise OSError(f"cannot write {path}")
