"""SqueezeSeg / SqueezeSegV2 models: structure, save/reload, config mismatch, losses, profile."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from squeezeseg.errors import InputError
from squeezeseg.losses import focal_loss, weighted_cross_entropy
from squeezeseg.models import build_model, check_model_matches_config, load_keras_model, load_model_config


def tiny(arch: str, crf: bool = True, **kw):
    cfg = load_model_config(arch)
    cfg.height, cfg.width, cfg.width_multiplier = 16, 64, 0.25
    cfg.crf.enabled = crf
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def _input(seed=0, h=16, w=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, h, w, 6)).astype("float32")
    x[..., 4] = np.abs(x[..., 4]) * 10
    x[..., 5] = (rng.random((2, h, w)) > 0.2).astype("float32")
    return x


def test_papers_hyper_parameters_in_configs():
    for name in ("squeezeseg", "squeezesegv2"):
        cfg = load_model_config(name)
        assert cfg.class_weights == pytest.approx([1 / 3, 1, 3.5, 3.5], rel=1e-5)
        assert cfg.crf.bilateral_theta_a == [0.9, 0.9, 0.6, 0.6]
        assert cfg.crf.bilateral_theta_r == [0.015, 0.015, 0.01, 0.01]
        assert (cfg.crf.bilateral_coef, cfg.crf.angular_coef, cfg.crf.iterations) == (0.1, 0.02, 3)
        t = cfg.train
        assert (t.learning_rate, t.momentum, t.lr_decay_steps, t.lr_decay_factor) == (0.05, 0.9, 10000, 0.5)
        assert (t.grad_clip, t.weight_decay, t.batch_size) == (1.0, 1e-4, 40)
    assert load_model_config("squeezesegv2").loss == "focal"


def test_v1_and_v2_structure():
    v1 = build_model(load_model_config("squeezeseg"))
    v2 = build_model(load_model_config("squeezesegv2"))
    assert v1.output_shape == v2.output_shape == (None, 64, 512, 4)
    names1 = {layer.name for layer in v1.layers}
    names2 = {layer.name for layer in v2.layers}
    assert not any(n.startswith("cam") or n.endswith("_bn") for n in names1)
    assert {"cam1", "cam2", "cam3", "conv1_bn", "crf"} <= names2
    # SqueezeSeg's size: about 0.9 M parameters at full width
    assert 0.8e6 < v1.count_params() < 1.0e6
    assert v2.get_layer("fire2").batch_norm and not v1.get_layer("fire2").batch_norm
    # V2 feeds the mask as a sixth input channel, V1 does not
    assert v2.get_layer("normalize").output.shape[-1] == 6 and v1.get_layer("normalize").output.shape[-1] == 5


def test_width_multiplier_shrinks_the_model():
    full = build_model(load_model_config("squeezesegv2")).count_params()
    assert build_model(tiny("squeezesegv2")).count_params() < full / 8


@pytest.mark.parametrize("arch", ["squeezeseg", "squeezesegv2"])
def test_save_reload_identical_outputs(tmp_path, arch):
    cfg = tiny(arch)
    model = build_model(cfg)
    x = _input()
    model(x, training=True)  # move batch-norm statistics away from their initial values
    path = tmp_path / "m.keras"
    model.save(path)
    again, cfg2 = load_keras_model(path)
    assert cfg2 == cfg
    np.testing.assert_array_equal(np.asarray(again(x, training=False)), np.asarray(model(x, training=False)))


def test_model_without_intensity_reads_every_intensity_as_zero(tmp_path):
    blind = build_model(tiny("squeezesegv2", use_intensity=False))
    seeing = build_model(tiny("squeezesegv2"))
    seeing.set_weights(blind.get_weights())
    x = _input()
    bright, dark = x.copy(), x.copy()
    bright[..., 3] = 0.9
    dark[..., 3] = 0.0
    out = np.asarray(blind(bright, training=False))
    np.testing.assert_allclose(out, np.asarray(blind(x, training=False)), atol=1e-6)
    # the same as a model that uses intensity, shown scans whose intensity is 0
    np.testing.assert_allclose(out, np.asarray(seeing(dark, training=False)), atol=1e-6)
    assert not np.allclose(np.asarray(seeing(bright, training=False)), out, atol=1e-3)
    path = tmp_path / "blind.keras"
    blind.save(path)
    again, cfg = load_keras_model(path)
    assert cfg.use_intensity is False
    np.testing.assert_allclose(np.asarray(again(bright, training=False)), out, atol=1e-6)


def test_model_config_mismatch_is_one_clear_error(tmp_path):
    cfg = tiny("squeezesegv2")
    model = build_model(cfg)
    other = tiny("squeezesegv2", classes=["unknown", "car"], class_weights=[1.0, 1.0])
    other.crf.bilateral_theta_a = other.crf.bilateral_theta_r = other.crf.angular_theta_a = [0.9, 0.9]
    with pytest.raises(InputError, match="mismatch.*2 classes"):
        check_model_matches_config(model, other, "m.keras")
    with pytest.raises(InputError, match="mismatch.*16x128"):
        check_model_matches_config(model, tiny("squeezesegv2", width=128), "m.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot load model"):
        load_keras_model(bad)


def test_config_errors_name_the_key(tmp_path):
    from squeezeseg.models.config import load_model_config as load

    p = tmp_path / "m.yaml"
    p.write_text("classes: [unknown, car]\n")
    with pytest.raises(InputError, match="class_weights"):
        load(p)
    p.write_text("widht: 512\n")
    with pytest.raises(InputError, match="unknown key 'widht'"):
        load(p)


def test_focal_loss_at_gamma_zero_is_weighted_cross_entropy():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 5, 4)).astype("float32")
    labels = rng.integers(-1, 4, size=(2, 3, 5))
    w = [1 / 3, 1.0, 3.5, 3.5]
    f0 = np.asarray(focal_loss(labels, logits, w, gamma=0.0))
    ce = np.asarray(weighted_cross_entropy(labels, logits, w))
    np.testing.assert_allclose(f0, ce, rtol=1e-6)
    # against Keras' own cross-entropy with the class weights as sample weights
    ref = []
    for b in range(2):
        m = labels[b] >= 0
        sce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
        s = float(sce(labels[b][m], logits[b][m], sample_weight=np.take(w, labels[b][m])))
        ref.append(s / m.sum())
    np.testing.assert_allclose(ce, ref, rtol=1e-5)
    # focusing: with gamma 2 a confidently right pixel costs far less than under cross-entropy
    easy = np.zeros((1, 1, 1, 4), np.float32)
    easy[..., 1] = 6.0
    lab = np.ones((1, 1, 1), np.int64)
    assert float(focal_loss(lab, easy, w, 2.0)[0]) < 1e-3 * float(weighted_cross_entropy(lab, easy, w)[0])


def test_profile_counts_all_parameters():
    from squeezeseg.profile import format_table, profile_model

    model = build_model(load_model_config("squeezeseg"))
    rows = profile_model(model)
    assert sum(r.params for r in rows) == model.count_params()
    conv14 = next(r for r in rows if r.name == "conv14")
    assert conv14.macs == 64 * 512 * 3 * 3 * 64 * 4
    assert 2e9 < sum(r.macs for r in rows) < 4e9
    assert "total" in format_table(rows)


def test_batch_norm_folding_keeps_outputs():
    from squeezeseg.models.fold import fold_batch_norm

    cfg = tiny("squeezesegv2")
    model = build_model(cfg)
    x = _input(seed=2)
    for _ in range(3):
        model(x, training=True)  # non-trivial moving statistics
    folded = fold_batch_norm(model, cfg)
    assert not any(layer.name.endswith("_bn") for layer in folded.layers)
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x, training=False)), atol=1e-4)
