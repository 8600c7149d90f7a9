"""Duplicate suppression of box proposals in bird's-eye view (latte.core.nms): the overlap measure,
which proposal is kept, and real KITTI frames where duplicated 2D detections give duplicate 3D
proposals through camera fusion."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.config import load_latte_config
from latte.core.detector import Detection2D
from latte.core.fusion import frustum_proposals
from latte.core.model_worker import arrays_to_boxes, boxes_to_arrays
from latte.core.nms import bev_overlap, nms_boxes, overlapping_pairs, suppress_duplicates
from latte.core.oneclick import OneClickAnnotator
from squeezeseg.boxes import Box3D


def car(x, y, yaw=0.0, l=4.0, w=1.8, score=None, n=0):
    return Box3D(center=(x, y, -1.0), size=(l, w, 1.5), yaw=yaw, score=score,
                 point_indices=np.arange(n) if n else None)


def test_overlap_is_intersection_over_the_smaller_footprint():
    big = car(10, 0)
    assert bev_overlap(big, big) == pytest.approx(1.0)
    inside = car(10, 0, l=1.0, w=0.6)                       # IoU 0.08, but wholly inside
    assert big.bev_iou(inside) < 0.1 and bev_overlap(big, inside) == pytest.approx(1.0)
    assert bev_overlap(big, car(12, 0)) == pytest.approx(0.5)
    assert bev_overlap(big, car(10, 1.9)) == 0.0             # side by side, apart
    assert bev_overlap(big, car(10, 0, yaw=np.pi / 2)) == pytest.approx(1.8 * 1.8 / (4 * 1.8))


def test_nms_keeps_higher_score_then_larger_support_and_spares_neighbours():
    boxes = [
        car(10, 0, score=0.6, n=300),
        car(10.3, 0.1, yaw=0.1, score=0.9, n=200),            # duplicate, better score: kept
        car(10, 1.85, score=0.5, n=100),                       # touching neighbour (5 cm overlap): kept
        car(20, 5, n=50), car(20.2, 5, n=80),                  # no scores: more points wins
        car(20, 5.4, l=1.0, w=0.6, n=30),                      # inside the kept one: suppressed
    ]
    assert suppress_duplicates(boxes) == [1, 2, 4]             # best first
    assert suppress_duplicates([car(0, 0, score=0.5, n=10), car(0.2, 0, score=0.5, n=20)]) == [1]
    assert overlapping_pairs(nms_boxes(boxes)) == []
    assert overlapping_pairs(boxes) == [(0, 1), (3, 4), (3, 5), (4, 5)]
    assert nms_boxes([]) == [] and overlapping_pairs([car(0, 0)]) == []


def test_boxes_round_trip_through_plain_arrays():
    boxes = [car(10, 0, yaw=0.3, score=0.7, n=12), car(-4, 2.5).replace(label="Pedestrian")]
    data = boxes_to_arrays(boxes)
    assert data["boxes"].shape == (2, 7) and list(data["support"]) == [12, 0]
    back = arrays_to_boxes(data)
    assert back == [b.replace(point_indices=None) for b in boxes]
    assert back[0].score == pytest.approx(0.7) and back[1].score is None
    assert arrays_to_boxes(boxes_to_arrays([])) == []


def test_duplicate_detections_on_real_kitti_frames(kitti_object, shared_data):
    """Every labelled object of the six real frames detected twice (its 2D box and a shifted copy,
    as two overlapping detector outputs): camera fusion grows the same cluster twice; NMS leaves no
    overlapping pair and loses no object that a proposal had found."""
    from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points

    cfg = load_latte_config()
    raw_pairs = kept_pairs = found_raw = found_kept = 0
    more = shared_data / "kitti_object_more" / "training"
    frames = [(kitti_object, f) for f in ("000000", "000001", "000002")]
    frames += [(more, p.stem) for p in sorted((more / "label_2").glob("*.txt"))]
    for root, frame in frames:
        calib = read_kitti_calib(root / "calib" / f"{frame}.txt")
        truth = [b for b in read_kitti_labels(root / "label_2" / f"{frame}.txt", calib)
                 if b.box2d is not None and b.label != "DontCare"]
        dets = []
        for b in truth:
            l, t, r, bt = b.box2d
            dx, dy = 0.06 * (r - l), 0.04 * (bt - t)
            dets.append(Detection2D((l, t, r, bt), b.label, 0.9))
            dets.append(Detection2D((l + dx, t + dy, r + dx, bt + dy), b.label, 0.6))
        ann = OneClickAnnotator(cfg)
        ann.set_frame(read_points(root / "velodyne" / f"{frame}.bin"))
        raw = frustum_proposals(ann, calib, dets, image_size=(1242, 375))
        kept = nms_boxes(raw)
        raw_pairs += len(overlapping_pairs(raw))
        kept_pairs += len(overlapping_pairs(kept))
        found_raw += sum(1 for b in truth if raw and max(p.bev_iou(b) for p in raw) > 0.5)
        found_kept += sum(1 for b in truth if kept and max(p.bev_iou(b) for p in kept) > 0.5)
    assert raw_pairs >= 10, "the duplicated detections should give duplicate proposals"
    assert kept_pairs == 0
    assert found_kept >= found_raw - 1 and found_kept >= 3
