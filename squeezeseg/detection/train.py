"""Train SqueezeDet on a KITTI object folder: tf.data, the paper's loss, checkpoints and resume.

``fit`` runs under a ``tf.distribute`` strategy ("default" = one device, "mirrored" = all local GPUs),
with Keras' BackupAndRestore so an interrupted run continues from its last finished epoch.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from squeezeseg.atomic import atomic_path, atomic_write_text
from squeezeseg.detection.data import DetectionData, read_split, scan_frames
from squeezeseg.detection.model import SqueezeDetConfig, build_squeezedet
from squeezeseg.errors import InputError

log = logging.getLogger("squeezeseg.detection")


@dataclass
class TrainResult:
    model_path: Path
    history: dict


class StepCounter(keras.callbacks.Callback):
    """Counts training steps and wall time; stops training once ``time_limit_s`` has passed."""

    def __init__(self, time_limit_s: float | None = None):
        super().__init__()
        self.time_limit_s = time_limit_s
        self.steps = 0
        self.seconds = 0.0
        self._t0 = None

    def on_train_begin(self, logs=None):
        self._t0 = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.seconds = time.monotonic() - self._t0
        if self.time_limit_s is not None and self.seconds > self.time_limit_s:
            log.info("time limit of %.0f s reached after %d steps: stopping", self.time_limit_s, self.steps)
            self.model.stop_training = True


def make_strategy(name: str = "default"):
    """A tf.distribute strategy by name: "default" (one device) or "mirrored" (all local GPUs)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise InputError(f"unknown distribution strategy {name!r} (use 'default' or 'mirrored')")


def compile_model(config: SqueezeDetConfig, total_steps: int = 1000):
    """Built and compiled model for ``config`` (call inside the strategy scope); ``total_steps`` sets the
    length of the cosine learning-rate decay."""
    from squeezeseg.detection.loss import SqueezeDetLoss

    model = build_squeezedet(config)
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, max(total_steps, 1), alpha=0.01)
    if config.optimizer == "sgd":
        opt = keras.optimizers.SGD(lr, momentum=0.9, clipnorm=config.clip_norm)
    else:
        opt = keras.optimizers.Adam(lr, clipnorm=config.clip_norm)
    # No XLA: the plain TF graph runs everywhere (CPU, GPU, distribution) without a compile step.
    model.compile(opt, loss=SqueezeDetLoss(config.to_dict()), jit_compile=False)
    return model


def save_model(model, config: SqueezeDetConfig, path: str | Path, extra: dict | None = None) -> Path:
    """Write ``path`` (.keras, no optimizer) and its ``.json`` sidecar (config + ``extra``) atomically."""
    path = Path(path)
    # A fresh copy of the network: Keras 3 would otherwise store the optimizer slots (3x the weights)
    # and the compile config; inference needs neither.
    plain = build_squeezedet(config)
    plain.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        plain.save(tmp)
    meta = {"format": "squeezedet", "config": config.to_dict(), **(extra or {})}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    return path


def train(
    config: SqueezeDetConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    epochs: int = 10,
    steps_per_epoch: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    augment: bool = True,
    strategy: str = "default",
    verbose: int = 1,
    extra_meta: dict | None = None,
    split: str | None = None,
    time_limit_s: float | None = None,
    init_from: str | Path | None = None,
    paste_from: str | Path | None = None,
) -> TrainResult:
    """Train on ``data_dir`` (only the frames of ``split`` when given) and write ``out_dir/model.keras``
    (+ .json); checkpoints in ``out_dir``. ``time_limit_s`` stops early (the JSON records the steps run).
    ``init_from``: a trained SqueezeDet whose weights start the run (fine-tuning, see
    :func:`transfer_weights`). ``paste_from``: a KITTI object folder whose object crops are pasted
    into half of the training images (:mod:`squeezeseg.detection.paste`)."""
    keras.utils.set_random_seed(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = scan_frames(data_dir, config.classes, ids=read_split(data_dir, split) if split else None)
    bank = None
    if paste_from is not None and augment:
        from squeezeseg.detection.paste import CropBank

        bank = CropBank.from_folder(paste_from, config.classes)
    data = DetectionData(frames, config, paste=bank)
    n_obj = sum(len(f.boxes(config.classes)[1]) for f in frames)
    log.info("training on %d images with %d objects of %s", len(frames), n_obj, ", ".join(config.classes))
    bs = batch_size or config.batch_size
    steps = steps_per_epoch or max(1, int(np.ceil(len(frames) / bs)))
    with make_strategy(strategy).scope():
        model = compile_model(config, epochs * steps)
        if init_from is not None:
            from squeezeseg.detection.detect import SqueezeDetector

            source = SqueezeDetector.load(init_from)
            transfer_weights(model, config, source.model, source.config)
            log.info("initialised from %s", init_from)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out_dir / "backup")),
        keras.callbacks.ModelCheckpoint(str(out_dir / "checkpoint.keras")),
        keras.callbacks.TerminateOnNaN(),
        (counter := StepCounter(time_limit_s)),
    ]
    hist = model.fit(
        data.dataset(bs, augment, seed),
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    meta = {
        "seed": seed,
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_size": bs,
        "steps_run": counter.steps,
        "train_seconds": round(counter.seconds, 1),
        "data": str(data_dir),
        "split": split,
        "train_images": len(frames),
        "train_objects": n_obj,
        "init_from": None if init_from is None else str(init_from),
        "paste_from": None if paste_from is None else str(paste_from),
        "pasted_crops": 0 if bank is None else len(bank),
        **(extra_meta or {}),
    }
    path = save_model(model, config, out_dir / "model.keras", meta)
    return TrainResult(path, {k: [float(v) for v in vals] for k, vals in hist.history.items()})


#: A class a source model lacks starts from the weights of this one (a van looks most like a car).
CLASS_FALLBACK = {"Van": "Car", "Truck": "Car", "Person_sitting": "Pedestrian"}


def head_channel_map(new: SqueezeDetConfig, old: SqueezeDetConfig) -> np.ndarray:
    """For each ConvDet output channel of ``new``, the channel of ``old`` it starts from (-1: fresh).

    Both heads hold K*C class logits (anchor-major), K confidences, K*4 deltas; classes are matched by
    name (or by :data:`CLASS_FALLBACK`), confidences and deltas carry over anchor for anchor."""
    K = new.num_anchors
    if old.num_anchors != K:
        raise InputError(f"cannot transfer a head of {old.num_anchors} anchors to one of {K}")
    C, Co = len(new.classes), len(old.classes)
    src_cls = []
    for c in new.classes:
        name = c if c in old.classes else CLASS_FALLBACK.get(c)
        src_cls.append(old.classes.index(name) if name in old.classes else -1)
    cls = [k * Co + src_cls[c] if src_cls[c] >= 0 else -1 for k in range(K) for c in range(C)]
    return np.array(cls + [K * Co + k for k in range(K)] + [K * Co + K + j for j in range(4 * K)])


def transfer_weights(model, config: SqueezeDetConfig, source, source_config: SqueezeDetConfig) -> None:
    """Copy ``source``'s weights into ``model`` layer by layer (same names and shapes); the ConvDet head
    is copied channel by channel through :func:`head_channel_map` when the classes differ."""
    src = {layer.name: layer for layer in source.layers}
    for layer in model.layers:
        other = src.get(layer.name)
        if other is None or not layer.weights:
            continue
        new_w, old_w = layer.get_weights(), other.get_weights()
        if [w.shape for w in new_w] == [w.shape for w in old_w]:
            layer.set_weights(old_w)
        elif layer.name == "conv_det":
            cmap = head_channel_map(config, source_config)
            kernel, bias = new_w
            have = cmap >= 0
            kernel[..., have] = old_w[0][..., cmap[have]]
            bias[have] = old_w[1][cmap[have]]
            layer.set_weights([kernel, bias])
        else:
            raise InputError(f"layer {layer.name}: shapes differ from the source model, cannot fine-tune")


def kmeans_config(
    config: SqueezeDetConfig, data_dir: str | Path, seed: int = 0, split: str | None = None
) -> SqueezeDetConfig:
    """``config`` with anchor shapes by k-means on the training boxes of ``data_dir`` (input pixels)."""
    import dataclasses

    from squeezeseg.detection.anchors import kmeans_anchor_shapes

    sizes = []
    for f in scan_frames(data_dir, config.classes, ids=read_split(data_dir, split) if split else None):
        boxes, _ = f.boxes(config.classes)
        sx, sy = config.input_width / f.size[0], config.input_height / f.size[1]
        sizes.extend(np.c_[(boxes[:, 2] - boxes[:, 0]) * sx, (boxes[:, 3] - boxes[:, 1]) * sy])
    shapes = kmeans_anchor_shapes(np.array(sizes), k=config.num_anchors, seed=seed)
    return dataclasses.replace(
        config,
        anchor_shapes=np.round(shapes, 1).tolist(),
        anchors_at=[config.input_width, config.input_height],
    )
