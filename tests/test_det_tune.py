"""Issue #23: per-class score thresholds (tuned on simulated images only), class-aware post-processing,
the Van class, fine-tuning head transfer, and AP on small hand-made sets whose values are worked out
by hand in the comments."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from squeezeseg.detection.kitti_eval import counts_at_thresholds, evaluate_class
from squeezeseg.detection.labels import Object2D
from squeezeseg.detection.model import SqueezeDetConfig
from squeezeseg.detection.postprocess import filter_detections
from squeezeseg.detection.tune import best_threshold, check_simulated
from squeezeseg.errors import InputError

MOD = 1


def obj(x: float, score: float | None = None, label: str = "Car", h: float = 50.0) -> Object2D:
    return Object2D(label, (x, 100.0, x + 60.0, 100.0 + h), 0.0, 0, score)


def ranked_case() -> tuple[list[list[Object2D]], list[list[Object2D]]]:
    """4 cars; detections by score: 0.9 TP, 0.8 TP, 0.7 FP, 0.6 TP, 0.5 FP, 0.4 FP."""
    gts = [[obj(0), obj(100), obj(200), obj(300)]]
    dets = [[obj(0, 0.9), obj(100, 0.8), obj(1000, 0.7), obj(200, 0.6), obj(1100, 0.5), obj(1200, 0.4)]]
    return gts, dets


def test_counts_at_thresholds_follow_the_ranking():
    gts, dets = ranked_case()
    tp, fp, fn = counts_at_thresholds(gts, dets, "Car", [0.9, 0.7, 0.6, 0.4])
    assert tp.tolist() == [1, 2, 3, 3] and fp.tolist() == [0, 1, 1, 3] and fn.tolist() == [3, 2, 1, 1]


def test_best_threshold_maximises_f1_worked_by_hand():
    # threshold: P, R, F1 -> 0.9: 1, .25, .40 | 0.8: 1, .5, .667 | 0.7: .667, .5, .571
    # | 0.6: .75, .75, .75 (best) | 0.5: .6, .75, .667 | 0.4: .5, .75, .6
    gts, dets = ranked_case()
    t = best_threshold(gts, dets, "Car", min_precision=0.0)
    assert t.threshold == pytest.approx(0.6)
    assert (t.precision, t.recall, t.f_score, t.n_gt) == pytest.approx((0.75, 0.75, 0.75, 4))


def test_best_threshold_respects_the_precision_floor():
    # precision >= 0.8 only at 0.9 (F .40) and 0.8 (F .667): 0.8 wins
    gts, dets = ranked_case()
    t = best_threshold(gts, dets, "Car", min_precision=0.8)
    assert t.threshold == pytest.approx(0.8) and t.precision == 1.0 and t.recall == 0.5


def test_a_class_never_precise_enough_is_switched_off():
    gts = [[obj(0, label="Pedestrian")]]
    dets = [[obj(500, 0.9, "Pedestrian"), obj(700, 0.8, "Pedestrian")]]  # only false positives
    t = best_threshold(gts, dets, "Pedestrian")
    assert t.threshold == 1.0 and t.recall == 0.0 and t.n_gt == 1
    assert best_threshold(gts, [[]], "Pedestrian").threshold == 1.0  # no detection at all


def test_tuning_refuses_a_folder_the_simulator_did_not_write(tmp_path):
    real = tmp_path / "kitti" / "training"
    real.mkdir(parents=True)
    with pytest.raises(InputError, match="not a simulated dataset"):
        check_simulated(real)
    sim = tmp_path / "sim"
    (sim / "training").mkdir(parents=True)
    (sim / "lidarsim.json").write_text("{}")
    assert check_simulated(sim / "training") == sim.resolve()


def test_tune_cli_exits_2_on_real_labels_before_loading_a_model(tmp_path, capsys):
    from squeezeseg.detection.cli import main

    (tmp_path / "image_2").mkdir()
    assert main(["tune", str(tmp_path), "--model", str(tmp_path / "none.keras")]) == 2
    assert "not a simulated dataset" in capsys.readouterr().err


def test_curve_ap_with_a_false_positive_between_two_hits():
    # 2 cars; detections 0.9 TP, 0.8 FP, 0.7 TP. Curve: (R .5, P 1), then (R 1, P 2/3).
    # AP|R40 = (20 x 1 + 20 x 2/3) / 40 = 5/6; AP|R11 = (6 x 1 + 5 x 2/3) / 11 = 28/33.
    gts = [[obj(0), obj(100)]]
    dets = [[obj(0, 0.9), obj(1000, 0.8), obj(100, 0.7)]]
    r = evaluate_class(gts, dets, "Car", MOD, "curve")
    assert r.ap40 == pytest.approx(5 / 6) and r.ap11 == pytest.approx(28 / 33)


def test_curve_ap_over_two_folders_equals_one_folder_of_both():
    # the same frames split into two lists evaluate as one set (evaluate CLI: several DATA folders)
    gts = [[obj(0)], [obj(100)]]
    dets = [[obj(0, 0.9), obj(1000, 0.8)], [obj(100, 0.7)]]
    r = evaluate_class(gts, dets, "Car", MOD, "curve")
    assert r.ap40 == pytest.approx(5 / 6) and r.n_gt == 2


def test_van_is_held_to_the_car_overlap_and_a_car_box_on_a_van_is_no_false_car():
    gt = [[obj(0, label="Van")]]
    shifted = Object2D("Van", (10.0, 100.0, 70.0, 150.0), 0.0, 0, 0.9)  # IoU 50/70 = 0.714
    further = Object2D("Van", (15.0, 100.0, 75.0, 150.0), 0.0, 0, 0.9)  # IoU 45/75 = 0.6
    assert evaluate_class(gt, [[shifted]], "Van", MOD, "curve").ap40 == pytest.approx(1.0)
    assert evaluate_class(gt, [[further]], "Van", MOD, "curve").ap40 == 0.0
    # a Car detection on the van: the van is Car's neighbour class, ignored, so no false positive
    both = [[obj(0, label="Van"), obj(200)]]
    r = evaluate_class(both, [[obj(0, 0.95), obj(200, 0.9)]], "Car", MOD, "curve")
    assert r.ap40 == pytest.approx(1.0) and r.n_gt == 1


def test_filter_detections_applies_one_threshold_per_class():
    boxes = np.array([[0, 0, 10, 10], [100, 0, 110, 10], [200, 0, 210, 10]], float)
    probs = np.array([[0.5, 0.0], [0.0, 0.5], [0.9, 0.0]])  # class 0, class 1, class 0
    d = filter_detections(boxes, probs, score_threshold=np.array([0.6, 0.4]))
    assert d.classes.tolist() == [0, 1] and d.scores.tolist() == pytest.approx([0.9, 0.5])
    d = filter_detections(boxes, probs, score_threshold=0.6)  # one number: every class
    assert d.classes.tolist() == [0]


def test_class_aware_nms_keeps_overlapping_boxes_of_different_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]], float)
    probs = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.7]])
    d = filter_detections(boxes, probs, nms_threshold=0.4)
    assert sorted(d.classes.tolist()) == [0, 1] and len(d) == 2  # the same-class duplicate is gone


def test_config_score_thresholds_and_their_validation():
    cfg = SqueezeDetConfig(class_score_thresholds={"Car": 0.7}, score_threshold=0.05)
    assert cfg.score_thresholds().tolist() == pytest.approx([0.7, 0.05, 0.05])
    with pytest.raises(ValueError, match="lacks"):
        SqueezeDetConfig(class_score_thresholds={"Tram": 0.5})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SqueezeDetConfig(class_score_thresholds={"Car": 1.5})


def test_head_channel_map_starts_van_from_car():
    from squeezeseg.detection.train import head_channel_map

    old = SqueezeDetConfig(anchor_shapes=[[10, 10], [20, 20]])  # K = 2, classes Car, Pedestrian, Cyclist
    new = dataclasses.replace(old, classes=["Car", "Van", "Pedestrian", "Tram"])
    m = head_channel_map(new, old)
    # old: class logits k*3 + c (6), confidences 6..7, deltas 8..15; new: k*4 + c (8), conf 8..9, deltas
    assert m[:8].tolist() == [0, 0, 1, -1, 3, 3, 4, -1]
    assert m[8:10].tolist() == [6, 7] and m[10:].tolist() == list(range(8, 16))


def test_transfer_weights_copies_backbone_and_maps_the_head():
    from squeezeseg.detection.model import build_squeezedet
    from squeezeseg.detection.train import transfer_weights

    fires = [[4, 8, 8]] * 4 + [[8, 16, 16]] * 6
    old_cfg = SqueezeDetConfig(input_width=64, input_height=32, conv1=[8, 3], fires=fires,
                               anchor_shapes=[[10, 10], [20, 20]], anchors_at=[64, 32])
    new_cfg = dataclasses.replace(old_cfg, classes=["Car", "Van", "Pedestrian", "Cyclist"])
    old, new = build_squeezedet(old_cfg), build_squeezedet(new_cfg)
    rng = np.random.default_rng(0)
    old.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in old.get_weights()])
    transfer_weights(new, new_cfg, old, old_cfg)
    conv1 = [m.get_layer("conv1").get_weights()[0] for m in (new, old)]
    np.testing.assert_array_equal(*conv1)
    k_new, k_old = new.get_layer("conv_det").get_weights()[0], old.get_layer("conv_det").get_weights()[0]
    np.testing.assert_array_equal(k_new[..., 1], k_old[..., 0])  # anchor 0: Van from Car
    np.testing.assert_array_equal(k_new[..., 4 + 3], k_old[..., 3 + 2])  # anchor 1: Cyclist
    np.testing.assert_array_equal(k_new[..., 8:], k_old[..., 6:])  # confidences and deltas


def test_photometric_randomises_the_camera_response_not_the_geometry():
    from squeezeseg.detection.data import photometric

    img = np.zeros((32, 48, 3), np.uint8)
    img[8:24, 12:36] = 200  # a bright object on black
    outs = [photometric(img, np.random.default_rng(s)) for s in range(6)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    means = [o[12:20, 16:32].mean() for o in outs]
    assert max(means) - min(means) > 20  # the exposure differs from draw to draw
    for o in outs:  # the object stays where it was: brighter inside than around it
        assert o[12:20, 16:32].mean() > o[:4].mean() + 50
    np.testing.assert_array_equal(photometric(img, np.random.default_rng(1)), outs[1])


def test_photometric_leaves_the_renderers_colour_response_alone():
    """The renderer draws white balance, saturation and gamma per sequence (simulation.camera_style), so
    the training-time randomisation keeps colour ratios and stays within its narrow exposure range."""
    from squeezeseg.detection.data import PHOTOMETRIC_EXPOSURE, photometric

    img = np.zeros((40, 40, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 60, 120, 180  # a bluish surface, far from clipping
    for seed in range(20):
        out = photometric(img, np.random.default_rng(seed)).reshape(-1, 3).mean(axis=0)
        ratio = out / np.array([60.0, 120.0, 180.0])
        assert ratio.max() - ratio.min() < 0.02  # one gain for all channels: no white balance
        assert PHOTOMETRIC_EXPOSURE[0] - 0.02 < ratio.mean() < PHOTOMETRIC_EXPOSURE[1] + 0.02


def test_one_iou_for_every_class_is_a_looser_diagnostic():
    from squeezeseg.detection.kitti_eval import evaluate

    gts = [[obj(0)]]
    dets = [[Object2D("Car", (10.0, 100.0, 70.0, 150.0), 0.0, 0, 0.9)]]  # IoU 50/70 = 0.714
    loose = [[Object2D("Car", (15.0, 100.0, 75.0, 150.0), 0.0, 0, 0.9)]]  # IoU 0.6: misses the car's 0.7
    assert evaluate(gts, dets, ["Car"], "curve")["Car"]["moderate"].ap40 == pytest.approx(1.0)
    assert evaluate(gts, loose, ["Car"], "curve")["Car"]["moderate"].ap40 == 0.0
    diag = evaluate(gts, loose, ["Car"], "curve", min_overlap=0.5)
    assert diag["Car"]["moderate"].ap40 == pytest.approx(1.0)
