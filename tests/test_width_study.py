"""scripts/width_study.py: the summary it draws from its timings (ratios, the narrowest width that meets
the INT8 limit, the table) and the data-dependent start that lets a freshly built model export to an
INT8 file XNNPACK runs. No timings here: the script measures them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import width_study as ws  # noqa: E402


def _timings(widths, int8):
    """Medians of a made-up run: Keras 40 ms at every width, INT8 as given, plain SqueezeSeg 50 ms."""
    lat = {f"{ws.PLAIN}/keras": 50.0}
    facts = {}
    for w, i8 in zip(widths, int8):
        t = ws.tag(w)
        lat.update({f"{t}/keras": 40.0 * (1 + w), f"{t}/litert_f32": 20.0, f"{t}/litert_int8": i8,
                    f"{t}/scan": 100.0 + 100 * w})
        facts[t] = {"params": int(1e6 * w), "keras_mb": 4.0 * w, "train_step_ms": 300.0}
    return lat, facts


def test_rows_give_the_ratios_the_limits_are_stated_in():
    widths = (0.25, 0.5, 1.0)
    lat, facts = _timings(widths, (25.0, 24.0, 20.0))
    rows = ws.width_rows(lat, facts, widths)
    assert [r["width"] for r in rows] == list(widths)
    r = rows[1]  # width 0.5: Keras 60 ms
    assert r["int8_ratio"] == pytest.approx(24.0 / 60.0)
    assert r["f32_ratio"] == pytest.approx(20.0 / 60.0)
    assert r["crf_vs_plain"] == pytest.approx(60.0 / 50.0)
    assert r["train_4000_min"] == pytest.approx(300.0 * 4000 / 60_000)


def test_verdict_is_the_narrowest_width_meeting_int8_and_says_which_other_limits_hold():
    widths = (0.25, 0.5, 1.0)
    lat, facts = _timings(widths, (25.0, 24.0, 20.0))  # INT8 ratios 0.50, 0.40, 0.25
    rows = ws.width_rows(lat, facts, widths)
    v = ws.verdict(rows)
    assert v["int8_width"] == 0.5
    # at 0.5: Keras 60 / plain 50 = 1.2x (holds), scan 150 ms (holds), 2 MB (holds)
    assert v["holds"] == {"crf_vs_plain": True, "scan_ms": True, "keras_mb": True}
    lat[f"{ws.tag(0.5)}/scan"] = 151.0
    assert ws.verdict(ws.width_rows(lat, facts, widths))["holds"]["scan_ms"] is False
    assert ws.verdict(ws.width_rows(*_timings(widths, (40.0, 40.0, 40.0)), widths))["int8_width"] is None


def test_table_has_one_line_per_width_and_the_plain_reference():
    widths = (0.25, 1.0)
    lat, facts = _timings(widths, (25.0, 20.0))
    facts[ws.tag(1.0)]["train_step_ms"] = None  # training skipped
    text = ws.markdown_table(ws.width_rows(lat, facts, widths), lat)
    lines = text.splitlines()
    assert len(lines) == 2 + len(widths) + 1
    assert lines[2].startswith("| 0.25 | 250,000 |") and "| 0.50x |" in lines[2]
    assert lines[3].endswith("| - | - |")
    assert lines[-1].startswith("| plain SqueezeSeg") and "| 50.0 |" in lines[-1]


@pytest.mark.slow
def test_init_from_data_normalises_batch_norm_and_wakes_the_context_gates():
    """A fresh width-0.25 model: before, the first batch norm passes its input through unscaled and
    the first context-aggregation squeeze is mostly dead; after, the batch norm output has unit
    variance on the data and each squeeze unit is active on half of the pixels."""
    import keras
    from keras import ops

    from squeezeseg.models import build_model

    cfg = ws.width_config(0.25)
    cfg.height, cfg.width, cfg.crf.enabled = 16, 64, False
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(cfg.mean, cfg.std, (4, 16, 64, 5)), np.ones((4, 16, 64, 1))],
                       axis=-1).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_model(cfg)

    def bn_std():
        out = keras.Model(model.inputs, model.get_layer("conv1_bn").output)(x, training=False)
        return ops.convert_to_numpy(out).reshape(-1, out.shape[-1]).std(axis=0)

    def squeeze_active():
        cam = model.get_layer("cam1")
        pooled = cam.pool_h(cam.pool_w(keras.Model(model.inputs, cam.input)(x, training=False)))
        pre = ops.convert_to_numpy(ops.conv(pooled, cam.squeeze.kernel) + cam.squeeze.bias)
        return (pre > 0).reshape(-1, pre.shape[-1]).mean(axis=0)

    assert not np.allclose(bn_std(), 1.0, atol=0.05)
    ws.init_from_data(model, x)
    np.testing.assert_allclose(bn_std(), 1.0, atol=0.05)
    np.testing.assert_allclose(squeeze_active(), 0.5, atol=0.05)


def test_samples_pass_results_through_and_leave_the_warm_up_out_of_the_minimum():
    calls = []
    s = ws.Samples(lambda x: calls.append(x) or 2 * x)
    assert [s(i) for i in range(ws.WARMUP + 2)] == [0, 2, 4, 6, 8]
    assert calls == list(range(ws.WARMUP + 2)) and len(s.ms) == ws.WARMUP + 2
    s.ms[:ws.WARMUP] = [0.0] * ws.WARMUP  # a fast warm-up call must not count
    assert s.minimum() == min(s.ms[ws.WARMUP:]) > 0.0


def test_bad_arguments_are_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a scan")
    assert ws.main(["--scans", str(tmp_path)]) == 2
    assert "no point-cloud scan" in capsys.readouterr().err
    (tmp_path / "a.bin").write_bytes(np.zeros(8, np.float32).tobytes())
    assert ws.first_scan(tmp_path) == tmp_path / "a.bin"
    for bad, says in ((["--train-steps", "-3"], "--train-steps"), (["--threads", "0"], "--threads")):
        assert ws.main(["--scans", str(tmp_path), *bad]) == 2
        assert says in capsys.readouterr().err
