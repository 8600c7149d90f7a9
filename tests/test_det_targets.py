"""Anchors, anchor assignment, delta encoding and decoding, post-processing and NMS."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.detection.anchors import anchor_grid, kmeans_anchor_shapes, scale_shapes
from squeezeseg.detection.box2d import cxcywh_to_xyxy, iou_matrix, xyxy_to_cxcywh
from squeezeseg.detection.postprocess import decode_boxes, filter_detections, nms, postprocess, split_output
from squeezeseg.detection.targets import assign
from squeezeseg.errors import InputError

SHAPES = np.array([[20.0, 20.0], [60.0, 30.0], [20.0, 50.0]])


def grid() -> np.ndarray:
    return anchor_grid(SHAPES, (320, 96), (20, 6))


def test_anchor_grid_layout_row_major_shapes_innermost():
    a = grid()
    assert a.shape == (6 * 20 * 3, 4)
    assert np.allclose(a[0], [8, 8, 20, 20]) and np.allclose(a[2], [8, 8, 20, 50])
    assert np.allclose(a[3, :2], [24, 8])  # next column
    assert np.allclose(a[20 * 3, :2], [8, 24])  # next row


def test_kmeans_recovers_clusters_and_needs_enough_boxes():
    rng = np.random.default_rng(0)
    centres = np.array([[30, 30], [100, 50], [40, 90]], float)
    sizes = np.concatenate([c + rng.normal(0, 2, (50, 2)) for c in centres])
    shapes = kmeans_anchor_shapes(sizes, k=3)
    for c in centres:
        assert np.min(np.linalg.norm(shapes - c, axis=1)) < 2.0
    with pytest.raises(InputError):
        kmeans_anchor_shapes(sizes[:2], k=3)
    assert np.allclose(scale_shapes([[100, 40]], (1248, 384), (624, 192)), [[50, 20]])


def test_assignment_takes_best_anchor_and_decodes_back():
    anchors = grid()
    gt = np.array([[50.0, 20.0, 110.0, 52.0], [200.0, 10.0, 222.0, 58.0]])
    t = assign(anchors, gt, np.array([0, 2]))
    chosen = np.flatnonzero(t.mask)
    assert len(chosen) == 2
    ious = iou_matrix(gt, cxcywh_to_xyxy(anchors))
    assert set(chosen) == {int(np.argmax(ious[0])), int(np.argmax(ious[1]))}
    decoded = decode_boxes(anchors[chosen], t.deltas[chosen], (320, 96))
    order = np.argsort(t.boxes[chosen][:, 0])
    assert np.allclose(decoded[order], gt, atol=1e-3)
    assert list(t.labels[chosen][order]) == [0, 2]
    packed = t.packed(3)
    assert packed.shape == (len(anchors), 12) and packed[:, 9:].sum() == 2


def test_identical_boxes_get_distinct_anchors_and_far_box_gets_nearest():
    anchors = grid()
    gt = np.array([[50.0, 20.0, 110.0, 52.0]] * 2 + [[1000.0, 500.0, 1010.0, 510.0]])
    t = assign(anchors, gt, np.zeros(3, int))
    assert t.mask.sum() == 3  # every object has its own anchor, even with zero IoU everywhere
    empty = assign(anchors, np.zeros((0, 4)), np.zeros(0, int))
    assert empty.mask.sum() == 0 and not empty.deltas.any()


def test_positive_iou_adds_every_overlapping_anchor_for_the_object_it_overlaps_most():
    anchors = grid()
    gt = np.array([[50.0, 20.0, 110.0, 52.0], [200.0, 10.0, 222.0, 58.0]])
    ious = iou_matrix(gt, cxcywh_to_xyxy(anchors))
    one = assign(anchors, gt, np.array([0, 2]))
    t = assign(anchors, gt, np.array([0, 2]), positive_iou=0.4)
    expected = set(np.flatnonzero(ious.max(axis=0) >= 0.4)) | set(np.flatnonzero(one.mask))
    assert set(np.flatnonzero(t.mask == 1)) == expected and len(expected) > 2
    pos = np.flatnonzero(t.mask == 1)
    owner = ious[:, pos].argmax(axis=0)
    assert np.array_equal(t.labels[pos], np.array([0, 2])[owner])
    decoded = decode_boxes(anchors[pos], t.deltas[pos], (320, 96))  # every positive regresses to its box
    assert np.allclose(decoded, gt[owner], atol=1e-3)
    assert np.allclose(t.boxes[pos], xyxy_to_cxcywh(gt)[owner], atol=1e-4)
    assert t.packed(3)[:, 9:].sum() == len(pos)


def test_positive_iou_keeps_each_objects_own_anchor_and_counts_dontcare_and_the_boundary():
    anchors = grid()
    a, b = np.array([40.0, 10.0, 100.0, 40.0]), np.array([52.0, 12.0, 112.0, 42.0])  # overlapping cars
    gt = np.stack([a, b])
    ious = iou_matrix(gt, cxcywh_to_xyxy(anchors))
    one = assign(anchors, gt, np.array([0, 1]))
    t = assign(anchors, gt, np.array([0, 1]), positive_iou=0.3)
    for g in (0, 1):  # each object's paper anchor is still responsible for that object
        own = np.flatnonzero((one.mask == 1) & (one.labels == g))
        assert len(own) == 1 and t.mask[own[0]] == 1 and t.labels[own[0]] == g
    threshold = float(np.sort(ious.max(axis=0))[-5])  # an anchor exactly at the threshold is positive
    at = assign(anchors, gt, np.array([0, 1]), positive_iou=threshold)
    assert at.mask[np.argsort(ious.max(axis=0))[-5]] == 1
    region = np.array([[0.0, 0.0, 320.0, 96.0]])  # DontCare over everything: overlapping anchors still count
    d = assign(anchors, gt, np.array([0, 1]), ignore=region, positive_iou=0.3)
    assert np.array_equal(d.mask == 1, t.mask == 1) and (d.mask == 0).sum() == 0
    with pytest.raises(ValueError, match="2 boxes but 1 labels"):
        assign(anchors, gt, np.array([0]))


def test_split_output_matches_channel_layout():
    K, C, H, W = 3, 2, 2, 4
    out = np.arange(H * W * K * (C + 5), dtype=np.float32).reshape(1, H, W, K * (C + 5))
    cls, conf, deltas = split_output(out, K, C)
    assert (
        cls.shape == (1, H * W * K, C) and conf.shape == (1, H * W * K) and deltas.shape == (1, H * W * K, 4)
    )
    # anchor 1 of cell (0, 0): class logits at channels 2..3, confidence at K*C + 1, deltas at K*C+K+4..+7
    assert list(cls[0, 1]) == [2, 3] and conf[0, 1] == K * C + 1 and list(deltas[0, 1]) == [13, 14, 15, 16]


def test_nms_agrees_with_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (64, 2))
    boxes = np.c_[xy, xy + rng.uniform(10, 60, (64, 2))]
    scores = rng.uniform(0, 1, 64)
    for t in (0.3, 0.4, 0.6):
        ours = nms(boxes, scores, t)
        ref = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, 64, iou_threshold=t).numpy()
        assert list(ours) == list(ref)


def test_filter_keeps_top_n_and_suppresses_within_class_only():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10.5], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    probs = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.1, 0.0]])
    d = filter_detections(boxes, probs, top_n=3, nms_threshold=0.4)
    assert list(d.classes) == [0, 1] and np.allclose(d.scores, [0.9, 0.7])  # box 3 is outside the top 3
    d = filter_detections(boxes, probs, top_n=64, nms_threshold=0.4, score_threshold=0.5)
    assert len(d) == 2


def test_postprocess_decodes_a_planted_detection():
    K, C, H, W = 3, 3, 6, 20
    anchors = grid()
    out = np.zeros((1, H, W, K * (C + 5)), np.float32)
    out[..., K * C : K * C + K] = -10.0  # confidence ~0 everywhere
    cell, k = (2, 5), 1
    a = anchors[(cell[0] * W + cell[1]) * K + k]
    out[0, cell[0], cell[1], k * C + 2] = 8.0  # class 2
    out[0, cell[0], cell[1], K * C + k] = 10.0
    out[0, cell[0], cell[1], K * C + K + 4 * k : K * C + K + 4 * k + 4] = [0.1, 0.0, np.log(1.5), 0.0]
    det = postprocess(out, anchors, C, (320, 96), score_threshold=0.5)[0]
    assert len(det) == 1 and det.classes[0] == 2
    want = cxcywh_to_xyxy([[a[0] + 0.1 * a[2], a[1], a[2] * 1.5, a[3]]])[0]
    assert np.allclose(det.boxes[0], want, atol=1e-3)
    assert np.allclose(xyxy_to_cxcywh(det.boxes)[0, 2:], [a[2] * 1.5, a[3]], atol=1e-3)


def test_anchors_centred_in_a_dontcare_region_are_ignored_unless_responsible():
    anchors = grid()
    region = np.array([[100.0, 0.0, 160.0, 40.0]])
    inside = (anchors[:, 0] >= 100) & (anchors[:, 0] <= 160) & (anchors[:, 1] <= 40)
    t = assign(anchors, np.zeros((0, 4)), np.zeros(0, int), ignore=region)
    assert np.array_equal(t.mask == -1, inside) and inside.sum() > 0
    gt = np.array([[110.0, 5.0, 150.0, 35.0]])  # an object inside the region keeps its anchor
    t = assign(anchors, gt, np.array([1]), ignore=region)
    assert (t.mask == 1).sum() == 1 and (t.mask == -1).sum() == inside.sum() - 1
    packed = t.packed(3)
    assert packed[:, 9:].sum() == 1 and packed[:, 9:].min() == 0  # no one-hot on ignored anchors
