"""PNG rendering: colour maps, range-image panel, bird's-eye view by class, atomic PNG writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from squeezeseg.errors import InputError
from squeezeseg.visualize import (
    PALETTE,
    bev_image,
    depth_colors,
    label_colors,
    range_image_panel,
    save_png,
    turbo,
)


def test_turbo_runs_blue_to_red():
    lo, mid, hi = turbo(np.array([0.15, 0.5, 0.9])).astype(int)
    assert lo[2] > lo[0] + 100 and hi[0] > hi[2] + 100  # blue end, red end
    assert mid[1] > 200  # green-yellow middle
    assert turbo(np.array([-1.0, 2.0])).tolist() == turbo(np.array([0.0, 1.0])).tolist()


def test_depth_colors_black_where_empty_and_near_differs_from_far():
    r = np.array([[0.0, 2.0, 60.0]])
    c = depth_colors(r, max_range=80.0)
    assert c[0, 0].tolist() == [0, 0, 0]
    assert c[0, 1, 0] > c[0, 1, 2] and c[0, 2, 2] > c[0, 2, 0]  # near red, far blue


def test_label_colors_and_panel_layout():
    labels = np.array([[0, 1], [2, 25]])
    cols = label_colors(labels)
    assert cols[0, 1].tolist() == PALETTE[1].tolist()
    assert cols[1, 1].tolist() == PALETTE[25 % len(PALETTE)].tolist()
    with pytest.raises(InputError):
        label_colors(np.array([-1]))
    img = np.zeros((4, 6, 6), np.float32)
    img[1, 2, 4] = 10.0
    img[1, 2, 3] = 0.5
    panel = range_image_panel(img, labels=np.ones((4, 6), int), scale=3)
    assert panel.shape == (3 * 12 + 2 * 2, 6, 3)
    assert panel[3, 2].tolist() != [0, 0, 0] and panel[0, 0].tolist() == [0, 0, 0]
    with pytest.raises(InputError):
        range_image_panel(np.zeros((4, 6)))


def test_bev_puts_points_where_they_are_and_objects_on_top():
    pts = np.array([[10.0, 5.0, 0.0], [10.0, 5.0, 0.0], [-39.95, 39.95, 0.0], [100.0, 0.0, 0.0]])
    cls = np.array([1, 0, 2, 1])  # car and ground in one cell: the car must show
    img = bev_image(pts, cls, x_range=(-40, 40), y_range=(-40, 40), resolution=0.5)
    assert img.shape == (160, 160, 3)
    assert img[60, 70].tolist() == PALETTE[1].tolist()  # row (40 - 10) / 0.5, col (40 - 5) / 0.5
    assert img[159, 0].tolist() == PALETTE[2].tolist()  # behind-left corner
    assert np.count_nonzero(img.any(axis=2)) == 2  # the point at x = 100 m is outside
    by_height = bev_image(pts[:, :3])
    assert by_height.any()


def test_save_png_writes_a_readable_file_atomically(tmp_path):
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[2, 3] = [10, 20, 30]
    path = save_png(tmp_path / "sub" / "a.png", rgb)
    back = np.asarray(Image.open(path))
    assert back.shape == (5, 7, 3) and back[2, 3].tolist() == [10, 20, 30]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.png"]
