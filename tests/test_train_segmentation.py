"""Training: data pipeline and flip, interrupted training resumed from its checkpoint, overfitting
two frames, MirroredStrategy over two logical CPUs (in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from squeezeseg.data.synthetic import synthetic_frame, write_synthetic_dataset
from squeezeseg.errors import InputError
from squeezeseg.models import load_model_config


def tiny_config(root: Path, **train):
    cfg = load_model_config("squeezesegv2")
    cfg.height, cfg.width, cfg.width_multiplier, cfg.dropout = 16, 64, 0.25, 0.0
    cfg.data.kind, cfg.data.root = "squeezeseg", str(root)
    cfg.train.batch_size, cfg.train.flip = 2, False
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def test_flip_mirrors_columns_and_negates_y():
    import tensorflow as tf

    from squeezeseg.data.pipeline import flip_horizontal
    from squeezeseg.data.sources import with_mask

    img, lab = with_mask(*synthetic_frame(16, 64, seed=3))
    f_img, f_lab = (np.asarray(t) for t in flip_horizontal(tf.constant(img), tf.constant(lab)))
    np.testing.assert_array_equal(f_lab, lab[:, ::-1])
    np.testing.assert_allclose(f_img[..., 1], -img[:, ::-1, 1])
    np.testing.assert_allclose(f_img[..., [0, 2, 3, 4, 5]], img[:, ::-1][..., [0, 2, 3, 4, 5]])
    # the mirrored scene is a valid scene: azimuth of each pixel's point matches its new column
    valid = f_img[..., 5] > 0
    az = np.degrees(np.arctan2(f_img[..., 1], f_img[..., 0]))
    expected = 45.0 - (np.arange(64) + 0.5) * 90.0 / 64
    np.testing.assert_allclose(az[valid], np.broadcast_to(expected, az.shape)[valid], atol=0.01)


def test_dataset_batches_and_size_mismatch(tmp_path):
    from squeezeseg.data import make_dataset

    root = write_synthetic_dataset(tmp_path / "d", frames=3, val=1)
    cfg = tiny_config(root)
    img, lab = next(iter(make_dataset(cfg, training=True)))
    assert img.shape == (2, 16, 64, 6) and lab.shape == (2, 16, 64)
    assert set(np.unique(lab)) <= {-1, 0, 1, 2, 3}
    assert np.all((np.asarray(lab) == -1) == (np.asarray(img)[..., 5] == 0))
    cfg.width = 128
    with pytest.raises(InputError, match="64, the model config wants 16x128"):
        next(iter(make_dataset(cfg, training=False)))


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at: int):
        super().__init__()
        self.at, self.n = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1
        if self.n == self.at:
            raise KeyboardInterrupt


class _Count(keras.callbacks.Callback):
    n = 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """Two frames, 80 steps in checkpoints of 40; interrupted after 50 steps, then resumed."""
    from squeezeseg.train import train

    tmp = tmp_path_factory.mktemp("overfit")
    root = write_synthetic_dataset(tmp / "data", frames=2, val=0, seed=11)
    cfg = tiny_config(root, checkpoint_every=40, learning_rate=0.05)
    out = tmp / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, steps=80, progress=False, extra_callbacks=[_Interrupt(50)])
    assert (out / "backup").is_dir() and (out / "checkpoint.keras").is_file()
    assert not (out / "model.keras").exists()
    with pytest.raises(InputError, match="--resume"):
        train(cfg, out, steps=80, progress=False)
    count = _Count()
    model_path = train(cfg, out, steps=80, resume=True, progress=False, extra_callbacks=[count])
    return cfg, out, model_path, count.n


def test_interrupted_training_resumes_from_last_checkpoint(resumed_run):
    _, out, model_path, resumed_steps = resumed_run
    assert model_path.is_file() and not (out / "backup").exists()
    assert resumed_steps == 40  # only the second checkpoint interval ran again
    record = json.loads((out / "train.json").read_text())
    assert record["optimizer_iterations"] == 80


def test_tiny_model_overfits_two_frames(resumed_run):
    from squeezeseg.data.sources import frames_and_loader
    from squeezeseg.metrics import class_iou
    from squeezeseg.runtime import load_model

    cfg, _, model_path, _ = resumed_run
    seg = load_model(model_path)
    frames, load = frames_and_loader(seg.config, "train")
    gt, pred = [], []
    for f in frames:
        img, lab = load(f)
        gt.append(lab[lab >= 0])
        pred.append(seg.predict_range_image(img[..., :5])[lab >= 0])
    gt, pred = np.concatenate(gt), np.concatenate(pred)
    iou = class_iou(gt, pred, 4)
    present = [c for c in range(1, 4) if np.any(gt == c)]
    assert present, "the synthetic frames hold objects"
    assert np.all(iou[present] > 0.9), iou


def _trainable(path: Path) -> list[np.ndarray]:
    return [np.asarray(v) for v in keras.models.load_model(path, compile=False).trainable_weights]


def test_without_ema_the_model_is_the_last_step(resumed_run):
    _, out, model_path, _ = resumed_run
    for a, b in zip(_trainable(model_path), _trainable(out / "checkpoint.keras")):
        np.testing.assert_array_equal(a, b)


def test_ema_saves_the_average_of_the_weights(tmp_path):
    """With ``train.ema`` the saved model holds the moving average, not the last step's weights
    (``checkpoint.keras``, written before fit ends), and the run records the setting."""
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "data", frames=2, val=0, seed=5)
    cfg = tiny_config(root, checkpoint_every=10, learning_rate=0.05, ema=0.8)
    model_path = train(cfg, tmp_path / "run", steps=10, progress=False)
    last = _trainable(tmp_path / "run" / "checkpoint.keras")
    avg = _trainable(model_path)
    assert max(float(np.abs(a - b).max()) for a, b in zip(avg, last)) > 1e-4
    assert json.loads((tmp_path / "run" / "train.json").read_text())["config"]["train"]["ema"] == 0.8


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    """Two replicas (logical CPUs must be configured before TensorFlow starts: a subprocess)."""
    root = write_synthetic_dataset(tmp_path / "data", frames=2, val=0)
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_train_segmentation import tiny_config
        from squeezeseg.train import train
        cfg = tiny_config({str(root)!r}, checkpoint_every=2)
        train(cfg, {str(tmp_path / 'run')!r}, steps=2, strategy="mirrored", progress=False)
        print(json.load(open({str(tmp_path / 'run' / 'train.json')!r}))["replicas"])
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines()[-1] == "2"


def test_multiworker_without_tf_config_is_a_clear_error(monkeypatch):
    from squeezeseg.train import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(InputError, match="TF_CONFIG"):
        make_strategy("multiworker")


def test_resume_falls_back_from_a_damaged_checkpoint(tmp_path, caplog):
    """A truncated backup/latest.weights.h5 (a kill during the write of a plain in-place save) is
    not fatal: the previous good state kept beside it is resumed, and the log says so."""
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "data", frames=2, val=0, seed=5)
    cfg = tiny_config(root, checkpoint_every=2)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, steps=6, progress=False, extra_callbacks=[_Interrupt(5)])
    backup = out / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    assert json.loads((backup / "previous_metadata.json").read_text())["epoch"] == 1
    assert not list(backup.glob(".tmp-*"))
    latest = backup / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    count = _Count()
    with caplog.at_level("WARNING", logger="squeezeseg.train"):
        train(cfg, out, steps=6, resume=True, progress=False, extra_callbacks=[count])
    assert count.n == 4  # epochs 2 and 3 again: resumed from the state after epoch 1
    assert "previous good checkpoint, epoch 1" in caplog.text
    assert (out / "model.keras").is_file() and not backup.exists()


def test_resume_with_no_good_checkpoint_is_one_clear_error(tmp_path):
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "data", frames=2, val=0, seed=5)
    cfg = tiny_config(root, checkpoint_every=2)
    out = tmp_path / "run"
    backup = out / "backup"
    backup.mkdir(parents=True)
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # truncated
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')  # as plain Keras writes it
    with pytest.raises(InputError, match="delete this folder"):
        train(cfg, out, steps=4, resume=True, progress=False)
    assert (backup / "latest.weights.h5").exists()  # nothing deleted behind the user's back


def test_config_ranges_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    for text, key in [
        ("train: {batch_size: 0}", "train.batch_size"),
        ("train: {learning_rate: .nan}", "train.learning_rate"),
        ("train: {checkpoint_every: -5}", "train.checkpoint_every"),
        ("dropout: 1.5", "dropout"),
        ("crf: {size: [3, 0]}", "crf.size"),
    ]:
        bad.write_text(text + "\n")
        with pytest.raises(InputError, match=rf"bad\.yaml: key '{key}' must be"):
            load_model_config(bad)
    cfg = tiny_config(tmp_path)
    cfg.train.batch_size = 0  # e.g. --batch-size 0 applied after loading
    from squeezeseg.train import train

    with pytest.raises(InputError, match="train.batch_size"):
        train(cfg, tmp_path / "run", steps=1, progress=False)
    cfg.train.batch_size = 2
    with pytest.raises(InputError, match="steps must be positive"):  # 0 is not "the config's steps"
        train(cfg, tmp_path / "run", steps=0, progress=False)
    assert not (tmp_path / "run").exists()


def test_adam_with_cosine_schedule_warms_up_then_decays_to_zero(tmp_path):
    """``train.optimizer: adam`` gives AdamW; ``lr_schedule: cosine`` rises linearly over the warm-up
    steps to ``learning_rate`` and falls to 0 at ``steps``; the default stays the papers' SGD."""
    from squeezeseg.train import make_optimizer, make_schedule

    cfg = tiny_config(tmp_path, optimizer="adam", lr_schedule="cosine", warmup_steps=10,
                      learning_rate=0.002, steps=110)
    assert isinstance(make_optimizer(cfg), keras.optimizers.AdamW)
    lr = make_schedule(cfg)
    assert float(lr(0)) == pytest.approx(0.0, abs=1e-9)
    assert float(lr(5)) == pytest.approx(0.001, rel=1e-3)
    assert float(lr(10)) == pytest.approx(0.002, rel=1e-3)
    assert float(lr(60)) == pytest.approx(0.001, rel=1e-2)  # half-way down the cosine
    assert float(lr(110)) == pytest.approx(0.0, abs=1e-6)
    longer = make_schedule(cfg, total=210)  # a run of --steps 210 decays over its own length
    assert float(longer(110)) == pytest.approx(0.001, rel=1e-2)
    sgd = tiny_config(tmp_path, learning_rate=0.05, lr_decay_steps=10, lr_decay_factor=0.5)
    assert isinstance(make_optimizer(sgd), keras.optimizers.SGD)
    assert float(make_schedule(sgd)(25)) == pytest.approx(0.0125)


def test_adam_trains_and_a_bad_optimizer_name_is_refused(tmp_path):
    from squeezeseg.models.config import ModelConfig
    from squeezeseg.train import train

    root = write_synthetic_dataset(tmp_path / "data", frames=2, val=0, seed=5)
    cfg = tiny_config(root, checkpoint_every=10, optimizer="adam", lr_schedule="cosine",
                      learning_rate=0.01, steps=10)
    first = [np.asarray(v).copy() for v in keras.models.load_model(
        train(cfg, tmp_path / "run", steps=1, progress=False), compile=False).trainable_weights]
    final = _trainable(train(cfg, tmp_path / "run2", steps=10, progress=False))
    assert max(float(np.abs(a - b).max()) for a, b in zip(first, final)) > 1e-4
    record = json.loads((tmp_path / "run2" / "train.json").read_text())["config"]["train"]
    assert (record["optimizer"], record["lr_schedule"]) == ("adam", "cosine")
    bad = cfg.to_dict()
    bad["train"]["optimizer"] = "rmsprop"
    with pytest.raises(InputError, match="optimizer"):
        ModelConfig.from_dict(bad, "bad.yaml")
