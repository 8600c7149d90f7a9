"""Progressive domain calibration: every batch-norm layer's input, standardised with its stored
statistics, has mean 0 and variance 1 on the target data (within 1e-3); re-estimating all layers at
once from the uncalibrated network does not achieve that; models without batch norm are refused."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from domain_adapt.calibration import batch_norm_layers, calibrate, input_stats, standardised_stats  # noqa: E402
from domain_adapt.train import build_segmenter  # noqa: E402
from squeezeseg.errors import InputError  # noqa: E402
from squeezeseg.models import build_model, load_model_config  # noqa: E402


def tiny_config(arch="squeezesegv2"):
    cfg = load_model_config("squeezesegv2_small")
    cfg.architecture = arch
    cfg.height, cfg.width, cfg.width_multiplier = 8, 32, 0.125
    cfg.train.crop_width = 0
    cfg.crf.enabled = False
    return cfg


def target_images(n=6, seed=0):
    """Range images far from the normalisation the model was built with (a shifted 'real' domain)."""
    from squeezeseg.data.synthetic import synthetic_frame

    imgs = []
    for i in range(n):
        img, _ = synthetic_frame(8, 32, seed=seed + i)
        img[..., 3] = 0.9 * (img[..., 4] > 0)  # brighter than anything the model 'saw'
        imgs.append(np.concatenate([img, (img[..., 4:5] > 0)], -1))
    return np.stack(imgs).astype(np.float32)


def worst_deviation(model, images):
    worst = 0.0
    for layer, (_, mean, var) in zip(batch_norm_layers(model), standardised_stats(model, images)):
        live = np.asarray(layer.moving_variance.numpy()) > 1e-8  # dead (constant) channels have no scale
        if live.any():
            worst = max(worst, float(np.abs(mean[live]).max()), float(np.abs(var[live] - 1).max()))
    return worst


@pytest.fixture(scope="module")
def model_and_target():
    model = build_segmenter(tiny_config(), context_aggregation=True)
    return model, target_images()


def test_calibration_standardises_every_bn_input_on_target(model_and_target):
    model, target = model_and_target
    assert worst_deviation(model, target) > 0.1  # fresh model: moving stats 0/1, far from the target's
    used = calibrate(model, target, progress=False)
    assert len(used) == len(batch_norm_layers(model)) > 10
    assert worst_deviation(model, target) < 1e-3


def test_recalibrating_all_layers_at_once_is_not_progressive():
    model = build_segmenter(tiny_config(), context_aggregation=False)
    target = target_images(seed=10)
    layers = batch_norm_layers(model)
    for layer, st in zip(layers, input_stats(model, target, layers)):  # all measured before any change
        layer.moving_mean.assign(st.mean.astype(np.float32))
        layer.moving_variance.assign(st.var.astype(np.float32))
    assert worst_deviation(model, target) > 1e-2


@pytest.mark.slow
def test_layer_by_layer_passes_match_the_single_pass():
    cfg = tiny_config()
    a = build_segmenter(cfg, context_aggregation=False)
    b = build_segmenter(cfg, context_aggregation=False)
    b.set_weights(a.get_weights())
    target = target_images(seed=20)
    calibrate(a, target, progress=False)
    calibrate(b, target, batch_size=2, progress=False)
    for la, lb in zip(batch_norm_layers(a), batch_norm_layers(b)):
        np.testing.assert_allclose(la.moving_mean.numpy(), lb.moving_mean.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(la.moving_variance.numpy(), lb.moving_variance.numpy(),
                                   rtol=1e-3, atol=1e-6)


def test_model_without_batch_norm_is_refused():
    model = build_model(tiny_config("squeezeseg"))
    with pytest.raises(InputError, match="no batch-norm layers"):
        calibrate(model, target_images(2), progress=False)


def test_empty_target_is_refused(model_and_target):
    model, target = model_and_target
    with pytest.raises(InputError, match="no target images"):
        calibrate(model, target[:0], progress=False)


def test_calibrate_cli(tmp_path, capsys):
    from squeezeseg.cli import main
    from squeezeseg.data.synthetic import write_synthetic_dataset

    cfg = tiny_config()
    target = write_synthetic_dataset(tmp_path / "target", frames=2, height=8, width=32) / "lidar_2d"
    other = write_synthetic_dataset(tmp_path / "other", frames=2, height=8, width=32, seed=4) / "lidar_2d"
    v2 = build_segmenter(cfg, context_aggregation=False)
    v2.save(tmp_path / "v2.keras")
    out = tmp_path / "calibrated.keras"
    assert main(["adapt", "calibrate", "--model", str(tmp_path / "v2.keras"), "--target", str(target),
                 str(other), "--out", str(out)]) == 0
    import keras

    import squeezeseg.nn  # noqa: F401

    calibrated = keras.saving.load_model(out, compile=False)
    both = np.concatenate([target_images_from(target), target_images_from(other)])
    assert worst_deviation(calibrated, both) < 1e-3  # calibrated on every target folder given
    assert worst_deviation(calibrated, target_images_from(target)) > 1e-3
    assert main(["adapt", "calibrate", "--model", str(tmp_path / "v2.keras"), "--target", str(target),
                 str(tmp_path / "missing"), "--out", str(tmp_path / "y.keras")]) == 2
    assert "missing" in capsys.readouterr().err and not (tmp_path / "y.keras").exists()
    v1 = build_model(tiny_config("squeezeseg"))
    v1.save(tmp_path / "v1.keras")
    assert main(["adapt", "calibrate", "--model", str(tmp_path / "v1.keras"), "--target", str(target),
                 "--out", str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err
    assert "v1.keras" in err and "no batch-norm layers" in err
    assert not (tmp_path / "x.keras").exists()


def target_images_from(folder):
    from domain_adapt.frames import load_unlabelled

    return load_unlabelled(tiny_config(), folder)
