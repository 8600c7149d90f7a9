"""INT8 activation ranges chosen from the calibration frames (percentile, least squared error) instead of
their raw min/max, written back into the calibrated model before quantization; calibration from a
SqueezeSeg dataset root uses its training split only."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.errors import InputError

pytest.importorskip("ai_edge_litert")


def heavy_tailed(n: int = 200_000, seed: int = 0) -> np.ndarray:
    """ReLU-like activations: most values below ~3, a few outliers up to 80 (as in the decoder)."""
    rng = np.random.default_rng(seed)
    v = np.maximum(rng.normal(0.5, 1.0, n), 0.0)
    v[rng.choice(n, 20, replace=False)] = rng.uniform(40, 80, 20)
    return v.astype(np.float32)


def quant_mse(v: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of asymmetric 8-bit quantization of ``v`` over [lo, hi]."""
    step = (hi - lo) / 255
    q = np.round((np.clip(v, lo, hi) - lo) / step) * step + lo
    return float(np.mean((q - v) ** 2))


def test_percentile_range_drops_rare_outliers_and_keeps_zero():
    from squeezeseg.export.ranges import Histogram, percentile_range

    v = heavy_tailed()
    lo, hi = percentile_range(Histogram.of(v), 99.99)
    assert lo == 0.0
    assert np.percentile(v, 99.9) < hi < 10.0  # bulk kept, the 40-80 outliers clipped
    bulk = v[v <= np.percentile(v, 99.9)]  # the typical values get a much finer step
    assert quant_mse(bulk, lo, hi) < 0.05 * quant_mse(bulk, float(v.min()), float(v.max()))
    # a signed tensor: both tails, zero inside, never beyond the recorded extremes
    s = np.random.default_rng(1).normal(2.0, 1.0, 100_000)
    lo, hi = percentile_range(Histogram.of(s, -1.0, 5.0), 99.99)
    assert -1.0 <= lo <= 0.0 < hi <= 5.0


def test_mse_range_matches_the_analytic_clipping_of_laplace_data_and_keeps_uniform_data():
    from squeezeseg.export.ranges import Histogram, mse_range

    # 8-bit MSE-optimal clipping of Laplace(0, b) is about +-9.9 b (Banner et al., ACIQ, 2019),
    # well inside the +-13..16 b extremes of a million samples
    v = np.random.default_rng(0).laplace(0.0, 1.0, 1_000_000).astype(np.float32)
    lo, hi = mse_range(Histogram.of(v))
    assert 17.0 < hi - lo < 22.5 and lo < 0 < hi
    assert quant_mse(v, lo, hi) < 0.7 * quant_mse(v, float(v.min()), float(v.max()))
    u = np.random.default_rng(2).uniform(-1, 1, 100_000)  # no tail: clipping only hurts
    lo, hi = mse_range(Histogram.of(u, -1.0, 1.0))
    assert lo < -0.9 and hi > 0.9


def test_histogram_drops_nan_and_bins_a_denormal_span():
    from squeezeseg.export.ranges import Histogram

    h = Histogram(-1.0, 1.0)
    h.add(np.array([np.nan, -1.0, 0.0, 1.0, np.inf, -np.inf, 7.0], np.float32))
    assert h.counts.sum() == 6  # NaN dropped; +-inf and 7 counted in the end bins
    assert h.counts[0] == 2 and h.counts[-1] == 3
    # a tensor whose recorded span is a denormal float32 (about 1e-40) still bins by position
    lo, hi = 0.0, float(np.float32(1e-40))
    d = Histogram(lo, hi)
    d.add(np.array([0.0, hi / 2, hi], np.float32))
    assert d.counts.sum() == 3 and d.counts[0] == 1 and d.counts[-1] == 1
    assert d.counts[len(d.counts) // 2 - 1 : len(d.counts) // 2 + 1].sum() == 1
    assert Histogram.of(np.array([np.nan, 1.0, 3.0])).lo == 1.0


def test_unknown_range_method_is_an_input_error():
    from squeezeseg.export.ranges import choose_ranges

    with pytest.raises(InputError, match="unknown range method"):
        choose_ranges(b"", lambda: [], "kl")


@pytest.fixture(scope="module")
def tiny(save_tiny_segmenter):
    """A tiny SqueezeSegV2 (64x64, CRF) saved as .keras, and synthetic calibration frames."""
    from squeezeseg.export.calibration import synthetic_inputs

    path, _, cfg = save_tiny_segmenter(0)
    return path, synthetic_inputs({"kind": "squeezeseg", "config": cfg.to_dict()}, 6, seed=3)


def relu_scales(path) -> dict[str, float]:
    """Scale of every int8 ReLU output tensor of an exported model, by tensor name."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    return {
        t["name"]: t["quantization"][0]
        for t in it.get_tensor_details()
        if t["dtype"] == np.int8 and "Relu" in t["name"] and t["quantization"][0] > 0
    }


def test_ranges_are_written_into_the_calibrated_model_and_narrow_the_int8_scales(tiny, tmp_path):
    import tensorflow as tf

    from squeezeseg.export.calibration import representative
    from squeezeseg.export.exporter import export_model
    from squeezeseg.export.meta import keras_model_meta, read_tflite_metadata
    from squeezeseg.export.ranges import choose_ranges, recorded_ranges, write_ranges
    from squeezeseg.export.tflite import frozen_function

    path, inputs = tiny
    model, _ = keras_model_meta(path)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen_function(model)])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in representative(inputs)())
    conv._experimental_calibrate_only = True
    calibrated = conv.convert()
    recorded = recorded_ranges(calibrated)
    chosen = choose_ranges(calibrated, conv.representative_dataset, "percentile")
    assert chosen.keys() == recorded.keys()
    assert all(recorded[t][0] <= lo <= hi <= recorded[t][1] for t, (lo, hi) in chosen.items())
    assert any(hi < recorded[t][1] for t, (_, hi) in chosen.items())  # some tails were clipped
    written = recorded_ranges(write_ranges(calibrated, chosen))
    keys = sorted(chosen)
    np.testing.assert_allclose([written[t] for t in keys], [chosen[t] for t in keys], rtol=1e-6)

    files = {
        m: export_model(path, "int8", tmp_path / f"{m}.tflite", "synthetic", 6, ranges=m)
        for m in ("minmax", "percentile")
    }
    assert read_tflite_metadata(files["percentile"])["ranges"] == "percentile"
    before, after = relu_scales(files["minmax"]), relu_scales(files["percentile"])
    shared = before.keys() & after.keys()
    assert len(shared) > 10
    assert all(after[n] <= before[n] * 1.0001 for n in shared)
    assert sum(after[n] < 0.99 * before[n] for n in shared) > 0


def test_calibration_from_a_dataset_root_uses_its_training_split(tmp_path):
    from squeezeseg.export.calibration import calibration_files

    (tmp_path / "lidar_2d").mkdir()
    (tmp_path / "ImageSet").mkdir()
    for i in range(5):
        np.save(tmp_path / "lidar_2d" / f"f{i}.npy", np.zeros((4, 4, 6), np.float32))
    (tmp_path / "ImageSet" / "train.txt").write_text("f0\nf2\nf3\n")
    (tmp_path / "ImageSet" / "val.txt").write_text("f1\nf4\n")
    assert [f.stem for f in calibration_files(tmp_path, "squeezeseg")] == ["f0", "f2", "f3"]
    assert len(calibration_files(tmp_path / "lidar_2d", "squeezeseg")) == 5  # a plain folder: all


def test_detector_calibration_from_a_kitti_root_uses_its_training_split(tmp_path):
    from squeezeseg.export.calibration import calibration_files

    images = tmp_path / "training" / "image_2"
    images.mkdir(parents=True)
    for i in range(4):
        (images / f"{i:06d}.png").write_bytes(b"")
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "train.txt").write_text("000000\n000003\n")
    (tmp_path / "ImageSets" / "val.txt").write_text("000001\n000002\n")
    want = ["000000", "000003"]
    assert [f.stem for f in calibration_files(tmp_path, "squeezedet")] == want
    assert [f.stem for f in calibration_files(tmp_path / "training", "squeezedet")] == want
    assert len(calibration_files(images, "squeezedet")) == 4  # a plain image folder: all
    (tmp_path / "ImageSets" / "train.txt").write_text("000000.png\n000003.png\n")  # ids with extensions
    assert [f.stem for f in calibration_files(tmp_path, "squeezedet")] == want
    (tmp_path / "ImageSets" / "train.txt").write_text("000000\n999999\n")
    with pytest.raises(InputError, match="names 1 id.* no image.*'999999'"):
        calibration_files(tmp_path, "squeezedet")


def test_several_calibration_sources_share_the_frames_equally(tmp_path):
    from squeezeseg.export.calibration import mixed_inputs
    from squeezeseg.models.config import ModelConfig

    meta = {"kind": "squeezeseg", "config": {**ModelConfig().to_dict(), "height": 4, "width": 16}}
    for name, n, value in (("sim", 10, 1.0), ("real", 2, 2.0)):
        (tmp_path / name).mkdir()
        for i in range(n):
            np.save(tmp_path / name / f"{i}.npy", np.full((4, 16, 5), value + i / 100, np.float32))
    frames = mixed_inputs([tmp_path / "sim", tmp_path / "real"], meta, 9)
    assert len(frames) == 9
    firsts = [round(float(f[0, 0, 0]), 2) for f in frames]
    assert sum(v < 2 for v in firsts) == 5  # 9 = 5 + 4: the first source takes the odd frame
    assert sorted(v for v in firsts if v >= 2) == [2.0, 2.0, 2.01, 2.01]  # the 2 real frames, twice each
    single = mixed_inputs(tmp_path / "sim", meta, 4)  # one source: load_inputs's even spread
    assert [round(float(f[0, 0, 0]), 2) for f in single] == [1.0, 1.03, 1.06, 1.09]
    with pytest.raises(InputError, match="no calibration source"):
        mixed_inputs([], meta, 4)
    with pytest.raises(InputError, match="2 calibration sources need a count of at least 2"):
        mixed_inputs([tmp_path / "sim", tmp_path / "real"], meta, 1)
