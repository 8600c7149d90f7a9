"""SqueezeDet inference: load a trained model, detect objects in images of any size, draw and save them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from squeezeseg.detection.box2d import scale_boxes
from squeezeseg.detection.data import load_image, resize_image
from squeezeseg.detection.labels import Object2D
from squeezeseg.detection.model import SqueezeDetConfig
from squeezeseg.detection.postprocess import postprocess
from squeezeseg.errors import InputError
from squeezeseg.resources import default_model_path

COLOURS = {"Car": (0, 200, 255), "Pedestrian": (255, 60, 60), "Cyclist": (60, 255, 60)}


def read_model_meta(path: str | Path) -> dict:
    """The JSON sidecar written beside a trained model (its config, seed, data)."""
    meta_path = Path(path).with_suffix(".json")
    if not meta_path.is_file():
        raise InputError(f"model metadata {meta_path.name} not found beside the model", path)
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", meta_path) from None


class SqueezeDetector:
    """A SqueezeDet model with its config: images in, :class:`Object2D` detections (original pixels) out."""

    def __init__(self, model, config: SqueezeDetConfig):
        self.model = model
        self.config = config
        self.anchors = config.anchors()
        self._compiled = None  # the Keras model as one tf.function, built on first use

    @classmethod
    def load(cls, path: str | Path | None = None) -> SqueezeDetector:
        """Load ``path`` (a ``.keras`` file with its ``.json``), or the shipped default when None."""
        import keras

        import squeezeseg.nn  # noqa: F401  (registers Fire, so a fresh process can deserialise the model)
        from squeezeseg.config import from_dict

        path = Path(path) if path is not None else default_model_path("squeezedet")
        if not path.is_file():
            raise InputError("model file not found", path)
        meta = read_model_meta(path)
        config = from_dict(SqueezeDetConfig, meta.get("config", {}), source=path.with_suffix(".json"))
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for a damaged archive
            raise InputError(f"cannot load the model ({exc.__class__.__name__}: {exc})", path) from None
        return cls(model, config)

    @property
    def classes(self) -> list[str]:
        return list(self.config.classes)

    def raw(self, images: np.ndarray) -> np.ndarray:
        """ConvDet outputs for a batch of images already at the input size (B, H, W, 3) 0..255."""
        images = np.asarray(images, dtype=np.float32)
        keras = sys.modules.get("keras")  # a Keras model means Keras is loaded; a runner needs no TF
        if keras is None or not isinstance(self.model, keras.Model):  # an exported model's runner
            return np.asarray(self.model(images, training=False))
        if self._compiled is None:
            self._compiled = _compiled_call(self.model, self.config)
        return self._compiled(images).numpy()

    def detect(
        self, image: np.ndarray, nms_threshold: float | None = None, score_threshold: float | None = None
    ) -> list[Object2D]:
        """Detections for one (H, W, 3) uint8 RGB image of any size, boxes in its own pixels."""
        return self.detect_batch([image], nms_threshold, score_threshold)[0]

    def detect_batch(
        self,
        images: list[np.ndarray],
        nms_threshold: float | None = None,
        score_threshold: float | None = None,
    ) -> list[list[Object2D]]:
        """Detections for several images (resized to the input size, boxes scaled back)."""
        size = self.config.input_size
        out = self.raw(np.stack([resize_image(im, size) for im in images]))
        return [self.to_objects(o, im.shape, nms_threshold, score_threshold) for o, im in zip(out, images)]

    def to_objects(
        self,
        output: np.ndarray,
        image_shape: tuple,
        nms_threshold: float | None = None,
        score_threshold: float | None = None,
    ) -> list[Object2D]:
        """Post-process one ConvDet output into objects in the pixels of an image of ``image_shape``.

        ``score_threshold`` None is the model's operating point (its per-class tuned thresholds, else
        ``config.score_threshold``); a number applies to every class (0 for AP: every ranked box).
        """
        cfg = self.config
        det = postprocess(
            output[None],
            self.anchors,
            len(cfg.classes),
            cfg.input_size,
            cfg.top_n,
            cfg.nms_threshold if nms_threshold is None else nms_threshold,
            cfg.score_thresholds() if score_threshold is None else score_threshold,
        )[0]
        h, w = image_shape[:2]
        boxes = scale_boxes(det.boxes, w / cfg.input_width, h / cfg.input_height)
        return [
            Object2D(cfg.classes[c], tuple(float(v) for v in b), score=float(s))
            for b, s, c in zip(boxes, det.scores, det.classes)
        ]

    def detect_file(self, path: str | Path, **kwargs) -> list[Object2D]:
        """Detections for an image file (InputError naming the file when it cannot be decoded)."""
        return self.detect(load_image(path), **kwargs)


def draw_detections(image: np.ndarray, objects: list[Object2D]):
    """A PIL image with each detection drawn as a coloured rectangle with its class and score."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(im)
    for o in objects:
        colour = COLOURS.get(o.label, (255, 255, 0))
        draw.rectangle(o.box, outline=colour, width=2)
        text = o.label if o.score is None else f"{o.label} {o.score:.2f}"
        draw.text((o.box[0] + 2, max(o.box[1] - 11, 0)), text, fill=colour)
    return im


def _compiled_call(model, config: SqueezeDetConfig):
    """``model`` as a ``tf.function`` over batches at the input size: one graph call instead of an
    eager layer-by-layer run (about 5x less time per image on a CPU)."""
    import tensorflow as tf

    h, w = config.input_height, config.input_width
    spec = tf.TensorSpec((None, h, w, 3), tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])
