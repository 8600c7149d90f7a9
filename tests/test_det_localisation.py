"""Box-fit diagnostic of issue #23: best IoU per ground-truth object and the offsets of that match."""

import math

import numpy as np
import pytest

from squeezeseg.detection.labels import Object2D
from squeezeseg.detection.localisation import localisation


def car(box, score=None, label="Car", occluded=0, truncated=0.0):
    return Object2D(label, tuple(float(v) for v in box), truncated, occluded, score)


def test_exact_and_shifted_and_missed_boxes():
    gts = [[car((100, 50, 200, 100)), car((300, 50, 340, 90))], [car((10, 10, 50, 60))]]
    dets = [
        [car((100, 50, 200, 100), 0.9), car((110, 50, 210, 100), 0.2)],  # exact match for the first car
        [car((400, 10, 440, 60), 0.8), car((10, 10, 50, 60), 0.5, "Pedestrian")],  # wrong place / class
    ]
    loc = localisation(gts, dets)
    assert loc.best_iou == pytest.approx([1.0, 0.0, 0.0])
    assert loc.dx[0] == 0 and loc.log_w[0] == 0
    assert all(math.isnan(v) for v in (loc.dx[1], loc.dx[2]))
    s = loc.summary()
    assert s["objects"] == 3 and s["matched"] == 1
    assert s["share_iou07"] == pytest.approx(1 / 3)


def test_offsets_measure_a_systematic_error():
    """Detections half as wide, shifted right by a tenth of the width and down by a tenth of the height
    (the box is 80 x 40: the two units differ): the offsets say so."""
    gts, dets = [], []
    for x in range(0, 500, 100):
        gts.append([car((x, 20, x + 80, 60))])
        cx, cy = x + 40 + 8, 40 + 4
        dets.append([car((cx - 20, cy - 20, cx + 20, cy + 20), 0.7)])
    s = localisation(gts, dets).summary()
    assert s["median_dx"] == pytest.approx(0.1)
    assert s["median_dy"] == pytest.approx(0.1)
    assert s["median_log_w"] == pytest.approx(np.log(0.5))
    assert s["median_log_h"] == pytest.approx(0.0)
    assert s["share_iou05"] == 0.0 and s["share_iou07"] == 0.0  # found, but too loose for either


def test_only_the_cars_kitti_scores_at_moderate_count():
    gts = [[
        car((0, 0, 50, 25)),  # 25 px: KITTI ignores heights <= 25 at moderate
        car((0, 0, 50, 26)),
        car((100, 0, 150, 60), occluded=2),  # too occluded for moderate
        car((200, 0, 250, 60), truncated=0.4),  # too truncated
        car((300, 0, 350, 60), label="Pedestrian"),
    ]]
    loc = localisation(gts, [[car((0, 0, 50, 26), 0.9, label="car")]])  # class names match in any case
    assert loc.best_iou == pytest.approx([1.0])


def test_height_bands_split_small_loose_boxes_from_large_tight_ones():
    gts = [[car((0, 0, 40, 30)), car((100, 0, 200, 60)), car((300, 0, 500, 100))]]
    dets = [[car((10, 8, 40, 30), 0.9), car((100, 0, 200, 60), 0.9), car((300, 0, 500, 100), 0.9)]]
    loc = localisation(gts, dets)
    assert loc.height.tolist() == [30.0, 60.0, 100.0]
    bands = loc.by_height()
    assert list(bands) == ["25-35 px", "35-50 px", "50-80 px", "80-inf px"]
    assert bands["25-35 px"]["objects"] == 1 and bands["25-35 px"]["share_iou07"] == 0.0
    assert bands["50-80 px"]["share_iou07"] == 1.0 and bands["80-inf px"]["share_iou07"] == 1.0
    assert bands["35-50 px"] == {"objects": 0}


def test_a_frame_without_detections_and_nothing_matched():
    gts = [[car((0, 0, 50, 40)), car((100, 0, 150, 40))]]
    loc = localisation(gts, [[]])
    assert loc.best_iou.tolist() == [0.0, 0.0] and loc.height.tolist() == [40.0, 40.0]
    s = loc.summary()
    assert s["matched"] == 0 and s["median_dx"] is None and s["median_best_iou"] == 0.0
    assert localisation([], []).summary() == {"objects": 0}
    with pytest.raises(ValueError):
        localisation(gts, [])  # frames and detections must pair up


def test_script_refuses_missing_inputs(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from det_localisation import main

    assert main([str(tmp_path / "none.keras")]) == 2
    assert "none.keras: not found" in capsys.readouterr().err
    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    assert main([str(model), "--sim", str(tmp_path)]) == 2  # a folder without a val split
    assert "val" in capsys.readouterr().err
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "val.txt").write_text("000000\n")
    assert main([str(model), "--sim", str(tmp_path), "--sim-split", "train"]) == 2  # no train split
    assert "train" in capsys.readouterr().err
