"""Training loop: Keras ``fit`` under a ``tf.distribute`` strategy, with checkpoints every
``train.checkpoint_every`` steps, resume after an interruption, TensorBoard logs and a tqdm bar.

Output folder ``OUT``: ``model.keras`` (final), ``checkpoint.keras`` (latest), ``backup/`` (state for
``--resume``, written atomically with the previous good state kept beside it, removed when training
finishes), ``logs/`` (TensorBoard, when installed), ``history.csv``
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
from squeezeseg.model_cache import file_sha1
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


def make_schedule(
    cfg: ModelConfig, total: int | None = None,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate by step: ``lr_decay_factor`` every ``lr_decay_steps`` (the papers'), or a
    linear warm-up over ``warmup_steps`` then cosine decay to 0 at the run's ``total`` steps
    (default ``train.steps``)."""
    t = cfg.train
    if t.lr_schedule == "cosine":
        total = t.steps if total is None else total
        return keras.optimizers.schedules.CosineDecay(
            0.0 if t.warmup_steps else t.learning_rate, max(total - t.warmup_steps, 1),
            warmup_target=t.learning_rate if t.warmup_steps else None, warmup_steps=t.warmup_steps)
    return keras.optimizers.schedules.ExponentialDecay(
        t.learning_rate, t.lr_decay_steps, t.lr_decay_factor, staircase=True)


def make_optimizer(cfg: ModelConfig, total: int | None = None) -> keras.optimizers.Optimizer:
    """SGD with momentum (the papers' settings) or AdamW, with global-norm clipping, weight decay and an
    exponential moving average of the weights when ``train.ema`` (fit ends on the average); ``total``
    is the run's length in steps (the cosine schedule's end)."""
    t = cfg.train
    lr = make_schedule(cfg, total)
    common = dict(global_clipnorm=t.grad_clip or None, use_ema=t.ema > 0, ema_momentum=t.ema or 0.99)
    if t.optimizer == "adam":
        return keras.optimizers.AdamW(lr, weight_decay=t.weight_decay, **common)
    return keras.optimizers.SGD(lr, momentum=t.momentum, weight_decay=t.weight_decay or None, **common)


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


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that never leaves a half-written state and keeps the previous good one.

    Keras writes ``backup/latest.weights.h5`` in place, so a kill during the write leaves a file
    that cannot be read. Here each save writes the weights and ``training_metadata.json`` (with
    the weights' SHA-1) under temporary names, moves the current pair to ``previous.weights.h5``
    and ``previous_metadata.json`` and renames the new pair in. On resume the newest pair whose
    weights match their metadata and load is used; when that is not the latest, a warning says so.
    No usable pair at all is an InputError.
    """

    def __init__(self, backup_dir: str | Path):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.dir = Path(backup_dir)
        self.restored: tuple[Path, int] | None = None  # (weights file, epoch) resumed from

    @property
    def _pairs(self) -> list[tuple[Path, Path]]:
        return [
            (self.dir / "latest.weights.h5", self.dir / "training_metadata.json"),
            (self.dir / "previous.weights.h5", self.dir / "previous_metadata.json"),
        ]

    def _save_model(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp_w, tmp_m = self.dir / f".tmp-{os.getpid()}.weights.h5", self.dir / f".tmp-{os.getpid()}.json"
        try:
            self.model.save_weights(str(tmp_w), overwrite=True)
            meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
            tmp_m.write_text(json.dumps({**meta, "weights_sha1": file_sha1(tmp_w)}), encoding="utf-8")
            _fsync(tmp_w)
            _fsync(tmp_m)
            (w, m), (prev_w, prev_m) = self._pairs
            if self._matching_epoch(w, m) is not None:  # keep the last good state until the new one is in
                os.replace(w, prev_w)
                os.replace(m, prev_m)
            os.replace(tmp_w, w)
            os.replace(tmp_m, m)
            _fsync(self.dir)
        finally:
            tmp_w.unlink(missing_ok=True)
            tmp_m.unlink(missing_ok=True)

    @staticmethod
    def _matching_epoch(weights: Path, meta: Path) -> int | None:
        """The epoch of ``meta`` when ``weights`` is the file it describes (None otherwise)."""
        try:
            doc = json.loads(meta.read_text(encoding="utf-8"))
            epoch = int(doc["epoch"])
            if not weights.is_file():
                return None
            if "weights_sha1" in doc and doc["weights_sha1"] != file_sha1(weights):
                return None
            return epoch
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def on_train_begin(self, logs=None) -> None:
        for tmp in self.dir.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)
        files = [f for pair in self._pairs for f in pair if f.exists()]
        if not files:
            return
        if not self.model.built:
            raise ValueError("BackupAndRestore needs a built model")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        problems = []
        candidates = [(w, m) for w, _ in self._pairs for _, m in self._pairs]
        for w, m in sorted(candidates, key=lambda p: -(self._matching_epoch(*p) or -1)):
            epoch = self._matching_epoch(w, m)
            if epoch is None:
                continue
            try:
                self.model.load_weights(str(w))
            except Exception as exc:  # h5py/Keras raise OSError, ValueError, KeyError, RuntimeError
                problems.append(f"{w.name}: {(str(exc).splitlines() or [type(exc).__name__])[0][:120]}")
                continue
            self.model._initial_epoch = epoch
            self.restored = (w, epoch)
            if w != self._pairs[0][0] or m != self._pairs[0][1]:
                log.warning(
                    "%s is damaged or incomplete (%s): resuming from the previous good checkpoint, "
                    "epoch %d (%s)", self._pairs[0][0], "; ".join(problems) or "no matching metadata",
                    epoch, w.name)
            return
        raise InputError(
            "the training state is damaged and no earlier good copy exists "
            f"({'; '.join(problems) or 'weights and metadata do not match'}): delete this folder to "
            "start over (checkpoint.keras beside it holds the last model saved)",
            self.dir,
        )


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_initial_weights(model: keras.Model, path: str | Path) -> None:
    """Copy the weights of the trained model at ``path`` into ``model`` (same layers, any input width)."""
    from squeezeseg.models import load_keras_model

    src, _ = load_keras_model(Path(path))
    theirs, ours = src.get_weights(), model.get_weights()
    if len(theirs) != len(ours) or any(a.shape != b.shape for a, b in zip(theirs, ours)):
        raise InputError("its layers do not match the model being trained (another architecture or "
                         "width multiplier)", path)
    model.set_weights(theirs)
    log.info("starting from the weights of %s", path)


def set_normalization_from_data(cfg: ModelConfig, data_root: str | None = None,
                                normalization: bool = True) -> list[int]:
    """Set ``cfg.mean``/``cfg.std`` from (up to ``train.normalization_frames``) training frames (when
    ``normalization``); returns the labelled pixels per class counted on the same frames."""
    import numpy as np

    from squeezeseg.data.sources import frames_and_loader
    from squeezeseg.normalization import compute_statistics

    frames, load = frames_and_loader(cfg, cfg.data.train_split, data_root)
    step = max(1, len(frames) // max(1, cfg.train.normalization_frames))
    counts = np.zeros(cfg.num_classes, np.int64)

    def images():
        for f in frames[::step]:
            image, labels = load(f)
            counts[:] += np.bincount(labels[labels >= 0].ravel(), minlength=cfg.num_classes)[:cfg.num_classes]
            yield image[..., :5]

    if not normalization:
        for _ in images():
            pass
        return counts.tolist()
    stats = compute_statistics(images())
    cfg.mean = [float(v) for v in stats.mean]
    cfg.std = [max(float(v), 1e-3) for v in stats.std]
    log.info("normalisation from %d frames: mean %s std %s", stats.frames,
             [round(v, 3) for v in cfg.mean], [round(v, 3) for v in cfg.std])
    return counts.tolist()


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
    init: str | Path | None = None,
) -> Path:
    """Train ``cfg`` for ``steps`` steps into ``out``; returns the path of the final ``model.keras``.

    An interrupted run (Ctrl-C, a crash, a killed job) leaves ``out/backup``; run again with
    ``resume=True`` to continue from the last checkpoint. ``init`` starts from the weights of a
    trained ``.keras`` model of the same architecture (fine-tuning; keep its normalisation in ``cfg``).
    """
    cfg.check()  # ranges again: command-line overrides come after the config file was checked
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", out)
    backup = out / "backup"
    if backup.exists() and not resume:
        raise InputError("holds an interrupted training run: pass --resume to continue it, or pick "
                         "another --out", out)
    if resume and not backup.exists():
        log.warning("nothing to resume in %s: starting from scratch", out)
    total = int(cfg.train.steps if steps is None else steps)
    if total <= 0:
        raise InputError(f"steps must be positive, got {total}")
    per_epoch = max(1, min(cfg.train.checkpoint_every, total))
    epochs = math.ceil(total / per_epoch)
    keras.utils.set_random_seed(cfg.train.seed)

    from squeezeseg.data.pipeline import make_dataset
    from squeezeseg.losses import segmentation_loss

    counts = None
    if cfg.train.normalization == "dataset" or cfg.train.class_balance:
        counts = set_normalization_from_data(cfg, data_root, cfg.train.normalization == "dataset")
    weights = list(cfg.class_weights)
    if cfg.train.class_balance:
        from squeezeseg.losses import class_balanced_weights

        weights = class_balanced_weights(cfg.class_weights, counts, cfg.train.class_balance)
        log.info("class-balanced weights (power %g, pixels %s): %s", cfg.train.class_balance, counts,
                 [round(w, 3) for w in weights])
    strat = make_strategy(strategy)
    ds = make_dataset(cfg, training=True, root=data_root)
    train_cfg = cfg
    if cfg.train.crop_width and cfg.train.crop_width < cfg.width:
        train_cfg = dataclasses.replace(cfg, width=cfg.train.crop_width)
    with strat.scope():
        model = build_model(train_cfg)
        model.compile(optimizer=make_optimizer(cfg, total), loss=segmentation_loss(cfg, weights),
                      jit_compile=False)
        if init is not None:
            load_initial_weights(model, init)
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        SafeBackupAndRestore(backup),
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
        "init": str(init) if init else None,
        "class_pixels": counts,
        "class_weights_used": weights,
        "final_loss": float(history.history["loss"][-1]) if history.history.get("loss") else None,
        "seconds_this_run": round(time.time() - t0, 1),
        "command": command or " ".join(sys.argv),
    }
    atomic_write_text(out / "train.json", json.dumps(record, indent=1) + "\n")
    shutil.rmtree(backup, ignore_errors=True)
    return final
