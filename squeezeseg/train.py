"""Training loop: Keras ``fit`` under a ``tf.distribute`` strategy, with checkpoints every
``train.checkpoint_every`` steps, resume after an interruption, TensorBoard logs and a tqdm bar.

Output folder ``OUT``: ``model.keras`` (final), ``checkpoint.keras`` (latest), ``backup/`` (state for
``--resume``, removed when training finishes), ``logs/`` (TensorBoard, when installed), ``history.csv``
(loss per checkpoint interval), ``train.json`` (what ran).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from squeezeseg.atomic import atomic_path, atomic_write_text
from squeezeseg.errors import InputError
from squeezeseg.models import ModelConfig, build_model

log = logging.getLogger(__name__)
STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``default`` (one device), ``mirrored`` (all local GPUs, else all logical CPUs) or
    ``multiworker`` (several machines, described by the ``TF_CONFIG`` environment variable)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise InputError("--strategy multiworker needs TF_CONFIG (cluster and task) in the environment")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InputError(f"unknown strategy '{name}' (choose from {', '.join(STRATEGIES)})")


def tensorboard_available() -> bool:
    """TensorFlow writes summaries only when the ``tensorboard`` package is installed."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def make_optimizer(cfg: ModelConfig) -> keras.optimizers.Optimizer:
    """SGD with momentum, step decay, global-norm clipping and weight decay (the papers' settings)."""
    t = cfg.train
    lr = keras.optimizers.schedules.ExponentialDecay(
        t.learning_rate, t.lr_decay_steps, t.lr_decay_factor, staircase=True)
    return keras.optimizers.SGD(lr, momentum=t.momentum, global_clipnorm=t.grad_clip or None,
                                weight_decay=t.weight_decay or None)


class TqdmProgress(keras.callbacks.Callback):
    """One tqdm bar over all training steps, showing the running loss."""

    def __init__(self, total: int, initial_epoch_steps: int = 0, disable: bool = False):
        super().__init__()
        self.total, self.start, self.disable = total, initial_epoch_steps, disable
        self.bar = None

    def on_train_begin(self, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, unit="step", desc="train", disable=self.disable, file=sys.stderr)

    def on_epoch_begin(self, epoch, logs=None):
        if self.bar is not None and self.bar.n == 0:
            self.bar.update(epoch * self.params["steps"])

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_train_end(self, logs=None):
        self.bar.close()


class SaveLatest(keras.callbacks.Callback):
    """Save the model to ``path`` after every epoch (= ``checkpoint_every`` steps), atomically."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(self.path) as tmp:
            self.model.save(tmp)


def set_normalization_from_data(cfg: ModelConfig, data_root: str | None = None) -> None:
    """Set ``cfg.mean``/``cfg.std`` from (up to ``train.normalization_frames``) training frames."""
    from squeezeseg.data.sources import frames_and_loader
    from squeezeseg.normalization import compute_statistics

    frames, load = frames_and_loader(cfg, cfg.data.train_split, data_root)
    step = max(1, len(frames) // max(1, cfg.train.normalization_frames))
    stats = compute_statistics(load(f)[0][..., :5] for f in frames[::step])
    cfg.mean = [float(v) for v in stats.mean]
    cfg.std = [max(float(v), 1e-3) for v in stats.std]
    log.info("normalisation from %d frames: mean %s std %s", stats.frames,
             [round(v, 3) for v in cfg.mean], [round(v, 3) for v in cfg.std])


def train(
    cfg: ModelConfig,
    out: str | Path,
    steps: int | None = None,
    resume: bool = False,
    strategy: str = "default",
    data_root: str | None = None,
    progress: bool = True,
    extra_callbacks: list | None = None,
    command: str | None = None,
) -> Path:
    """Train ``cfg`` for ``steps`` steps into ``out``; returns the path of the final ``model.keras``.

    An interrupted run (Ctrl-C, a crash, a killed job) leaves ``out/backup``; run again with
    ``resume=True`` to continue from the last checkpoint.
    """
    out = Path(out)
    backup = out / "backup"
    if backup.exists() and not resume:
        raise InputError("holds an interrupted training run: pass --resume to continue it, or pick "
                         "another --out", out)
    if resume and not backup.exists():
        log.warning("nothing to resume in %s: starting from scratch", out)
    total = int(steps or cfg.train.steps)
    if total <= 0:
        raise InputError(f"steps must be positive, got {total}")
    per_epoch = max(1, min(cfg.train.checkpoint_every, total))
    epochs = math.ceil(total / per_epoch)
    keras.utils.set_random_seed(cfg.train.seed)

    from squeezeseg.data.pipeline import make_dataset
    from squeezeseg.losses import segmentation_loss

    if cfg.train.normalization == "dataset":
        set_normalization_from_data(cfg, data_root)
    strat = make_strategy(strategy)
    ds = make_dataset(cfg, training=True, root=data_root)
    train_cfg = cfg
    if cfg.train.crop_width and cfg.train.crop_width < cfg.width:
        train_cfg = dataclasses.replace(cfg, width=cfg.train.crop_width)
    with strat.scope():
        model = build_model(train_cfg)
        model.compile(optimizer=make_optimizer(cfg), loss=segmentation_loss(cfg), jit_compile=False)
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup), save_freq="epoch", delete_checkpoint=True),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        SaveLatest(out / "checkpoint.keras"),
        TqdmProgress(epochs * per_epoch, disable=not progress),
        *(extra_callbacks or []),
    ]
    if tensorboard_available():
        tb = keras.callbacks.TensorBoard(str(out / "logs"), update_freq=max(1, per_epoch // 10))
        callbacks.insert(1, tb)
    else:
        log.warning("TensorBoard is not installed (pip install tensorboard): losses go to %s only",
                    out / "history.csv")
    t0 = time.time()
    history = model.fit(ds, epochs=epochs, steps_per_epoch=per_epoch, callbacks=callbacks, verbose=0)
    final = out / "model.keras"
    if train_cfg is not cfg:  # same layers and weights, full-width input
        full = build_model(cfg)
        full.set_weights(model.get_weights())
        model_to_save = full
    else:
        model_to_save = model
    with atomic_path(final) as tmp:
        model_to_save.save(tmp)
    record = {
        "config": cfg.to_dict(),
        "steps": epochs * per_epoch,
        "optimizer_iterations": int(model.optimizer.iterations.numpy()),
        "seed": cfg.train.seed,
        "strategy": strategy,
        "replicas": strat.num_replicas_in_sync,
        "data": str(data_root or cfg.data.root),
        "final_loss": float(history.history["loss"][-1]) if history.history.get("loss") else None,
        "seconds_this_run": round(time.time() - t0, 1),
        "command": command or " ".join(sys.argv),
    }
    atomic_write_text(out / "train.json", json.dumps(record, indent=1) + "\n")
    shutil.rmtree(backup, ignore_errors=True)
    return final
