"""Metrics: SqueezeSeg class/instance P/R/IoU, SemanticKITTI mIoU, confusion matrix, DBSCAN instances."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import jaccard_score, precision_score, recall_score

from squeezeseg.errors import InputError
from squeezeseg.instances import dbscan_instances
from squeezeseg.metrics import (
    class_iou,
    class_scores,
    confusion_matrix,
    instance_scores,
    scores_from_confusion,
    semantic_kitti_miou,
)


def test_confusion_matrix_matches_scikit_learn():
    rng = np.random.default_rng(0)
    gt, pred = rng.integers(0, 4, 1000), rng.integers(0, 4, 1000)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, 4), sk_confusion(gt, pred, labels=range(4)))
    keep = gt != 0
    np.testing.assert_array_equal(
        confusion_matrix(gt, pred, 4, ignore=[0]), sk_confusion(gt[keep], pred[keep], labels=range(4))
    )


def test_class_scores_match_scikit_learn_per_class():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 3, (64, 512))
    pred = np.where(rng.random((64, 512)) < 0.7, gt, rng.integers(0, 3, (64, 512)))
    s = class_scores(gt, pred, 3)
    g, p = gt.ravel(), pred.ravel()
    np.testing.assert_allclose(s.precision, precision_score(g, p, average=None, labels=[0, 1, 2]))
    np.testing.assert_allclose(s.recall, recall_score(g, p, average=None, labels=[0, 1, 2]))
    np.testing.assert_allclose(s.iou, jaccard_score(g, p, average=None, labels=[0, 1, 2]))
    np.testing.assert_allclose(class_iou(gt, pred, 3), s.iou)


def test_class_scores_small_case_by_hand():
    gt = np.array([1, 1, 1, 1, 0, 0, 0, 2])
    pred = np.array([1, 1, 0, 2, 1, 0, 0, 2])
    s = class_scores(gt, pred, 3)
    # car (1): P = {0, 1, 4}, G = {0, 1, 2, 3}: 2 shared, union 5
    assert s.precision[1] == pytest.approx(2 / 3)
    assert s.recall[1] == pytest.approx(2 / 4)
    assert s.iou[1] == pytest.approx(2 / 5)
    absent = scores_from_confusion(confusion_matrix(np.array([0]), np.array([0]), 2))
    assert np.isnan(absent.iou[1]) and absent.iou[0] == 1.0
    assert s.as_dict(["bg", "car", "ped"])["car"]["iou"] == pytest.approx(0.4)


def test_semantic_kitti_miou_ignores_class_zero_on_both_axes():
    # rows = gt, cols = pred; class 0 is "unlabeled"
    conf = np.array([[50, 5, 5], [3, 20, 2], [4, 6, 30]])
    miou, iou = semantic_kitti_miou(conf, ignore=[0])
    # class 1: tp 20, fp (pred 1, gt not 0 or 1) 6, fn (gt 1, pred not 0 or 1) 2
    assert iou[1] == pytest.approx(20 / 28)
    assert iou[2] == pytest.approx(30 / 38)
    assert miou == pytest.approx((20 / 28 + 30 / 38) / 2)
    # a class that never occurs scores 0 and still counts in the mean (semantic-kitti-api behaviour)
    conf4 = np.zeros((4, 4))
    conf4[:3, :3] = conf
    miou4, iou4 = semantic_kitti_miou(conf4, ignore=[0])
    assert iou4[3] == 0.0 and miou4 == pytest.approx((20 / 28 + 30 / 38) / 3)


def test_instance_scores_match_largest_ground_truth_first():
    # class 1 only. GT: A = points 0-5 (6 points), B = points 6-8 (3 points).
    # Prediction: instance 7 covers 3 of A and all of B (IoU with A 3/9, with B 3/6);
    #             instance 8 covers the other 3 of A (IoU with A 3/6).
    gt_c = np.ones(9, int)
    gt_i = np.array([1, 1, 1, 1, 1, 1, 2, 2, 2])
    pr_c = np.ones(9, int)
    pr_i = np.array([7, 7, 7, 8, 8, 8, 7, 7, 7])
    s = instance_scores(gt_c, gt_i, pr_c, pr_i, num_classes=2)
    # A (largest) takes 8 (IoU 0.5 > 1/3); B then takes 7 (IoU 0.5): matched 3 + 3 = 6 points
    assert s.precision[1] == pytest.approx(6 / 9)
    assert s.recall[1] == pytest.approx(6 / 9)
    assert s.iou[1] == pytest.approx(6 / 9)
    assert np.isnan(s.iou[0])  # class 0 ignored by default


def test_instance_scores_one_prediction_matches_one_ground_truth_only():
    gt_c = np.array([1] * 10 + [0] * 2)
    gt_i = np.array([1] * 6 + [2] * 4 + [0] * 2)
    pr_c = np.array([1] * 12)  # two background points predicted as car too
    pr_i = np.array([5] * 12)  # one merged prediction
    s = instance_scores(gt_c, gt_i, pr_c, pr_i, num_classes=2)
    # the larger GT (6 points) takes instance 5; the smaller one is left unmatched
    assert s.precision[1] == pytest.approx(6 / 12)
    assert s.recall[1] == pytest.approx(6 / 10)
    assert s.iou[1] == pytest.approx(6 / 12)  # |P u G| = 12
    perfect = instance_scores(gt_c, gt_i, gt_c, gt_i * 3, num_classes=2)
    assert perfect.iou[1] == pytest.approx(1.0) and perfect.precision[1] == pytest.approx(1.0)


def test_ignore_labels_outside_the_class_range_are_dropped_first():
    gt = np.array([0, 1, 255, 255, 1])
    pred = np.array([0, 1, 1, 0, 0])
    conf = confusion_matrix(gt, pred, 2, ignore=[255])
    np.testing.assert_array_equal(conf, [[1, 0], [1, 1]])


def test_metric_inputs_are_checked():
    with pytest.raises(InputError, match="labels"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(InputError, match="0..1"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(InputError, match="instance labels"):
        instance_scores(np.ones(3), np.ones(2), np.ones(3), np.ones(2), 2)


def test_dbscan_instances_split_separate_objects_and_classes():
    rng = np.random.default_rng(2)
    def blob(lo, hi, n):  # dense enough for eps 0.3 m / 20 points, like a car's surface
        return rng.uniform(lo, hi, (n, 3))

    car_a = blob([9.5, -0.3, -0.3], [10.5, 0.3, 0.3], 200)
    car_b = blob([19.5, 4.7, -0.3], [20.5, 5.3, 0.3], 150)
    ped = blob([10.55, -0.2, -0.3], [10.85, 0.2, 0.3], 60)  # touching car_a, but another class
    sparse = rng.uniform(-50, 50, (10, 3))  # noise: fewer than 20 neighbours
    ground = rng.uniform(-30, 30, (300, 3))
    pts = np.concatenate([car_a, car_b, ped, sparse, ground]).astype(np.float32)
    cls = np.array([1] * 350 + [2] * 60 + [1] * 10 + [0] * 300)
    inst = dbscan_instances(pts, cls)
    a, b, p = inst[:200], inst[200:350], inst[350:410]
    assert len(set(a)) == 1 and len(set(b)) == 1 and len(set(p)) == 1
    assert len({a[0], b[0], p[0]}) == 3 and min(a[0], b[0], p[0]) >= 1
    assert np.all(inst[410:420] == 0) and np.all(inst[420:] == 0)
    assert inst.max() == 3
    with pytest.raises(InputError):
        dbscan_instances(pts[:, :2], cls)
