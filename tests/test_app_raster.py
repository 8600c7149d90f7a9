"""Drawing helpers of the LATTE app: rasterisation, colours, the BEV <-> LiDAR mapping and the
editable box ROI (synthetic inputs, no data needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latte.app.raster import draw_order, point_colors, rasterize, scalar_colors
from squeezeseg.boxes import Box3D


def test_rasterize_puts_points_in_their_pixels_last_wins():
    uv = np.array([[0.5, 0.5], [9.5, 0.5], [0.5, 4.5], [0.6, 0.6], [20.0, 1.0]], np.float32)
    colors = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [9, 9, 9, 255], [1, 1, 1, 255]],
                      np.uint8)
    img = rasterize(uv, colors, (0.0, 0.0, 10.0, 5.0), (5, 10))
    assert img.shape == (5, 10, 4)
    assert tuple(img[0, 0]) == (9, 9, 9, 255)        # the later of two points in one pixel wins
    assert tuple(img[0, 9]) == (0, 255, 0, 255)      # u -> column
    assert tuple(img[4, 0]) == (0, 0, 255, 255)      # v -> row (rows grow with v)
    assert (img[..., 3] > 0).sum() == 3               # the point outside the rect is dropped


def test_rasterize_big_points_and_empty_input():
    img = rasterize(np.array([[2.5, 2.5]]), np.array([[1, 2, 3, 255]], np.uint8), (0, 0, 5, 5), (5, 5),
                    point_px=2)
    assert (img[..., 3] > 0).sum() == 4
    assert tuple(img[3, 3]) == (1, 2, 3, 255)
    empty = rasterize(np.zeros((0, 2)), np.zeros((0, 4), np.uint8), (0, 0, 1, 1), (3, 4))
    assert empty.shape == (3, 4, 4) and not empty.any()


def test_colours_follow_value_and_draw_order_puts_high_points_last():
    c = scalar_colors(np.array([-10.0, 0.0, 10.0]), 0.0, 1.0, "viridis")
    assert c.shape == (3, 4) and c.dtype == np.uint8
    assert tuple(c[0]) == tuple(scalar_colors(np.array([0.0]), 0.0, 1.0, "viridis")[0])   # clipped
    assert tuple(c[0]) != tuple(c[2])
    pts = np.array([[0, 0, 1.0, 0], [0, 0, -1.0, 0], [0, 0, 0.0, 0]], np.float32)
    assert list(draw_order(pts)) == [1, 2, 0]
    labels = np.array([0, -1, 1])
    palette = np.array([[10, 20, 30, 255], [40, 50, 60, 255]], np.uint8)
    lc = point_colors(pts, "label", labels, palette)
    assert tuple(lc[0]) == (10, 20, 30, 255) and tuple(lc[2]) == (40, 50, 60, 255)
    assert tuple(lc[1]) == (110, 110, 110, 255)
    # Intensity in 0..255 is detected and scaled like 0..1.
    a = point_colors(np.array([[0, 0, 0, 0.3]], np.float32), "intensity")
    b = point_colors(np.array([[0, 0, 0, 0.3 * 255], [0, 0, 0, 255]], np.float32), "intensity")
    assert tuple(a[0]) == tuple(b[0])


def test_view_mapping_is_a_rotation_forward_up():
    from latte.app.bev_view import from_view, to_view

    uv = to_view(np.array([[10.0, 0.0], [0.0, 5.0]]))
    assert np.allclose(uv, [[0.0, 10.0], [-5.0, 0.0]])    # forward is up, left is left
    assert from_view(*uv[1]) == (0.0, 5.0)


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, math.pi / 2, 3.1])
def test_box_roi_round_trip(qtbot, yaw):
    import pyqtgraph as pg

    from latte.app.bev_view import BoxROI
    from latte.app.lifetime import adopt_pyqtgraph_menus

    roi = BoxROI(pg.mkPen("w"))
    view = pg.GraphicsView()        # the ROI lives in a view, which owns its handles' menus
    qtbot.addWidget(view)
    view.setCentralItem(vb := pg.ViewBox(enableMenu=False))
    vb.addItem(roi)
    assert adopt_pyqtgraph_menus(view) == len(roi.getHandles())
    box = Box3D((12.0, -3.5, -0.8), (4.2, 1.8, 1.5), yaw, label="Van", track_id=4)
    roi.set_box(box)
    back = roi.to_box(box)
    assert np.allclose(back.center, box.center) and np.allclose(back.size, box.size)
    assert math.isclose(math.remainder(back.yaw - yaw, 2 * math.pi), 0.0, abs_tol=1e-9)
    assert back.label == "Van" and back.track_id == 4
    # Rotating the ROI about its centre turns the box in the same sense (CCW seen from above).
    roi.setAngle(roi.angle() + 10.0, center=(0.5, 0.5))
    turned = roi.to_box(box)
    assert np.allclose(turned.center, box.center)
    assert math.isclose(math.remainder(turned.yaw - yaw - math.radians(10), 2 * math.pi), 0.0, abs_tol=1e-9)


def test_bev_view_draws_points_where_they_are(qtbot):
    from latte.app.bev_view import BEVView

    view = BEVView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    view.vb.setRange(xRange=(-10, 10), yRange=(0, 20), padding=0)
    pts = np.array([[15.0, 5.0, 0.0, 0.5]], np.float32)          # 15 m ahead, 5 m left
    view.set_points(pts, np.array([[255, 0, 0, 255]], np.uint8))
    img = view.layer.image.image
    rows, cols = np.nonzero(img[..., 3])
    # Its pixel is 3/4 up the view (v = x = 15 of 0..20) and 1/4 from the left (u = -y = -5 of -10..10).
    assert abs(rows.mean() / img.shape[0] - 0.75) < 0.02
    assert abs(cols.mean() / img.shape[1] - 0.25) < 0.02
    p = view.lidar_to_widget(15.0, 5.0)
    assert abs(p.x() / view.width() - 0.25) < 0.05 and abs(p.y() / view.height() - 0.25) < 0.05
