"""Box evaluation (50% rule, class-aware greedy matching) and the simulated annotator's operation
model, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.evaluate import evaluate_boxes, load_boxes, match_frame
from latte.core.formats import write_json_labels
from latte.core.simulate_annotator import Tolerance, operations_for, simulate
from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

CAR = Box3D((10.0, 0.0, -1.0), (4.0, 2.0, 1.5), 0.0, "Car", 1)


def test_matching_needs_half_overlap_and_the_same_class():
    shifted = CAR.replace(center=(11.0, 0.0, -1.0))  # IoU 3/5 = 0.6
    far = CAR.replace(center=(13.0, 0.0, -1.0))  # IoU 1/7
    assert match_frame([shifted], [CAR])[0][2] == pytest.approx(0.6)
    assert match_frame([far], [CAR]) == []
    assert match_frame([CAR.replace(label="Van")], [CAR]) == []
    # Greedy best-first: the better prediction takes the ground truth, the other is a false positive.
    m = match_frame([shifted, CAR], [CAR])
    assert m == [(1, 0, 1.0)]


def test_precision_recall_and_mean_iou():
    ped = Box3D((5.0, 3.0, -1.0), (0.8, 0.6, 1.7), 0.0, "Pedestrian")
    gt = {0: [CAR, ped], 1: [CAR]}
    pred = {
        0: [CAR.replace(center=(11.0, 0.0, -1.0))],
        1: [CAR, ped.replace(center=(20.0, 3.0, -1.0))],
        2: [CAR],
    }
    res = evaluate_boxes(pred, gt)
    assert (res.all.tp, res.all.fp, res.all.fn) == (2, 2, 1)
    assert res.all.precision == pytest.approx(0.5) and res.all.recall == pytest.approx(2 / 3)
    assert res.classes["Car"].mean_iou == pytest.approx(0.8)
    assert res.classes["Pedestrian"].recall == 0.0
    assert "Pedestrian" in res.table()


def test_load_boxes_json_and_errors(tmp_path):
    write_json_labels(tmp_path / "a.json", "s", [(0, "000007", {1: CAR})])
    assert list(load_boxes(tmp_path / "a.json")) == [7]
    with pytest.raises(InputError):
        load_boxes(tmp_path / "missing.json")


def test_operation_model():
    tol = Tolerance()
    assert operations_for(CAR, CAR, tol) == ["accept"]
    assert operations_for(CAR.replace(center=(10.5, 0, -1)), CAR, tol) == ["move"]
    assert operations_for(CAR.replace(size=(3.0, 2.0, 1.5), label="Van"), CAR, tol) == ["relabel", "resize"]
    assert operations_for(CAR.replace(yaw=np.pi), CAR, tol) == ["accept"]  # heading sign is free
    assert operations_for(CAR.replace(yaw=0.3), CAR, tol) == ["rotate"]
    assert operations_for(None, CAR, tol) == ["create", "resize"]
    assert operations_for(None, CAR.replace(yaw=0.5), tol) == ["create", "rotate", "resize"]


def test_simulated_tracking_needs_fewer_operations_than_drawing():
    frames = [(None, [CAR.replace(center=(10.0 + 0.8 * k, 0.1 * k, -1.0))], []) for k in range(10)]
    res = simulate(frames)
    assert res["baseline"].total == 20
    assert res["tracking"].operations["accept"] >= 7
    assert res["tracking"].total < res["baseline"].total / 1.5
