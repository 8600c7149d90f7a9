"""KITTI AP as the devkit computes it: hand-checked cases for thresholds, ignore rules and DontCare."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.detection.kitti_eval import evaluate, evaluate_class, format_results
from squeezeseg.detection.labels import Object2D

MOD = 1  # moderate


def car(
    x: float,
    score: float | None = None,
    label: str = "Car",
    h: float = 50.0,
    occl: int = 0,
    trunc: float = 0.0,
) -> Object2D:
    return Object2D(label, (x, 100.0, x + 60.0, 100.0 + h), trunc, occl, score)


def cars(n: int) -> list[Object2D]:
    return [car(100.0 * i) for i in range(n)]


def test_perfect_detection_is_ap_one_in_both_methods():
    gts = [cars(10) for _ in range(5)]  # 50 objects
    dets = [[car(100.0 * i, score=0.5 + i / 100) for i in range(10)] for _ in range(5)]
    for method in ("devkit", "curve"):
        r = evaluate_class(gts, dets, "Car", MOD, method)
        assert r.n_gt == 50
        assert r.ap11 == pytest.approx(1.0) and r.ap40 == pytest.approx(1.0)


def test_half_recall_matches_devkit_threshold_sampling():
    # 40 cars, 20 found (precision 1): the devkit fills precision[0..19] = 1, so
    # AP|R40 = sum(p[1..40]) / 40 = 19/40 and AP|R11 = (p[0] + p[4] + ... + p[16]) / 11 = 5/11.
    gts = [cars(10) for _ in range(4)]
    dets = [[car(100.0 * i, score=0.9 - 0.01 * i) for i in range(5)] for _ in range(4)]
    r = evaluate_class(gts, dets, "Car", MOD, "devkit")
    assert r.ap40 == pytest.approx(19 / 40) and r.ap11 == pytest.approx(5 / 11)
    c = evaluate_class(gts, dets, "Car", MOD, "curve")  # the curve itself: recall 0.5 at precision 1
    assert c.ap40 == pytest.approx(20 / 40) and c.ap11 == pytest.approx(6 / 11)


def test_false_positives_ranked_first_lower_precision():
    gts = [cars(10) for _ in range(4)]
    # every frame: one false positive (no overlap) with a higher score than its 10 true positives
    dets = [[car(5000.0, score=0.99)] + [car(100.0 * i, score=0.5) for i in range(10)] for _ in range(4)]
    r = evaluate_class(gts, dets, "Car", MOD, "devkit")
    assert r.precision[-1] == pytest.approx(40 / 44)
    assert r.ap40 < 1.0 and r.ap40 == pytest.approx(40 / 44, abs=0.03)


def test_single_object_shows_devkit_collapse_and_curve_does_not():
    gts, dets = [[car(0)]], [[car(0, score=0.9)]]
    r = evaluate_class(gts, dets, "Car", MOD, "devkit")
    assert r.ap40 == 0.0 and r.ap11 == pytest.approx(1 / 11)
    c = evaluate_class(gts, dets, "Car", MOD, "curve")
    assert c.ap40 == 1.0 and c.ap11 == 1.0


def test_perfect_on_exactly_40_objects_is_39_of_40():
    # The devkit leaves precision[40] empty when there are only 40 true positives (its known off-by-one).
    gts = [cars(10) for _ in range(4)]
    dets = [[car(100.0 * i, score=0.5) for i in range(10)] for _ in range(4)]
    assert evaluate_class(gts, dets, "Car", MOD, "devkit").ap40 == pytest.approx(39 / 40)


def _with_extra_false_positive(extra_gt: list[Object2D]) -> float:
    gts = [cars(10) + extra_gt for _ in range(5)]
    dets = [[car(5000.0, score=0.99)] + [car(100.0 * i, score=0.5) for i in range(10)] for _ in range(5)]
    return evaluate_class(gts, dets, "Car", MOD, "devkit").ap40


def test_dontcare_absorbs_false_positive():
    assert _with_extra_false_positive([]) < 0.95
    assert _with_extra_false_positive([Object2D("DontCare", (4990.0, 90.0, 5100.0, 200.0))]) == pytest.approx(
        1.0
    )


def test_van_is_neither_positive_nor_false_positive_for_car():
    assert _with_extra_false_positive([car(5000.0, label="Van")]) == pytest.approx(1.0)
    # a Truck is another class: the detection on it stays a false positive
    assert _with_extra_false_positive([car(5000.0, label="Truck")]) < 0.95


def test_difficulty_filters_by_height_occlusion_truncation():
    gt = [[car(0, h=30.0), car(100, occl=1), car(200, trunc=0.4), car(300, occl=2), car(400, h=50.0)]]
    det = [[]]
    n = [evaluate_class(gt, det, "Car", d).n_gt for d in range(3)]
    assert n == [1, 3, 5]


def test_iou_threshold_per_class():
    g = Object2D("Car", (0.0, 0.0, 100.0, 100.0))
    d = Object2D("Car", (0.0, 0.0, 100.0, 62.0), score=0.9)  # IoU 0.62: below 0.7 for cars
    assert evaluate_class([[g]], [[d]], "Car", MOD, "curve").ap40 == 0.0
    gp = Object2D("Pedestrian", g.box)
    dp = Object2D("Pedestrian", d.box, score=0.9)  # above 0.5 for pedestrians
    assert evaluate_class([[gp]], [[dp]], "Pedestrian", MOD, "curve").ap40 == 1.0


def test_no_ground_truth_is_nan_and_formatted():
    res = evaluate([[car(0)]], [[car(0, score=0.9)]], ["Car", "Cyclist"], "curve")
    assert np.isnan(res["Cyclist"]["moderate"].ap40)
    table = format_results(res)
    assert "n/a" in table and "100.00" in table


def _devkit_statistics(f, min_overlap, compute_fp, thresh=0.0):
    """computeStatistics of evaluate_object.cpp transcribed loop for loop, the reference for the
    vectorised version."""
    from squeezeseg.detection.box2d import iou_matrix
    from squeezeseg.detection.kitti_eval import NO_DETECTION, _dontcare_overlap

    n = len(f.det)
    assigned = [False] * n
    below = [compute_fp and f.scores[j] < thresh for j in range(n)]
    ov_m = iou_matrix(f.det, f.gt)
    tp = fp = fn = 0
    for i in range(len(f.gt)):
        if f.ignored_gt[i] == -1:
            continue
        det_idx, valid, max_ov, assigned_ignored = -1, NO_DETECTION, 0.0, False
        for j in range(n):
            if f.ignored_det[j] == -1 or assigned[j] or below[j]:
                continue
            ov = ov_m[j, i]
            if not compute_fp and ov > min_overlap and f.scores[j] > valid:
                det_idx, valid = j, f.scores[j]
            elif (
                compute_fp
                and ov > min_overlap
                and (ov > max_ov or assigned_ignored)
                and f.ignored_det[j] == 0
            ):
                max_ov, det_idx, valid, assigned_ignored = ov, j, 1, False
            elif compute_fp and ov > min_overlap and valid == NO_DETECTION and f.ignored_det[j] == 1:
                det_idx, valid, assigned_ignored = j, 1, True
        if valid == NO_DETECTION and f.ignored_gt[i] == 0:
            fn += 1
        elif valid != NO_DETECTION and (f.ignored_gt[i] == 1 or f.ignored_det[det_idx] == 1):
            assigned[det_idx] = True
        elif valid != NO_DETECTION:
            tp += 1
            assigned[det_idx] = True
    if compute_fp:
        fp = sum(not (assigned[j] or f.ignored_det[j] != 0 or below[j]) for j in range(n))
        dc_ov = _dontcare_overlap(f.det, f.dc)
        for i in range(len(f.dc)):
            for j in range(n):
                if assigned[j] or f.ignored_det[j] != 0 or below[j]:
                    continue
                if dc_ov[j, i] > min_overlap:
                    assigned[j] = True
                    fp -= 1
    return tp, fp, fn


def test_vectorised_statistics_equal_the_devkit_loops():
    from squeezeseg.detection.kitti_eval import _clean, _statistics

    rng = np.random.default_rng(5)
    types = ["Car", "Car", "Car", "Van", "Pedestrian", "DontCare"]
    totals = np.zeros(3)
    for _ in range(60):
        gt = []
        for _ in range(rng.integers(0, 8)):
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(15, 80, 2)
            gt.append(
                Object2D(
                    str(rng.choice(types)),
                    (x, y, x + w, y + h),
                    float(rng.choice([0, 0.2, 0.4])),
                    int(rng.integers(0, 3)),
                )
            )
        det = []
        for g in gt + gt:  # jittered copies: several candidates per object, some too small
            j = rng.normal(0, 4, 4)
            box = tuple(np.sort([g.box[0] + j[0], g.box[2] + j[2]])) + ()
            top, bottom = np.sort([g.box[1] + j[1], g.box[3] + j[3]])
            det.append(
                Object2D(
                    str(rng.choice(["Car", "Pedestrian"])),
                    (box[0], top, box[1], bottom),
                    score=float(rng.uniform()),
                )
            )
        for diff in range(3):
            f, _ = _clean(gt, det, "Car", diff)
            for t in (0.0, 0.3, 0.7):
                stats = _statistics(f, 0.7, True, t)[:3]
                assert stats == _devkit_statistics(f, 0.7, True, t)
                totals += np.array(stats)
            assert _statistics(f, 0.5, False)[:3] == _devkit_statistics(f, 0.5, False)
    assert np.all(totals > 50)  # the cases exercised true positives, false positives and misses
