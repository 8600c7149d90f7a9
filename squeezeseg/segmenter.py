"""The segmenter behind :func:`squeezeseg.load_model`: a trained network plus the projection it was
trained with, so callers hand in points or range images and get class ids back.

``load_model()`` with no path loads the shipped default (``squeezeseg/weights/default.keras``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig
from squeezeseg.resources import weights_dir

log = logging.getLogger(__name__)
DEFAULT_MODEL = "default.keras"
ENGINES = ("keras", "tflite", "onnx")


def default_model_path() -> Path:
    """Path of the shipped default model inside the package."""
    return weights_dir() / DEFAULT_MODEL


class Segmenter:
    """Per-pixel and per-point classes from a model whose ``predict_fn`` maps a (B, H, W, 6) raw
    range image batch (x, y, z, intensity, range, mask) to (B, H, W, C) logits."""

    def __init__(self, predict_fn: Callable[[np.ndarray], np.ndarray], config: ModelConfig,
                 source: str | Path = "<model>", keras_model=None):
        self.predict_fn = predict_fn
        self.config = config
        self.source = Path(source)
        self.keras_model = keras_model
        self._projection = None

    @property
    def classes(self) -> list[str]:
        """Class names, index = class id."""
        return list(self.config.classes)

    @property
    def projection(self):
        """The spherical projection of the training data (sensor, width, field of view)."""
        if self._projection is None:
            from squeezeseg.projection import SphericalProjection

            c = self.config
            self._projection = SphericalProjection.from_sensor(c.sensor, width=c.width, fov_deg=c.fov_deg)
            if self._projection.height != c.height:
                raise InputError(f"model/config mismatch: sensor '{c.sensor}' has {self._projection.height} "
                                 f"beams but the model takes {c.height} rows", self.source)
        return self._projection

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(B, H, W, C) logits of (B, H, W, 5 or 6) raw range images (mask derived from range if absent)."""
        batch = self._as_input(images)
        return np.asarray(self.predict_fn(batch))

    def predict_range_image(self, image: np.ndarray) -> np.ndarray:
        """(H, W) int32 class ids of one (H, W, 5) x, y, z, intensity, range image; empty pixels get 0."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 3:
            raise InputError(f"range image must be (H, W, 5), got shape {img.shape}", self.source)
        batch = self._as_input(img[None])
        labels = np.asarray(self.predict_fn(batch))[0].argmax(-1).astype(np.int32)
        return np.where(batch[0, ..., 5] > 0, labels, 0).astype(np.int32)

    def predict_points(self, points: np.ndarray, full_circle: bool = True) -> np.ndarray:
        """(N,) int32 class ids of points (N, >=4) x, y, z, intensity in the LiDAR frame.

        A model trained on a front window (e.g. 90 degrees) covers the whole circle by running on the
        scan rotated about z by multiples of the window (``full_circle``); otherwise points outside
        the window, like points with no return, get class 0. A scan with no point in view gives all
        class 0 and a warning.
        """
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] < 4:
            raise InputError(f"points must be (N, >=4) x, y, z, intensity, got {pts.shape}", self.source)
        out = np.zeros(len(pts), np.int32)
        if len(pts) == 0:
            log.warning("empty point cloud: nothing to segment")
            return out
        fov = self.config.fov_deg
        turns = int(round(360.0 / fov)) if full_circle and fov < 360 and (360.0 / fov).is_integer() else 1
        seen = 0
        for k in range(turns):
            a = np.deg2rad(-k * fov)  # rotate so window k faces forward
            rot = pts.copy()
            c, s = np.cos(a), np.sin(a)
            rot[:, 0], rot[:, 1] = c * pts[:, 0] - s * pts[:, 1], s * pts[:, 0] + c * pts[:, 1]
            ri = self.projection.project(rot[:, :4])
            if not ri.mask.any():
                continue
            seen += int(ri.mask.sum())
            labels = self.predict_range_image(ri.image[..., :5])
            inside = ri.rows >= 0
            out[inside] = self.projection.unproject(labels, ri)[inside]
        if seen == 0:
            log.warning("no points in the field of view of the model (%s): all points are class 0 (%s)",
                        self.config.sensor, self.classes[0])
        return out

    def _as_input(self, images: np.ndarray) -> np.ndarray:
        imgs = np.asarray(images, dtype=np.float32)
        c = self.config
        if imgs.ndim != 4 or imgs.shape[1:3] != (c.height, c.width) or imgs.shape[3] not in (5, 6):
            raise InputError(
                f"model/input mismatch: the model takes {c.height}x{c.width} range images with 5 channels "
                f"(x, y, z, intensity, range), got shape {imgs.shape[1:]}", self.source)
        if imgs.shape[3] == 5:
            mask = (imgs[..., 4:5] > 0).astype(np.float32)
            imgs = np.concatenate([imgs, mask], axis=-1)
        imgs = np.nan_to_num(imgs, nan=0.0, posinf=0.0, neginf=0.0)
        return imgs


def keras_predict_fn(model, cfg: ModelConfig) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled ``tf.function`` with a fixed (1, H, W, 6) signature, run frame by frame, on the
    model with batch norm folded into its convolutions (same outputs, fewer operations)."""
    import tensorflow as tf

    from squeezeseg.models.fold import fold_batch_norm

    model = fold_batch_norm(model, cfg)
    fn = tf.function(lambda x: model(x, training=False),
                     input_signature=[tf.TensorSpec((1, cfg.height, cfg.width, 6), tf.float32)])

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.concatenate([fn(tf.constant(batch[i:i + 1])).numpy() for i in range(len(batch))], axis=0)

    return predict


def load_model(path: str | Path | None = None, engine: str = "keras") -> Segmenter:
    """A :class:`Segmenter` for a saved model (the shipped default when ``path`` is None).

    ``engine`` "keras" loads a ``.keras`` file; "tflite" and "onnx" load exported models through
    :mod:`squeezeseg.export.engines`.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise InputError("the shipped default model is missing: train it with "
                             "scripts/train_default_model.py", path)
    path = Path(path)
    if engine == "keras":
        from squeezeseg.models import load_keras_model

        model, cfg = load_keras_model(path)
        return Segmenter(keras_predict_fn(model, cfg), cfg, path, keras_model=model)
    try:
        from squeezeseg.export import engines
    except ImportError:
        raise InputError(f"engine '{engine}' needs squeezeseg.export.engines, which is not available "
                         "in this installation", path) from None
    predict_fn, cfg = engines.load_engine(path, engine)
    return Segmenter(predict_fn, cfg, path)
