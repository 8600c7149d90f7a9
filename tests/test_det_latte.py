"""SqueezeDet behind LATTE's Detector interface, as used by fusion and `latte prelabel`."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.detector import Detection2D, Detector
from squeezeseg.detection.model import SqueezeDetConfig, build_squeezedet
from squeezeseg.detection.train import save_model
from squeezeseg.errors import InputError


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    cfg = SqueezeDetConfig(
        input_width=160, input_height=64, conv1=[8, 3], fires=[[4, 8, 8]] * 10, anchors_at=[160, 64],
        score_threshold=0.0,
    )
    return save_model(build_squeezedet(cfg), cfg, tmp_path_factory.mktemp("m") / "tiny.keras")


def test_detections_are_detection2d_in_image_pixels(model_path):
    from latte.core.squeezedet_detector import SqueezeDetDetector, squeezedet_detector

    det = squeezedet_detector(model_path)
    assert isinstance(det, Detector)
    image = np.random.default_rng(0).integers(0, 255, (375, 1242, 3), dtype=np.uint8)
    out = det.detect(image, "000000")
    assert out and all(isinstance(d, Detection2D) for d in out)
    assert all(0 <= d.box[0] <= d.box[2] <= 1241 and 0 <= d.box[1] <= d.box[3] <= 374 for d in out)
    assert len(out) <= 64  # top-64 before NMS
    gray = det.detect(image[..., 0])
    assert len(gray) > 0
    only_cars = SqueezeDetDetector(model_path, classes=["Car"]).detect(image)
    assert {d.label for d in only_cars} <= {"Car"}
    assert det.detect(None, "000001") == []


def test_missing_model_is_an_input_error(tmp_path):
    from latte.core.squeezedet_detector import squeezedet_detector

    with pytest.raises(InputError, match="nothing.keras"):
        squeezedet_detector(tmp_path / "nothing.keras")
