"""Editing and view usability of the LATTE window (offscreen; tests/test_app_view3d_xcb.py drives
the 3D view on a real X server): keyboard resize, refit, side/rear view edits, undo/redo that jumps
to the frame it changed, the class list following the selection, menus showing the keys, View menu
toggles for every dock, point size, the colour legend, and distinct class colours."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import open_demo_window
from PyQt5 import QtCore

from latte.app.controller import AppController
from latte.app.shortcuts import SHORTCUTS
from latte.app.window import MainWindow
from squeezeseg.boxes import Box3D


@pytest.fixture(scope="module")
def cars(demo_seq) -> dict[int, list[Box3D]]:
    """Ground-truth cars and vans within 30 m per frame, best seen first, then the other objects
    with at least 30 points."""
    from latte.app.demo import demo_ground_truth
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_tracking_labels

    seq = open_sequence(demo_seq)
    truth = read_tracking_labels(demo_ground_truth(demo_seq), seq.calib(0))
    out = {}
    for f in (0, 1):
        pts = np.asarray(seq.points(f))
        cands = [b for b in truth[f] if b.label in ("Car", "Van") and np.hypot(*b.center[:2]) < 30]
        others = [b for b in truth[f] if b not in cands and int(b.contains(pts).sum()) >= 30]
        out[f] = sorted(cands, key=lambda b: -int(b.contains(pts).sum())) + others
    return out


@pytest.fixture
def win(qtbot, demo_seq, cars, tmp_path, messages) -> MainWindow:
    """The demo open at frame 0 with one one-click car, selected."""
    w = open_demo_window(qtbot, demo_seq, tmp_path / "session", (1400, 900))
    pts = w.ctrl.points
    car = cars[0][0]
    w.ctrl.click(*pts[car.contains(pts), :2].mean(axis=0))
    assert len(w.ctrl.boxes()) == 1 and w.ctrl.selected == 0, messages
    return w


def key(qtbot, w, k, mods=QtCore.Qt.NoModifier) -> None:
    qtbot.keyClick(w, k, mods)


def test_resize_keys_change_one_dimension_each_and_undo(qtbot, win):
    box = win.ctrl.boxes()[0]
    ctrl, shift, alt = QtCore.Qt.ControlModifier, QtCore.Qt.ShiftModifier, QtCore.Qt.AltModifier
    key(qtbot, win, QtCore.Qt.Key_Up, ctrl)
    b = win.ctrl.boxes()[0]
    assert b.size[0] == pytest.approx(box.size[0] + 0.1) and b.size[1:] == box.size[1:]
    assert np.allclose(b.center, box.center)
    key(qtbot, win, QtCore.Qt.Key_Left, ctrl)
    assert win.ctrl.boxes()[0].size[1] == pytest.approx(box.size[1] - 0.1)
    key(qtbot, win, QtCore.Qt.Key_Up, ctrl | shift)
    b = win.ctrl.boxes()[0]
    assert b.size[2] == pytest.approx(box.size[2] + 0.1)
    assert b.center[2] - b.size[2] / 2 == pytest.approx(box.center[2] - box.size[2] / 2)   # bottom stays
    key(qtbot, win, QtCore.Qt.Key_Down, alt)
    assert win.ctrl.boxes()[0].center[2] == pytest.approx(b.center[2] - 0.1)
    ops = [c.op for c in win.ctrl.session._stack.done]
    assert ops[-4:] == ["resize", "resize", "resize", "move"]
    for _ in range(4):
        key(qtbot, win, QtCore.Qt.Key_Z, ctrl)
    assert win.ctrl.boxes()[0] == box


def test_refit_fits_the_boxs_points_again_as_one_undoable_edit(qtbot, win, cars):
    fitted = win.ctrl.boxes()[0]
    # Spoil the box (too long, shifted, turned) while it still covers the car's points, then refit.
    spoiled = fitted.replace(center=(fitted.center[0] + 0.4, fitted.center[1], fitted.center[2]),
                             size=(fitted.size[0] + 1.2, fitted.size[1] + 0.6, fitted.size[2]),
                             yaw=fitted.yaw + 0.12)
    win.ctrl.edit_selected(spoiled)
    key(qtbot, win, QtCore.Qt.Key_G)
    refit = win.ctrl.boxes()[0]
    truth = cars[0][0]
    assert refit.bev_iou(truth) > spoiled.bev_iou(truth) + 0.1
    assert refit.bev_iou(fitted) > 0.7
    assert refit.track_id == fitted.track_id and refit.label == fitted.label
    assert abs(np.angle(np.exp(1j * (refit.yaw - fitted.yaw)))) < np.radians(20)   # front kept
    assert win.ctrl.session._stack.done[-1].op == "refit"
    key(qtbot, win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.ctrl.boxes()[0] == spoiled


def test_refit_with_no_points_in_the_box_changes_nothing(qtbot, win):
    far = win.ctrl.boxes()[0].replace(center=(150.0, 150.0, 5.0))
    win.ctrl.edit_selected(far)
    n = len(win.ctrl.session._stack.done)
    assert win.ctrl.refit() is None
    assert win.ctrl.boxes()[0] == far and len(win.ctrl.session._stack.done) == n


@pytest.mark.parametrize("view, axis", [("side", 0), ("rear", 1)])
def test_side_and_rear_views_move_and_resize_the_box(qtbot, win, view, axis):
    box = win.ctrl.boxes()[0]
    ortho = getattr(win.box_views, view)
    assert ortho.roi.isVisible() and len(ortho.roi.getHandles()) == 8
    # Drag the top edge handle 0.5 m up: the box grows upwards only.
    roi = ortho.roi
    lo, hi = roi.extent()
    roi.setSize((hi[0] - lo[0], hi[1] - lo[1] + 0.5), finish=True)
    b = win.ctrl.boxes()[0]
    assert b.size[2] == pytest.approx(box.size[2] + 0.5, abs=1e-6)
    assert b.center[2] - b.size[2] / 2 == pytest.approx(box.center[2] - box.size[2] / 2, abs=1e-6)
    assert b.size[axis] == pytest.approx(box.size[axis]) and b.yaw == box.yaw
    # Drag the rectangle 0.8 m to the right: the box moves 0.8 m along its own axis in that view.
    roi = ortho.roi                                   # the views were redrawn from the new box
    pos = roi.pos()
    roi.setPos((pos.x() + 0.8, pos.y()), finish=True)
    moved = win.ctrl.boxes()[0]
    unit = np.zeros(3)
    unit[axis] = 1.0
    shift = b.to_local(np.asarray(moved.center)[None])[0]          # in the box frame before
    assert np.allclose(shift, 0.8 * unit, atol=1e-6)
    assert [c.op for c in win.ctrl.session._stack.done][-2:] == ["resize", "move"]


def test_undo_of_an_edit_on_another_frame_jumps_there_and_says_so(qtbot, win):
    made = win.ctrl.boxes()[0]
    key(qtbot, win, QtCore.Qt.Key_D)                 # frame 1, with the tracked proposal
    assert win.ctrl.frame == 1
    key(qtbot, win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)   # undoes the click on frame 0
    assert win.ctrl.frame == 0 and win.slider.value() == 0 and not win.ctrl.boxes()
    assert "frame 1" in win.statusBar().currentMessage() and "jumped" in win.statusBar().currentMessage()
    key(qtbot, win, QtCore.Qt.Key_D)
    assert win.ctrl.frame == 1
    key(qtbot, win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)   # redo
    assert win.ctrl.frame == 0 and win.ctrl.boxes() == [made]
    assert win.ctrl.selected == 0                    # the box it brought back is selected
    assert "redid" in win.statusBar().currentMessage()
    # Undo on the same frame stays there.
    key(qtbot, win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.ctrl.frame == 0 and "jumped" not in win.statusBar().currentMessage()


def test_class_list_follows_the_selection_and_relabels(qtbot, win, cars):
    pts = win.ctrl.points
    key(qtbot, win, QtCore.Qt.Key_4)                 # the selected car becomes a pedestrian
    assert win.ctrl.boxes()[0].label == "Pedestrian" and win.class_list.currentRow() == 3
    win.ctrl.set_current_class(0)
    second = cars[0][1]
    win.ctrl.click(*pts[second.contains(pts), :2].mean(axis=0))
    assert len(win.ctrl.boxes()) == 2 and win.ctrl.boxes()[win.ctrl.selected].label == "Car"
    assert win.class_list.currentRow() == 0
    ped = next(i for i, b in enumerate(win.ctrl.boxes()) if b.label == "Pedestrian")
    win.ctrl.select(ped)                             # the list shows the selected box's class
    assert win.class_list.currentRow() == 3 and win.ctrl.current_class == "Pedestrian"
    win.class_list.setCurrentRow(1)                  # picking a class in the list relabels it
    assert win.ctrl.boxes()[ped].label == "Van"


def test_menus_show_the_keys_and_view_menu_toggles_every_dock(qtbot, win):
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    texts = {a.text().replace("&", "") for m in menus.values() for a in m.actions()}
    size_menu = next(a.menu() for a in menus["Edit"].actions() if a.menu() is not None)
    texts |= {a.text() for a in size_menu.actions()}
    for want in ("Undo\tCtrl+Z", "Redo\tCtrl+Shift+Z", "Refit box to its points (one-click)\tG",
                 "Delete box\tDel", "Make the selected box 0.1 m longer\tCtrl+Up",
                 "Pre-label with model (detector if camera, else SqueezeSeg)\tP", "Larger points\t+"):
        assert want in texts, sorted(texts)
    keys_shown = {t.split("\t")[1] for t in texts if "\t" in t}
    every_key = {k for sc in SHORTCUTS for k in sc.keys}
    assert keys_shown <= every_key                  # only real keys, from the one table
    toggles = [a for a in menus["View"].actions() if a.isCheckable()]
    assert {a.text() for a in toggles} >= set(win.docks) and len(win.docks) >= 4
    cam = next(a for a in toggles if a.text() == "Camera")
    cam.trigger()
    assert not win.docks["Camera"].isVisible()
    cam.trigger()
    assert win.docks["Camera"].isVisible()
    # A menu entry runs the same action as its key.
    box = win.ctrl.boxes()[0]
    next(a for a in size_menu.actions() if a.text().endswith("\tCtrl+Up")).trigger()
    assert win.ctrl.boxes()[0].size[0] == pytest.approx(box.size[0] + 0.1)


def test_point_size_control_paints_larger_points(qtbot, win):
    def painted() -> int:
        img = win.bev.layer.image.image
        return int((img[..., 3] > 0).sum())

    before = painted()
    key(qtbot, win, QtCore.Qt.Key_Plus)
    key(qtbot, win, QtCore.Qt.Key_Plus)
    assert win.point_level == 3 and win.point_spin.value() == 3
    assert win.bev.layer.extra_px == 2 and win.box_views.side.layer.extra_px == 2
    assert painted() > 1.5 * before
    key(qtbot, win, QtCore.Qt.Key_Minus)
    assert win.point_level == 2
    win.point_spin.setValue(1)
    assert win.point_level == 1 and painted() == before
    for _ in range(10):
        key(qtbot, win, QtCore.Qt.Key_Minus)
    assert win.point_level == 1


def test_colour_legend_names_the_mode_and_its_range(qtbot, win):
    assert win.legend.text.startswith("height: -2.5 to 1.5 m") and win.color_combo.currentText() == "height"
    key(qtbot, win, QtCore.Qt.Key_C)
    assert win.legend.text.startswith("intensity") and win.color_combo.currentText() == "intensity"
    win.ctrl.point_labels = None
    key(qtbot, win, QtCore.Qt.Key_C)
    # No per-point labels: the points stay coloured by height, and the legend says so.
    assert win.color_mode == "label" and win.legend.text.startswith("height")
    win.ctrl.point_labels = np.zeros(len(win.ctrl.points), np.int64)
    win.set_color_mode("label")
    assert win.legend.text.startswith("labels: Car, Van") and win.legend.text.endswith("none")
    win.color_combo.activated.emit(0)
    assert win.color_mode == "height"


def test_class_colours_are_distinct_and_readable_on_the_dark_views():
    """Every pair of class colours differs by CIE76 delta E >= 40, each has >= 4.5:1 contrast on the
    views' background, and none is close to the proposals' yellow."""
    ctrl = AppController()
    colours = dict(zip(ctrl.class_names, ctrl.class_colors_list))
    assert len(colours) >= 8

    def lab(rgb):
        c = np.asarray(rgb, float) / 255
        c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
        m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        xyz = m @ c / np.array([0.95047, 1.0, 1.08883])
        f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    def luminance(rgb):
        c = np.asarray(rgb, float) / 255
        linear = np.where(c > 0.03928, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
        return float(linear @ [0.2126, 0.7152, 0.0722])

    background, proposal = (18, 20, 24), (255, 210, 0)
    for (a, x), (b, y) in itertools.combinations([*colours.items(), ("proposal", proposal)], 2):
        assert np.linalg.norm(lab(x) - lab(y)) >= 40, (a, x, b, y)
    for name, rgb in colours.items():
        assert (luminance(rgb) + 0.05) / (luminance(background) + 0.05) >= 4.5, name
    from latte.core.config import LatteConfig

    builtin = {c.name: tuple(c.color) for c in LatteConfig().classes}
    assert builtin == colours            # the built-in defaults are the shipped file's colours


def test_colour_scale_says_what_point_colors_paints():
    """The legend's description and the colours agree: the mode used (with its fallbacks) and the
    value range, for intensities in 0..1 and in 0..255."""
    from latte.app.raster import color_scale, point_colors, scalar_colors

    rng = np.random.default_rng(0)
    pts = np.c_[rng.normal(size=(500, 3)), rng.uniform(0, 255, 500)].astype(np.float32)
    scale = color_scale(pts, "intensity")
    assert scale["mode"] == "intensity" and scale["range"] == (0.0, 255.0 * 0.6)
    want = scalar_colors(pts[:, 3], *scale["range"], "viridis")
    assert np.array_equal(point_colors(pts, "intensity"), want)
    unit = pts.copy()
    unit[:, 3] /= 255.0
    assert color_scale(unit, "intensity")["range"] == (0.0, 0.6)
    assert color_scale(pts[:, :3], "intensity")["mode"] == "height"     # no intensity channel
    assert color_scale(pts, "label", None)["mode"] == "height"          # no per-point labels
    height = color_scale(pts, "height")
    assert np.array_equal(point_colors(pts, "height"), scalar_colors(pts[:, 2], *height["range"], "turbo"))
    palette = np.array([[255, 0, 0, 255], [0, 255, 0, 255]], np.uint8)
    labels = np.r_[np.zeros(250, int), -np.ones(250, int)]
    got = point_colors(pts, "label", labels, palette)
    assert (got[:250] == palette[0]).all() and (got[250:, :3] == 110).all()
