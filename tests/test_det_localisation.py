"""Box-fit diagnostic of issue #23: best IoU per ground-truth object and the offsets of that match."""

import math

import numpy as np
import pytest

from squeezeseg.detection.labels import Object2D
from squeezeseg.detection.localisation import localisation


def car(box, score=None, label="Car"):
    return Object2D(label, tuple(float(v) for v in box), score=score)


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
    """Detections half as wide and shifted right by a tenth of the width: the offsets say so."""
    gts, dets = [], []
    for x in range(0, 500, 100):
        gts.append([car((x, 20, x + 80, 60))])
        cx = x + 40 + 8  # centre moved by 0.1 x width
        dets.append([car((cx - 20, 20, cx + 20, 60), 0.7)])
    s = localisation(gts, dets).summary()
    assert s["median_dx"] == pytest.approx(0.1)
    assert s["median_log_w"] == pytest.approx(np.log(0.5))
    assert s["median_log_h"] == pytest.approx(0.0)
    assert s["share_iou05"] == 1.0 and s["share_iou07"] == 0.0  # IoU 0.5 exactly: found but loose


def test_short_objects_and_other_classes_are_left_out():
    gts = [[car((0, 0, 50, 20)), car((0, 0, 50, 60), label="Pedestrian")]]
    assert localisation(gts, [[]]).summary() == {"objects": 0}


def test_script_refuses_missing_inputs(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from det_localisation import main

    assert main([str(tmp_path / "none.keras")]) == 2
    assert "none.keras: not found" in capsys.readouterr().err
