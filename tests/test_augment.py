"""Training augmentation (squeezeseg.data.augment), its config keys, and the class-balanced loss weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from squeezeseg.data.synthetic import synthetic_frame, write_synthetic_dataset
from squeezeseg.errors import InputError
from squeezeseg.models import load_model_config
from squeezeseg.models.config import TrainConfig

tf = pytest.importorskip("tensorflow")


def frame(seed=3, h=16, w=64):
    from squeezeseg.datasets.network_input import with_mask

    return with_mask(*synthetic_frame(h, w, seed=seed))


def run(img, lab, seed=(1, 2), **keys):
    from squeezeseg.data.augment import augment

    t = TrainConfig(**keys)
    a, b = augment(tf.constant(img), tf.constant(lab), tf.constant(seed, tf.int64), t)
    return np.asarray(a), np.asarray(b)


def test_no_switch_changes_nothing():
    from squeezeseg.data.augment import enabled

    img, lab = frame()
    assert not enabled(TrainConfig())
    a, b = run(img, lab)
    np.testing.assert_array_equal(a, img)
    np.testing.assert_array_equal(b, lab)


def test_scale_multiplies_geometry_by_one_factor():
    img, lab = frame()
    a, b = run(img, lab, scale=0.1)
    valid = img[..., 5] > 0
    f = a[..., 4][valid] / img[..., 4][valid]
    assert 0.9 <= f[0] <= 1.1 and f[0] != 1.0
    np.testing.assert_allclose(a[..., [0, 1, 2, 4]], img[..., [0, 1, 2, 4]] * f[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a[..., 3], img[..., 3])  # intensity, mask and labels unchanged
    np.testing.assert_array_equal(a[..., 5], img[..., 5])
    np.testing.assert_array_equal(b, lab)
    assert np.all(a[~valid] == 0)


def test_z_shift_moves_the_sensor_height_and_recomputes_range():
    img, lab = frame()
    a, _ = run(img, lab, z_shift=0.2)
    valid = img[..., 5] > 0
    dz = a[..., 2][valid] - img[..., 2][valid]
    assert 0 < abs(dz[0]) <= 0.2
    np.testing.assert_allclose(dz, dz[0], atol=1e-5)
    np.testing.assert_array_equal(a[..., :2], img[..., :2])
    np.testing.assert_allclose(a[..., 4][valid], np.linalg.norm(a[..., :3][valid], axis=-1), rtol=1e-5)
    assert np.all(a[~valid] == 0)  # empty pixels get no z


def test_intensity_gain_noise_and_zeroing():
    img, lab = frame()
    valid = img[..., 5] > 0
    a, _ = run(img, lab, intensity_gain=0.3)
    g = a[..., 3][valid] / img[..., 3][valid]
    assert 0.7 <= g[0] <= 1.3 and g[0] != 1
    np.testing.assert_allclose(g, g[0], rtol=1e-5)
    a, _ = run(img, lab, intensity_noise=0.05)
    d = (a[..., 3] - img[..., 3])[valid]
    assert 0.03 < d.std() < 0.07 and np.all(a[..., 3] >= 0) and np.all(a[..., 3] <= 1)
    np.testing.assert_array_equal(a[..., 3][~valid], 0)
    zeroed = [run(img, lab, seed=(s, 0), intensity_zero=0.5)[0] for s in range(40)]
    n_zero = sum(np.all(z[..., 3] == 0) for z in zeroed)
    assert 8 <= n_zero <= 32  # about half the frames
    for z in zeroed:  # a frame is zeroed whole or not at all
        assert np.all(z[..., 3] == 0) or np.array_equal(z[..., 3], img[..., 3])
    a, _ = run(img, lab, intensity_zero=1.0)
    assert np.all(a[..., 3] == 0) and np.array_equal(a[..., [0, 1, 2, 4, 5]], img[..., [0, 1, 2, 4, 5]])


def test_object_intensity_gain_scales_each_object_class_by_its_own_factor():
    img, lab = frame()
    valid = img[..., 5] > 0
    img[..., 3] = np.where(valid, 0.2, 0)
    lab = lab.copy()
    lab[valid & (np.arange(img.shape[1]) % 3 == 0)] = 2  # a second object class beside the frame's own
    a, b = run(img, lab, object_intensity_gain=1.0)
    np.testing.assert_array_equal(b, lab)
    bg = valid & (lab == 0)
    np.testing.assert_array_equal(a[..., 3][bg], img[..., 3][bg])  # background untouched
    factors = []
    for c in (1, 2):
        f = a[..., 3][valid & (lab == c)] / 0.2
        assert f.size and 0.5 - 1e-6 <= f[0] <= 2.0 + 1e-6
        np.testing.assert_allclose(f, f[0], rtol=1e-5)
        factors.append(f[0])
    assert factors[0] != factors[1]


def test_object_intensity_shuffle_draws_object_values_from_the_background():
    img, lab = frame()
    valid = img[..., 5] > 0
    rng = np.random.default_rng(0)
    bg = valid & (lab == 0)
    obj = valid & (lab >= 1)
    assert obj.sum() > 10 and bg.sum() > 10
    img[..., 3] = np.where(bg, rng.choice([0.3, 0.6], img.shape[:2]), np.where(obj, 0.0, 0))
    shuffled = [run(img, lab, seed=(s, 1), object_intensity_shuffle=0.5)[0] for s in range(30)]
    n = 0
    for a in shuffled:
        np.testing.assert_array_equal(a[..., 3][bg], img[..., 3][bg])
        vals = set(np.round(np.unique(a[..., 3][obj]).astype(np.float64), 6).tolist())
        if vals == {0.0}:
            continue
        n += 1
        assert vals <= {0.3, 0.6} and len(vals) == 2  # the background's values, not the objects' 0
    assert 5 <= n <= 25  # about half the frames


def test_object_intensity_needs_background_and_leaves_empty_pixels_empty():
    from squeezeseg.data.augment import object_intensity

    inten = tf.constant([[0.0, 0.5, 0.0]])
    labels = tf.constant([[1, 1, -1]])
    valid = tf.constant([[True, True, False]])
    out = object_intensity(inten, labels, valid, tf.constant([3, 4], tf.int64), 0.0, 1.0)
    np.testing.assert_array_equal(np.asarray(out), [[0.0, 0.5, 0.0]])  # no background: unchanged


def test_intensity_is_clipped_to_one():
    img, lab = frame()
    img[..., 3] = np.where(img[..., 5] > 0, 0.95, 0)
    a, _ = run(img, lab, seed=(5, 5), intensity_gain=0.9, intensity_noise=0.5)
    assert a[..., 3].max() <= 1.0 and a[..., 3].min() >= 0.0


def test_ring_dropout_empties_whole_rows():
    img, lab = frame(h=64)
    a, b = run(img, lab, ring_dropout=0.5)
    rows = [r for r in range(64) if np.any(img[r, :, 5] > 0)]
    assert len(rows) >= 40
    dropped = [r for r in rows if np.all(a[r] == 0) and np.all(b[r] == -1)]
    kept = [r for r in rows if np.array_equal(a[r], img[r]) and np.array_equal(b[r], lab[r])]
    assert len(dropped) + len(kept) == len(rows)  # a row is emptied whole or left as it was
    assert 0.25 * len(rows) <= len(dropped) <= 0.75 * len(rows)


def test_point_dropout_follows_the_empty_pixel_rule():
    img, lab = frame(h=64, w=256)
    a, b = run(img, lab, point_dropout=0.2)
    valid = img[..., 5] > 0
    lost = valid & (a[..., 5] == 0)
    assert 0.15 < lost.sum() / valid.sum() < 0.25
    assert np.all(a[lost] == 0) and np.all(b[lost] == -1)
    np.testing.assert_array_equal(a[~lost], img[~lost])
    assert np.all((b == -1) == (a[..., 5] == 0))


def test_same_seed_same_frame_other_seed_other_frame():
    img, lab = frame()
    keys = dict(scale=0.05, z_shift=0.1, intensity_gain=0.3, intensity_noise=0.03, point_dropout=0.1)
    a1, b1 = run(img, lab, seed=(7, 1), **keys)
    a2, b2 = run(img, lab, seed=(7, 1), **keys)
    a3, _ = run(img, lab, seed=(8, 1), **keys)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, a3)


def tiny_config(root: Path, **train):
    cfg = load_model_config("squeezesegv2")
    cfg.height, cfg.width, cfg.width_multiplier, cfg.dropout = 16, 64, 0.25, 0.0
    cfg.data.kind, cfg.data.root = "squeezeseg", str(root)
    cfg.train.batch_size, cfg.train.flip = 2, False
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def test_pipeline_applies_the_config_and_keeps_the_mask_rule(tmp_path):
    from squeezeseg.data import make_dataset

    root = write_synthetic_dataset(tmp_path / "d", frames=3, val=1)
    plain = next(iter(make_dataset(tiny_config(root), training=True)))
    cfg = tiny_config(root, point_dropout=0.3, intensity_zero=1.0)
    img, lab = (np.asarray(t) for t in next(iter(make_dataset(cfg, training=True))))
    assert img.shape == (2, 16, 64, 6)
    assert np.all(img[..., 3] == 0)
    assert np.all((lab == -1) == (img[..., 5] == 0))
    assert (img[..., 5] > 0).sum() < 0.85 * (np.asarray(plain[0])[..., 5] > 0).sum()
    val = next(iter(make_dataset(cfg, training=False)))  # validation is never augmented
    assert np.any(np.asarray(val[0])[..., 3] > 0)
    with pytest.raises(InputError, match="rotate_deg needs point-cloud data"):
        make_dataset(tiny_config(root, rotate_deg=90.0), training=True)


def _wall_scan(tmp_path, azimuths_deg, elevations_deg):
    """One SemanticKITTI frame under ``tmp_path``: a car-labelled surface 10 m away over the given
    azimuth and elevation spans (400 points, 8 elevations); (frames, loader, config) to read it."""
    from squeezeseg.data.sources import frames_and_loader
    from squeezeseg.io import write_points, write_semantickitti_labels

    d = tmp_path / "seq" / "00"
    az = np.deg2rad(np.linspace(*azimuths_deg, 400))
    el = np.deg2rad(np.repeat(np.linspace(*elevations_deg, 8), 50))
    pts = np.stack([10 * np.cos(az) * np.cos(el), 10 * np.sin(az) * np.cos(el), 10 * np.sin(el),
                    np.full(400, 0.5)], -1).astype(np.float32)
    write_points(d / "velodyne" / "000000.bin", pts)
    write_semantickitti_labels(d / "labels" / "000000.label", np.full(400, 10, np.uint16),
                               np.ones(400, np.uint16))
    cfg = load_model_config("squeezesegv2_small")
    cfg.data.kind = "semantickitti"
    frames, load = frames_and_loader(cfg, "train", tmp_path)
    return frames, load, cfg


def test_rotation_turns_the_scan_before_projection(tmp_path):
    """A car to the left (azimuth +90 degrees) is outside the front window; turned by -90 degrees it is in."""
    frames, load, _ = _wall_scan(tmp_path, (60, 120), (-8, 0))
    _, lab0 = load(frames[0])
    _, lab1 = load(frames[0], rotation=-np.pi / 2)
    assert (lab0 == 1).sum() < (lab1 == 1).sum() / 3
    assert (lab1 == 1).sum() > 100


def test_tilt_pitches_and_rolls_the_scan():
    # A point 10 m ahead goes down by 10 sin(2 deg) under a 2-degree pitch; a point 10 m to the left
    # goes up by 10 sin(2 deg) under a 2-degree roll; ranges and intensity are kept; 0 is identity.
    from squeezeseg.datasets.network_input import tilt

    pts = np.array([[10.0, 0.0, 0.0, 0.3], [0.0, 10.0, 0.0, 0.7]], np.float32)
    np.testing.assert_array_equal(tilt(pts, 0.0, 0.0), pts)
    a = np.deg2rad(2.0)
    pitched, rolled = tilt(pts, a, 0.0), tilt(pts, 0.0, a)
    assert pitched[0, 2] == pytest.approx(-10 * np.sin(a), abs=1e-5) and pitched[1, 2] == 0.0
    assert rolled[1, 2] == pytest.approx(10 * np.sin(a), abs=1e-5) and rolled[0, 2] == 0.0
    np.testing.assert_allclose(np.linalg.norm(tilt(pts, a, -a)[:, :3], axis=1), 10.0, rtol=1e-6)
    np.testing.assert_array_equal(tilt(pts, a, a)[:, 3], pts[:, 3])


def test_tilted_loading_moves_rows_and_needs_point_clouds(tmp_path):
    # A wall 10 m ahead sampled at 8 elevations: pitched by 3 degrees its rows move down in the
    # range image (by about 3 / 0.42 rows for the HDL-64E's spacing); range-image data refuses tilt.
    from squeezeseg.data import make_dataset

    frames, load, cfg = _wall_scan(tmp_path, (-30, 30), (-8, -2))
    img0, _ = load(frames[0])
    img1, _ = load(frames[0], tilt=(np.deg2rad(3.0), 0.0))
    rows0, rows1 = np.nonzero(img0[..., 5])[0], np.nonzero(img1[..., 5])[0]
    assert 4 < rows1.mean() - rows0.mean() < 10
    cfg.data.root, cfg.train.batch_size, cfg.train.crop_width = str(tmp_path), 1, 0
    cfg.train.rotate_deg, cfg.train.tilt_deg, cfg.train.seed = 10.0, 3.0, 1
    img, lab = (np.asarray(t) for t in next(iter(make_dataset(cfg, training=True))))
    assert img.shape == (1, 64, 512, 6) and (lab == 1).sum() > 100
    rows = np.nonzero(img[0, ..., 5])[0]
    assert 0.2 < abs(rows.mean() - rows0.mean()) < 10  # the seeded draw tilted it
    root = write_synthetic_dataset(tmp_path / "npy", frames=2, val=0)
    with pytest.raises(InputError, match="tilt_deg needs point-cloud data"):
        make_dataset(tiny_config(root, tilt_deg=2.0), training=True)


@pytest.mark.parametrize("text,key", [
    ("train: {tilt_deg: 20}", "train.tilt_deg"),
    ("train: {intensity_zero: 1.5}", "train.intensity_zero"),
    ("train: {ring_dropout: 1.0}", "train.ring_dropout"),
    ("train: {point_dropout: -0.1}", "train.point_dropout"),
    ("train: {rotate_deg: 200}", "train.rotate_deg"),
    ("train: {scale: .nan}", "train.scale"),
    ("train: {z_shift: 5}", "train.z_shift"),
    ("train: {intensity_gain: 1}", "train.intensity_gain"),
    ("train: {intensity_noise: -1}", "train.intensity_noise"),
    ("train: {class_balance: 2}", "train.class_balance"),
    ("train: {object_intensity_gain: 5}", "train.object_intensity_gain"),
    ("train: {object_intensity_shuffle: 1.5}", "train.object_intensity_shuffle"),
])
def test_augmentation_keys_are_range_checked(tmp_path, text, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\n")
    with pytest.raises(InputError, match=rf"bad\.yaml: key '{key}' must be"):
        load_model_config(bad)


def test_augmentation_keys_checked_after_overrides():
    cfg = load_model_config("squeezesegv2_small_aug")
    assert cfg.train.rotate_deg == 180 and cfg.train.class_balance == 0.5
    objint = load_model_config("squeezesegv2_small_objint")
    assert (objint.train.object_intensity_shuffle, objint.train.object_intensity_gain) == (0.5, 1.0)
    assert dataclasses.replace(objint.train, object_intensity_shuffle=0, object_intensity_gain=0) == cfg.train
    cfg.train = dataclasses.replace(cfg.train, point_dropout=1.2)
    with pytest.raises(InputError, match="train.point_dropout"):
        cfg.check()
    with pytest.raises(InputError, match="unknown key 'train.intensity_jitter'"):
        from squeezeseg.models.config import ModelConfig

        ModelConfig.from_dict({"train": {"intensity_jitter": 0.1}})


def test_class_balanced_weights():
    from squeezeseg.losses import class_balanced_weights

    base, counts = [1.0, 1.0, 1.0, 1.0], [800, 150, 10, 40]
    assert class_balanced_weights(base, counts, 0.0) == base
    w = np.array(class_balanced_weights(base, counts, 1.0))
    f = np.array(counts) / sum(counts)
    np.testing.assert_allclose(f * w, (f * w)[0])  # inverse frequency: every class the same total weight
    np.testing.assert_allclose((f * w).sum(), 1.0)  # mean weight per pixel kept
    w5 = np.array(class_balanced_weights([1 / 3, 1, 3.5, 3.5], counts, 0.5))
    np.testing.assert_allclose((f * w5).sum(), (f * np.array([1 / 3, 1, 3.5, 3.5])).sum())
    np.testing.assert_allclose(w5[2] / w5[1], 3.5 * np.sqrt(150 / 10))  # base ratio times sqrt(f_car/f_ped)
    w0 = class_balanced_weights(base, [10, 10, 0, 10], 0.5)
    assert w0[2] == pytest.approx(max(w0))  # a class without pixels is not weighted 0
    with pytest.raises(ValueError):
        class_balanced_weights(base, [1, 2], 0.5)


def test_training_records_the_class_balanced_weights(tmp_path):
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "d", frames=2, val=0, seed=5)
    cfg = tiny_config(root, class_balance=0.5, intensity_gain=0.2, point_dropout=0.05, checkpoint_every=2)
    train(cfg, tmp_path / "run", steps=2, progress=False)
    rec = json.loads((tmp_path / "run" / "train.json").read_text())
    counts, w = np.array(rec["class_pixels"]), np.array(rec["class_weights_used"])
    assert counts.sum() > 0 and counts[0] > counts[1:].max()
    assert w[0] == min(w)  # background is the most frequent class, so the lightest
    assert rec["config"]["class_weights"] == list(cfg.class_weights)  # the config keeps its base weights


def test_range_weighted_loss_weighs_far_pixels_more():
    # Two valid pixels, one 5 m away (weight 1) and one 40 m away (weight (40 / 10) ** 1 = 4), the
    # same logits and wrong label on each: the weighted mean is the plain one; a far pixel right and
    # a near one wrong give a smaller loss than the other way round. Weights of 1 are the plain loss.
    from squeezeseg.losses import focal_loss, range_weights, with_range_weights

    np.testing.assert_allclose(np.asarray(range_weights(np.array([0.0, 5.0, 20.0, 40.0]), 1.0, 10.0)),
                               [1, 1, 2, 4])
    image = np.zeros((1, 2, 6), np.float32)
    image[0, :, 4] = [5.0, 40.0]
    labels = np.array([[1, 1]], np.int32)
    target = np.asarray(with_range_weights(image, labels, 1.0, 10.0))[None]  # (1, 1, 2, 2)
    np.testing.assert_allclose(target[0, 0, :, 1], [1.0, 4.0])
    logits = np.array([[[[2.0, 0.0], [2.0, 0.0]]]], np.float32)  # both say class 0: both wrong
    plain = float(focal_loss(labels[None], logits, [1.0, 1.0])[0])
    assert float(focal_loss(target, logits, [1.0, 1.0])[0]) == pytest.approx(plain, rel=1e-5)
    near_wrong = np.array([[[[2.0, 0.0], [0.0, 2.0]]]], np.float32)
    far_wrong = np.array([[[[0.0, 2.0], [2.0, 0.0]]]], np.float32)
    loss_near_wrong = float(focal_loss(target, near_wrong, [1.0, 1.0])[0])
    assert loss_near_wrong < float(focal_loss(target, far_wrong, [1.0, 1.0])[0])
    ones = target.copy()
    ones[..., 1] = 1.0
    assert float(focal_loss(ones, far_wrong, [1.0, 1.0])[0]) == pytest.approx(
        float(focal_loss(labels[None], far_wrong, [1.0, 1.0])[0]), rel=1e-5)


def test_pipeline_adds_range_weights_and_training_runs_with_them(tmp_path):
    from squeezeseg.data import make_dataset
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "d", frames=2, val=1, seed=5)
    cfg = tiny_config(root, range_weight=1.0, range_weight_ref=5.0, checkpoint_every=2)
    img, lab = (np.asarray(t) for t in next(iter(make_dataset(cfg, training=True))))
    assert lab.shape == (2, 16, 64, 2)
    np.testing.assert_allclose(lab[..., 1], np.maximum(img[..., 4] / 5.0, 1.0), rtol=1e-6)
    assert np.asarray(next(iter(make_dataset(cfg, training=False)))[1]).ndim == 3  # validation: labels only
    model_path = train(cfg, tmp_path / "run", steps=2, progress=False)
    assert model_path.is_file()
    assert json.loads((tmp_path / "run" / "train.json").read_text())["config"]["train"]["range_weight"] == 1.0
