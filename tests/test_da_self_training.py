"""Self-training: the plausibility rules of car pseudo-labels, the per-point decisions, the files a
pseudo-labelled folder holds, and the training reader's handling of "unlabeled" points."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ring_scan

from domain_adapt.self_training import (
    BACKGROUND_ID,
    CAR_ID,
    IGNORE_ID,
    PseudoLabelRules,
    ScanPrediction,
    Segment,
    car_threshold,
    decide,
    segment_excess,
    write_pseudo_labelled,
)

GROUND = -1.73
RULES = PseudoLabelRules()


def box_surface(length, width, height, bottom=0.0, n=600, seed=0, centre=(10.0, 3.0)):
    """Points on the faces a sensor at the origin sees (the near end, the near side, the top) of an
    axis-aligned box at ``centre`` standing ``bottom`` m above the ground."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-0.5, 0.5, (n, 3)) * [length, width, height]
    side = rng.integers(0, 3, n)
    u[side == 0, 0] = -np.sign(centre[0]) * length / 2
    u[side == 1, 1] = -np.sign(centre[1]) * width / 2
    u[side == 2, 2] = height / 2
    u[:, 2] += GROUND + bottom + height / 2
    return u + [centre[0], centre[1], 0.0]


def test_a_car_is_plausible_and_hedges_poles_canopies_and_road_are_not():
    assert segment_excess(box_surface(4.0, 1.8, 1.5), GROUND, RULES) <= 0
    rotated = box_surface(4.0, 1.8, 1.5)
    c, s = np.cos(0.7), np.sin(0.7)
    rotated[:, :2] = rotated[:, :2] @ np.array([[c, -s], [s, c]])
    assert segment_excess(rotated, GROUND, RULES) <= 0  # the footprint's own axes, not x/y
    assert segment_excess(box_surface(12.0, 1.9, 1.5), GROUND, RULES) <= 0  # a row of parked cars
    far = {
        "hedge block": box_surface(9.0, 5.0, 1.2),
        "pole": box_surface(0.2, 0.2, 3.0),
        "canopy": box_surface(3.0, 2.0, 1.5, bottom=2.0),
        "road patch": box_surface(3.0, 2.0, 0.1),
        "bus": box_surface(12.0, 2.5, 3.5),
    }
    for name, pts in far.items():
        assert segment_excess(pts, GROUND, RULES) > RULES.reject_margin, name


def test_car_threshold_keeps_the_most_confident_plausible_share():
    segs = [Segment(np.zeros((2, 2), bool), 0.0 if k < 10 else 2.0, k / 10) for k in range(20)]
    scans = [ScanPrediction(None, np.zeros((2, 2), np.int32), segs)]
    th = car_threshold(scans, PseudoLabelRules(car_keep=0.3))
    confident = [s.confidence for s in segs if s.excess <= 0 and s.confidence >= th]
    assert len(confident) == 3 and min(confident) == pytest.approx(0.7)
    assert car_threshold([], RULES) == 1.0  # nothing plausible: no car pseudo-label


def test_decide_labels_every_point_of_its_pixel(segmenter):
    points = ring_scan(4000, seed=3)
    prep = segmenter.prepare(points)
    h, w = prep.ri.index.shape
    labels = np.full((h, w), BACKGROUND_ID, np.int32)
    masks = [np.zeros((h, w), bool) for _ in range(3)]
    for k, m in enumerate(masks):
        m[:, k * 40:(k + 1) * 40] = True
    segs = [Segment(masks[0], -0.5, 0.9),  # plausible, confident: car
            Segment(masks[1], -0.5, 0.1),  # plausible, unsure: ignored
            Segment(masks[2], 3.0, 0.9)]  # implausible: background
    res = decide(ScanPrediction(prep, labels, segs), 0.5, RULES)
    assert (res.cars_kept, res.cars_ignored, res.cars_rejected) == (1, 1, 1)
    ri = prep.ri
    inside = ri.rows >= 0
    col = ri.cols[inside]
    ids = res.ids[inside] if prep.keep is None else res.ids[prep.keep][inside]
    assert np.all(ids[col < 40] == CAR_ID)
    assert np.all(ids[(col >= 40) & (col < 80)] == IGNORE_ID)
    assert np.all(ids[col >= 80] == BACKGROUND_ID)
    assert res.shares()["car"] == pytest.approx((ids == CAR_ID).sum() / len(res.ids))
    strict = decide(ScanPrediction(prep, labels, segs), 0.5, PseudoLabelRules(undecided_background=True))
    strict_ids = strict.ids[inside] if prep.keep is None else strict.ids[prep.keep][inside]
    assert np.all(strict_ids[(col >= 40) & (col < 80)] == BACKGROUND_ID)  # undecided: not car
    assert np.all(strict_ids[col < 40] == CAR_ID)


def test_pseudo_labelled_folder_trains_as_semantickitti(segmenter, tmp_path):
    from squeezeseg.data.sources import load_semantickitti, semantickitti_class_table, semantickitti_frames
    from squeezeseg.io import read_points, read_semantickitti_labels, write_points

    scans = []
    for k in range(3):
        scans.append(tmp_path / "in" / f"s{k}.pcd")
        scans[-1].parent.mkdir(exist_ok=True)
        write_points(scans[-1], ring_scan(3000, seed=k))
    summary = write_pseudo_labelled(segmenter, scans, tmp_path / "out", progress=False)
    assert summary["scans"] == 3
    assert summary["car"] + summary["background"] + summary["ignored"] == pytest.approx(1.0, abs=1e-3)
    pairs = semantickitti_frames(tmp_path / "out", "train")
    assert len(pairs) == 3
    for (scan, lab), src in zip(pairs, scans):
        np.testing.assert_array_equal(read_points(scan), read_points(src)[:, :4])
        ids, _ = read_semantickitti_labels(lab, n_points=3000)
        assert set(np.unique(ids)) <= {IGNORE_ID, CAR_ID, BACKGROUND_ID}
    cfg = segmenter.config
    proj = segmenter.projection
    image, labels = load_semantickitti(pairs[0], proj, semantickitti_class_table(cfg), cfg)
    ids, _ = read_semantickitti_labels(pairs[0][1])
    ri = proj.project(read_points(pairs[0][0]))
    shown = ri.index >= 0
    shown_ids = ids[ri.index[shown]]
    assert np.all(labels[shown][shown_ids == IGNORE_ID] == -1)  # "unlabeled" is left out of the loss
    assert np.all(labels[shown][shown_ids == BACKGROUND_ID] == 0)
    assert np.all(labels[~shown] == -1)


def test_training_starts_from_the_given_weights(tmp_path, save_tiny_segmenter):
    import keras

    from squeezeseg.data.synthetic import write_synthetic_dataset
    from squeezeseg.errors import InputError
    from squeezeseg.models import build_model, load_model_config
    from squeezeseg.train import train

    cfg = load_model_config("squeezesegv2")
    cfg.height, cfg.width, cfg.width_multiplier, cfg.dropout = 16, 64, 0.25, 0.0
    cfg.data.kind, cfg.data.root = "squeezeseg", str(write_synthetic_dataset(tmp_path / "d", frames=2, val=0))
    cfg.train.batch_size, cfg.train.flip, cfg.train.learning_rate = 2, False, 1e-9
    keras.utils.set_random_seed(5)
    init = tmp_path / "init.keras"
    start = build_model(cfg)
    start.save(init)
    out = train(cfg, tmp_path / "run", steps=1, progress=False, init=init)
    trained = keras.models.load_model(out, compile=False, safe_mode=False)
    fresh = build_model(cfg)  # another random start: what training from scratch would begin with
    pairs = list(zip(start.trainable_weights, trained.trainable_weights, fresh.trainable_weights))
    assert pairs
    for a, b, _ in pairs:  # batch norm's moving statistics move at any learning rate: not compared
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert any(not np.allclose(a.numpy(), c.numpy()) for a, _, c in pairs)
    other, _, _ = save_tiny_segmenter(1)
    with pytest.raises(InputError, match="do not match"):
        train(cfg, tmp_path / "run2", steps=1, progress=False, init=other)


def test_range_image_pseudo_labels_keep_the_car_and_never_the_bush():
    from domain_adapt.self_training import pseudo_label_images
    from squeezeseg.projection import SphericalProjection

    rng = np.random.default_rng(0)
    gx, gy = rng.uniform(3, 40, 60000), rng.uniform(-30, 30, 60000)
    ground = np.stack([gx, gy, np.full_like(gx, GROUND)], 1)
    car = box_surface(4.0, 1.8, 1.5, n=12000)  # centred at (10, 3)
    # a porous bush: rays return from inside its volume, so it is deep as well as wide
    bush = rng.uniform(-0.5, 0.5, (8000, 3)) * [6.0, 5.0, 2.5] + [16.0, -6.0, GROUND + 1.25]
    pts = np.concatenate([ground, car, bush])
    kind = np.repeat([0, 1, 2], [len(ground), len(car), len(bush)])
    ri = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90).project(
        np.column_stack([pts, np.full(len(pts), 0.3)]).astype(np.float32))
    shown = ri.index >= 0
    what = np.full(ri.index.shape, -1)
    what[shown] = kind[ri.index[shown]]
    probs = np.zeros(ri.index.shape + (4,), np.float32)
    probs[..., 0] = 0.9
    probs[what >= 1] = [0.1, 0.8, 0.05, 0.05]  # the network calls the car and the bush car
    labels, summary = pseudo_label_images(ri.image[None], probs[None], car=1)
    lab = labels[0]
    assert (what == 1).sum() > 100 and (what == 2).sum() > 100
    assert np.mean(lab[what == 1] == 1) > 0.9
    assert np.mean(lab[what == 2] == 1) < 0.05  # its returns scatter in depth: background or left out
    assert np.all(lab[~shown] == -1)
    assert summary["cars_kept"] >= 1 and 0 < summary["car"] < 0.2
