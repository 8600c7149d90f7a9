"""Learned intensity rendering (SqueezeSegV2, Sec. 4.1): a SqueezeSeg network without CRF that sees
x, y, z and range (the intensity channel is zeroed) and predicts the intensity of every pixel, trained
self-supervised on unlabelled real scans; it then paints realistic intensity onto synthetic scans.

Hybrid loss (the paper's): intensity in [0, 1] is split into ``BINS`` equal bins; the network
classifies the bin (cross-entropy) and regresses, for every bin, the deviation of the intensity from
the bin's centre in bin widths (L2 on the true bin's output). The baseline ``l2`` network regresses
intensity directly with a plain L2 loss.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Literal

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.models.config import CRFConfig, ModelConfig

log = logging.getLogger(__name__)
BINS = 10
Kind = Literal["hybrid", "l2"]
NAME_PREFIX = "intensity_renderer_"


def renderer_config(kind: Kind = "hybrid", width_multiplier: float = 0.25, height: int = 64,
                    width: int = 512, mean=None, std=None) -> ModelConfig:
    """ModelConfig of a rendering network: SqueezeSeg, no CRF, ``2*BINS`` outputs (bin logits then
    deviations) for ``hybrid``, 2 for ``l2`` (channel 0 is the intensity; the builder needs >= 2)."""
    n = 2 * BINS if kind == "hybrid" else 2
    names = [f"bin{i}" for i in range(BINS)] + [f"dev{i}" for i in range(BINS)] if kind == "hybrid" \
        else ["intensity", "unused"]
    mean = list(mean) if mean is not None else [10.88, 0.23, -1.04, 0.0, 12.12]
    std = list(std) if std is not None else [11.47, 6.91, 0.86, 1.0, 12.32]
    mean[3], std[3] = 0.0, 1.0  # the intensity input is always zero
    crf = CRFConfig(enabled=False, bilateral_theta_a=[0.9] * n, bilateral_theta_r=[0.015] * n,
                    angular_theta_a=[0.9] * n)
    return ModelConfig(name=NAME_PREFIX + kind, architecture="squeezeseg", height=height, width=width,
                       classes=names, class_weights=[1.0] * n, width_multiplier=width_multiplier,
                       dropout=0.0, loss="cross_entropy", mean=mean, std=std, crf=crf)


def build_renderer(cfg: ModelConfig):
    """Fresh rendering network for ``cfg`` (the shared SqueezeSeg builder: no batch norm, no CRF)."""
    from squeezeseg.models.squeezeseg import build_squeezeseg

    return build_squeezeseg(cfg)


def renderer_kind(cfg: ModelConfig) -> Kind:
    if not cfg.name.startswith(NAME_PREFIX) or cfg.name[len(NAME_PREFIX):] not in ("hybrid", "l2"):
        raise InputError(f"not an intensity rendering model (model name '{cfg.name}')")
    return cfg.name[len(NAME_PREFIX):]  # type: ignore[return-value]


def strip_intensity(images):
    """The renderer's input: the range image with its intensity channel set to zero."""
    import tensorflow as tf

    return images * tf.constant([1, 1, 1, 0, 1, 1], images.dtype)


def hybrid_loss(intensity, mask, out):
    """Per-pixel bin cross-entropy plus L2 of the true bin's deviation, averaged over valid pixels."""
    import tensorflow as tf

    i = tf.clip_by_value(intensity, 0.0, 1.0)
    b = tf.minimum(tf.cast(tf.floor(i * BINS), tf.int32), BINS - 1)
    dev_true = i * BINS - (tf.cast(b, i.dtype) + 0.5)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(b, out[..., :BINS])
    dev_pred = tf.gather(out[..., BINS:], b, batch_dims=3)
    per_pixel = ce + tf.square(dev_pred - dev_true)
    return tf.reduce_sum(per_pixel * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def l2_loss(intensity, mask, out):
    """Plain L2 regression of intensity, averaged over valid pixels (the paper's baseline)."""
    import tensorflow as tf

    return tf.reduce_sum(tf.square(out[..., 0] - intensity) * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def decode(out: np.ndarray, kind: Kind) -> np.ndarray:
    """(..., H, W) intensity in [0, 1] from network outputs: centre of the most likely bin plus its
    predicted deviation (hybrid), or the regressed value (l2)."""
    if kind == "l2":
        return np.clip(out[..., 0], 0.0, 1.0)
    b = np.argmax(out[..., :BINS], axis=-1)
    dev = np.take_along_axis(out[..., BINS:], b[..., None], axis=-1)[..., 0]
    return np.clip((b + 0.5 + np.clip(dev, -0.5, 0.5)) / BINS, 0.0, 1.0)


def train_renderer(images: np.ndarray, kind: Kind = "hybrid", steps: int = 300, batch_size: int = 4,
                   crop_width: int = 128, width_multiplier: float = 0.25, learning_rate: float = 1e-3,
                   seed: int = 0, progress: bool = True):
    """Train a rendering network on unlabelled real range images (N, H, W, 6); returns the full-width model.

    Steps run on random ``crop_width``-column crops (the network is fully convolutional; 4x cheaper
    on a CPU) and the weights move into a full-width model afterwards. Adam, not the segmentation
    SGD schedule: a few hundred steps on a handful of scans need its quick start.
    """
    import keras
    import tensorflow as tf

    from domain_adapt.train import crop_batches, run_steps, transfer_weights
    from squeezeseg.normalization import compute_statistics

    if len(images) == 0:
        raise InputError("no target images to train the intensity renderer on")
    keras.utils.set_random_seed(seed)
    stats = compute_statistics(images)
    h, w = images.shape[1:3]
    full_cfg = renderer_config(kind, width_multiplier, h, w, stats.mean, stats.std)
    crop_cfg = renderer_config(kind, width_multiplier, h, min(crop_width, w), stats.mean, stats.std)
    model = build_renderer(crop_cfg)
    opt = keras.optimizers.Adam(learning_rate)
    loss_fn = hybrid_loss if kind == "hybrid" else l2_loss

    @tf.function(reduce_retracing=True)
    def step(x):
        with tf.GradientTape() as tape:
            loss = loss_fn(x[..., 3], x[..., 5], model(strip_intensity(x), training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return {"loss": loss}

    batches = crop_batches(images, None, batch_size, crop_cfg.width, np.random.default_rng(seed))
    run_steps(lambda b: step(tf.constant(b[0])), batches, steps, f"render-{kind}", progress)
    full = build_renderer(full_cfg)
    transfer_weights(model, full)
    return full


def render(model, images: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """(N, H, W) predicted intensity of (N, H, W, 6) range images; 0 on empty pixels."""
    import tensorflow as tf

    from squeezeseg.models import config_of

    kind = renderer_kind(config_of(model))
    out = []
    for i in range(0, len(images), batch_size):
        x = tf.constant(images[i:i + batch_size], tf.float32)
        out.append(decode(model(strip_intensity(x), training=False).numpy(), kind))
    return np.concatenate(out) * (images[..., 5] > 0)


def intensity_mse(model, images: np.ndarray) -> float:
    """Mean squared error of the rendered intensity over the valid pixels of real images."""
    pred = render(model, images)
    valid = images[..., 5] > 0
    return float(np.mean((pred[valid] - images[..., 3][valid]) ** 2))


def load_renderer(path: str | Path):
    """A saved rendering network (``.keras``); anything else is an InputError naming the file."""
    import keras

    import squeezeseg.nn  # noqa: F401  (registers the custom layers)
    from squeezeseg.models import config_of

    path = Path(path)
    if not path.is_file():
        raise InputError("renderer model not found", path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for corrupt files
        raise InputError(f"cannot load model: {exc}", path) from None
    cfg = config_of(model, path)
    if not cfg.name.startswith(NAME_PREFIX):
        raise InputError(f"not an intensity rendering model (model name '{cfg.name}')", path)
    return model


def render_dataset(model_path: str | Path, data_dir: str | Path, out_dir: str | Path,
                   batch_size: int = 4, progress: bool = True) -> Path:
    """Copy a SqueezeSeg-layout dataset (``lidar_2d/*.npy``, ``ImageSet/``, ``lidarsim.json``) to
    ``out_dir`` with the intensity channel rendered by the model. Finished frames are skipped, so an
    interrupted run resumes; every file is written atomically."""
    from tqdm import tqdm

    from squeezeseg.atomic import atomic_path
    from squeezeseg.datasets import with_mask
    from squeezeseg.io import read_squeezeseg_npy, write_squeezeseg_npy

    data, out = Path(data_dir), Path(out_dir)
    folder = data / "lidar_2d" if (data / "lidar_2d").is_dir() else data
    files = sorted(folder.glob("*.npy")) if folder.is_dir() else []
    if not files:
        raise InputError("no SqueezeSeg .npy frames (expected lidar_2d/*.npy)", data)
    if out.resolve() == data.resolve():
        raise InputError("--out must differ from --data (the source scans are kept)", out)
    model = load_renderer(model_path)
    want = tuple(model.input_shape[1:3])
    todo = [f for f in files if not (out / "lidar_2d" / f.name).is_file()]
    for i in tqdm(range(0, len(todo), batch_size), desc="render", unit="batch", disable=not progress):
        chunk = todo[i:i + batch_size]
        pairs = [read_squeezeseg_npy(f) for f in chunk]
        for f, (img, _) in zip(chunk, pairs):
            if img.shape[:2] != want:
                raise InputError(f"range image is {img.shape[0]}x{img.shape[1]}, the renderer wants "
                                 f"{want[0]}x{want[1]}", f)
        inputs = np.stack([with_mask(img, lab)[0] for img, lab in pairs])
        rendered = render(model, inputs, batch_size)
        for f, (img, lab), r in zip(chunk, pairs, rendered):
            img = img.copy()
            img[..., 3] = r
            write_squeezeseg_npy(out / "lidar_2d" / f.name, img, lab)
    for extra in [*sorted((data / "ImageSet").glob("*.txt")), data / "lidarsim.json"]:
        if extra.is_file():
            dest = out / extra.relative_to(data)
            with atomic_path(dest) as tmp:
                shutil.copyfile(extra, tmp)
    return out
