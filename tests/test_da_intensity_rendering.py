"""Learned intensity rendering: hybrid-loss encoding round trip, a short training that beats the
constant predictor, and `squeezeseg adapt render-intensity` (output, resume, bad input)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from domain_adapt import intensity_rendering as ir  # noqa: E402
from squeezeseg.cli import main  # noqa: E402
from squeezeseg.data.synthetic import synthetic_frame, write_synthetic_dataset  # noqa: E402
from squeezeseg.io import read_squeezeseg_npy  # noqa: E402


def perfect_outputs(intensity):
    """Network outputs that encode ``intensity`` exactly: a confident true bin and its deviation."""
    b = np.minimum(np.floor(intensity * ir.BINS).astype(int), ir.BINS - 1)
    out = np.zeros((*intensity.shape, 2 * ir.BINS), np.float32)
    np.put_along_axis(out[..., :ir.BINS], b[..., None], 30.0, axis=-1)
    np.put_along_axis(out[..., ir.BINS:], b[..., None], (intensity * ir.BINS - b - 0.5)[..., None], axis=-1)
    return out


def test_hybrid_encoding_round_trip_and_zero_loss():
    i = np.random.default_rng(0).uniform(0, 1, (2, 4, 8)).astype(np.float32)
    i[0, 0, 0], i[0, 0, 1] = 0.0, 1.0  # edges of the first and last bin
    out = perfect_outputs(i)
    np.testing.assert_allclose(ir.decode(out, "hybrid"), i, atol=1e-6)
    mask = np.ones_like(i)
    assert float(ir.hybrid_loss(tf.constant(i), tf.constant(mask), tf.constant(out))) < 1e-6
    worse = out.copy()
    worse[..., ir.BINS:] += 0.3
    loss = float(ir.hybrid_loss(tf.constant(i), tf.constant(mask), tf.constant(worse)))
    assert loss == pytest.approx(0.09, rel=1e-3)  # only the deviation is off, by 0.3 bin widths


def test_losses_ignore_empty_pixels():
    i = tf.constant(np.full((1, 2, 2), 0.5, np.float32))
    mask = tf.constant(np.array([[[1, 0], [0, 0]]], np.float32))
    out = np.zeros((1, 2, 2, 2), np.float32)
    out[0, 0, 0, 0] = 0.5
    out[0, 1, 1, 0] = 9.0  # wrong, but on an empty pixel
    assert float(ir.l2_loss(i, mask, tf.constant(out))) == pytest.approx(0.0)


def frames(n, seed):
    out = []
    for k in range(n):
        img, _ = synthetic_frame(8, 32, seed=seed + k)
        valid = img[..., 4] > 0
        img[..., 3] = np.where(valid, np.clip(0.05 * img[..., 4], 0, 1), 0)  # intensity from range
        out.append(np.concatenate([img, valid[..., None]], -1))
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = ir.train_renderer(frames(6, 0), "hybrid", steps=30, batch_size=4, crop_width=16,
                              width_multiplier=0.125, learning_rate=3e-3, progress=False)
    path = tmp_path_factory.mktemp("renderer") / "r.keras"
    model.save(path)
    return model, path


def test_short_training_beats_the_constant_predictor(trained):
    model, _ = trained
    test = frames(3, 100)
    valid = test[..., 5] > 0
    constant = float(np.var(test[..., 3][valid]))
    assert ir.intensity_mse(model, test) < 0.7 * constant
    pred = ir.render(model, test)
    assert pred.shape == test.shape[:3] and np.all(pred[~valid] == 0)
    assert pred.min() >= 0 and pred.max() <= 1


def test_render_intensity_cli_writes_resumes_and_keeps_labels(trained, tmp_path):
    _, model_path = trained
    data = write_synthetic_dataset(tmp_path / "sim", frames=3, height=8, width=32)
    out = tmp_path / "rendered"
    args = ["adapt", "render-intensity", "--model", str(model_path), "--data", str(data), "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    for f in sorted((data / "lidar_2d").glob("*.npy")):
        src_img, src_lab = read_squeezeseg_npy(f)
        img, lab = read_squeezeseg_npy(out / "lidar_2d" / f.name)
        np.testing.assert_array_equal(lab, src_lab)
        np.testing.assert_array_equal(img[..., [0, 1, 2, 4]], src_img[..., [0, 1, 2, 4]])
        assert not np.array_equal(img[..., 3], src_img[..., 3])
    assert (out / "ImageSet" / "train.txt").read_text() == (data / "ImageSet" / "train.txt").read_text()
    first = out / "lidar_2d" / "000000.npy"
    stamp = first.stat().st_mtime_ns
    assert main(args) == 0  # resume: finished frames are not rewritten
    assert first.stat().st_mtime_ns == stamp


def test_render_intensity_bad_input(trained, tmp_path, capsys):
    _, model_path = trained
    data = write_synthetic_dataset(tmp_path / "sim", frames=2, height=8, width=32)
    assert main(["adapt", "render-intensity", "--model", str(model_path), "--data", str(data),
                 "--out", str(data), "--no-progress"]) == 2
    assert "--out must differ" in capsys.readouterr().err
    assert main(["adapt", "render-intensity", "--model", str(model_path), "--data", str(tmp_path / "none"),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    assert main(["adapt", "render-intensity", "--model", str(bad), "--data", str(data),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "cannot load model" in capsys.readouterr().err
    other = write_synthetic_dataset(tmp_path / "wide", frames=1, height=8, width=64)
    assert main(["adapt", "render-intensity", "--model", str(model_path), "--data", str(other),
                 "--out", str(tmp_path / "o2"), "--no-progress"]) == 2
    assert "renderer wants 8x32" in capsys.readouterr().err
