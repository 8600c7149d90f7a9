"""SqueezeDet as a LATTE image detector: camera image in, 2D detections out (for frustum fusion).

TensorFlow is imported only when the model is loaded, so `latte.core` stays light for everything else.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from latte.core.detector import Detection2D, Detector

log = logging.getLogger(__name__)


class SqueezeDetDetector(Detector):
    """:class:`Detector` backed by a trained SqueezeDet (the shipped default when ``model_path`` is None).

    ``score_threshold`` drops weak boxes before fusion (default: the model's operating point, its
    per-class thresholds tuned on simulated images by `squeezedet tune`); ``classes`` optionally keeps
    only some class names.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
        classes: list[str] | None = None,
    ):
        from squeezeseg.runtime import load_detector

        self.detector = load_detector(model_path)  # .keras, .tflite or .onnx (engine from the suffix)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.classes = None if classes is None else set(classes)

    def detect(self, image: np.ndarray | None, frame_id: str | None = None) -> list[Detection2D]:
        """2D detections of a (H, W, 3) uint8 image; no image (a frame without camera) gives none."""
        if image is None:
            log.warning("frame %s has no camera image: no SqueezeDet detections", frame_id)
            return []
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] < 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        objects = self.detector.detect(image[..., :3], self.nms_threshold, self.score_threshold)
        return [
            Detection2D(o.box, o.label, float(o.score))
            for o in objects
            if self.classes is None or o.label in self.classes
        ]


def squeezedet_detector(model_path: str | Path | None = None) -> SqueezeDetDetector:
    """The LATTE detector `latte prelabel --detector squeezedet` and the app's model worker use."""
    return SqueezeDetDetector(model_path)
