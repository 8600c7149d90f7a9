"""Low-precision study: the fixed-point grid, TensorFlow's fake-quant agreeing with it, accuracy that
falls with fewer bits, straight-through fine-tuning, and the quantize-study CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from squeezeseg.export.study import fake_quant, pow2_range, quantize_np


def test_fixed_point_grid_and_power_of_two_range():
    x = np.linspace(-3, 3, 1001).astype(np.float32)
    q = quantize_np(x, 4, 2.0)  # step 2 / 8 = 0.25, codes -8..7
    assert np.allclose(q / 0.25, np.round(q / 0.25))
    assert q.min() == -2.0 and q.max() == 1.75
    assert np.abs(q - x)[np.abs(x) < 1.7].max() <= 0.125 + 1e-6  # round to nearest
    v = np.concatenate([np.full(990, 0.3), np.full(10, 100.0)])
    assert pow2_range(v, 95) == 0.5  # the outliers above the percentile do not widen the range
    assert pow2_range(v, 99.99) == 128.0


def test_tensorflow_fake_quant_is_the_same_grid():
    x = np.random.default_rng(0).normal(0, 2, 5000).astype(np.float32)
    for bits, r in ((8, 4.0), (6, 2.0), (16, 8.0)):
        diff = np.abs(np.asarray(fake_quant(x, bits, r)) - quantize_np(x, bits, r))
        step = r / 2 ** (bits - 1)
        # identical up to float32 rounding of TF's nudged range: at most one step on a few values
        assert diff.max() <= step * 1.001 and np.mean(diff > step / 2) < 0.01


@pytest.fixture(scope="module")
def tiny(save_tiny_segmenter):
    return save_tiny_segmenter(1)


def test_agreement_with_float_falls_with_bits_and_weights_are_restored(tiny):
    from squeezeseg.export.calibration import synthetic_inputs
    from squeezeseg.export.study import (
        activation_samples,
        choose_ranges,
        quant_units,
        quantized_clone,
        quantized_weights,
    )

    _, model, cfg = tiny
    x = np.stack(synthetic_inputs({"kind": "squeezeseg", "config": cfg.to_dict()}, 3))
    units = quant_units(model)
    assert units[0].startswith("conv1") and "fire9" in units and "conv14" in units and "crf" not in units
    ranges = choose_ranges(model, units, activation_samples(model, units, x[:2]), 99.99)
    ref = np.asarray(model(x, training=False))
    before = [w.copy() for w in model.get_weights()]
    cos = {}
    for bits in (16, 8, 4):
        q = quantized_clone(model, ranges, bits)
        with quantized_weights(model, ranges, bits):
            out = np.asarray(q(x, training=False)).ravel()
        cos[bits] = float(out @ ref.ravel() / (np.linalg.norm(out) * np.linalg.norm(ref)))
    assert cos[16] > 0.9999 and cos[8] > 0.99
    assert cos[16] > cos[8] > cos[4]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_quantized_finetuning_lowers_the_loss(tiny):
    import dataclasses

    from squeezeseg.data.synthetic import synthetic_frame
    from squeezeseg.datasets import with_mask
    from squeezeseg.export.study import (
        activation_samples,
        choose_ranges,
        finetune,
        quant_units,
        quantized_clone,
    )
    from squeezeseg.losses import segmentation_loss
    from squeezeseg.models import build_model
    from squeezeseg.models.config import CRFConfig

    cfg = dataclasses.replace(tiny[2], crf=CRFConfig(enabled=False, iterations=1))  # STE needs no CRF
    model = build_model(cfg)
    frames = [with_mask(*synthetic_frame(cfg.height, cfg.width, 7, cfg.fov_deg))]  # overfit one frame
    units = quant_units(model)
    ranges = choose_ranges(model, units, activation_samples(model, units, frames[0][0][None]), 99.9)
    losses = finetune(model, quantized_clone(model, ranges, 6), ranges, 6, frames, 25,
                      segmentation_loss(cfg), lr=0.01, seed=0)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_quantize_study_cli(tiny, tmp_path):
    from squeezeseg.cli import main

    out = tmp_path / "study"
    rc = main(["quantize-study", str(tiny[0]), "--data", "synthetic", "--bits", "8", "4",
               "--percentiles", "99.9", "--eval-frames", "2", "--calib-frames", "2", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "study.json").read_text())
    assert [(r["bits"], r["quantized"]) for r in res["table"]][:3] == [
        (8, "weights+activations"), (8, "weights"), (8, "activations")]
    assert "| 4 | weights+activations |" in (out / "study.md").read_text()
    bad = ["quantize-study", str(tiny[0]), "--data", "synthetic", "--bits", "1", "--out", str(out)]
    assert main(bad) == 2
