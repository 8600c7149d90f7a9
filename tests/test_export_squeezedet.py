"""SqueezeDet export: INT8 and ONNX files carry the config (classes, anchors), run through the same
detector (post-processing included) as the Keras model, and the CLI refuses bad calibration data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def det_model(tmp_path_factory):
    import keras

    from squeezeseg.detection.model import build_squeezedet, load_squeezedet_config
    from squeezeseg.detection.train import save_model

    keras.utils.set_random_seed(0)
    cfg = load_squeezedet_config("squeezedet_small", input_width=128, input_height=64, dropout=0.0)
    model = build_squeezedet(cfg)
    path = save_model(model, cfg, tmp_path_factory.mktemp("det") / "det.keras")
    images = np.random.default_rng(0).uniform(0, 255, (3, 64, 128, 3)).astype(np.float32)
    return path, model, images


@pytest.fixture(scope="module")
def det_files(det_model, tmp_path_factory):
    """INT8 (calibrated on three images in two folders, 4 frames) and ONNX exports through the CLI."""
    from PIL import Image

    from squeezeseg.detection.cli import main

    path, _, images = det_model
    tmp = tmp_path_factory.mktemp("det_export")
    calib = [tmp / "calib_a", tmp / "calib_b"]  # two sources (e.g. simulated and real images)
    for c in calib:
        c.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im.astype(np.uint8)).save(calib[i % 2] / f"{i:06d}.png")
    files = {"int8": tmp / "det.int8.tflite", "onnx": tmp / "det.onnx"}
    assert (
        main(
            [
                "export",
                str(path),
                "--format",
                "int8",
                "--calibration",
                *map(str, calib),
                "--count",
                "4",
                "--out",
                str(files["int8"]),
            ]
        )
        == 0
    )
    assert main(["export", str(path), "--format", "onnx", "--out", str(files["onnx"])]) == 0
    return files


def test_int8_and_onnx_detectors_agree_with_keras(det_model, det_files):
    from squeezeseg.runtime import load_detector

    path, model, images = det_model
    keras_det = load_detector(path)
    ref = keras_det.raw(images)
    onnx_det = load_detector(det_files["onnx"])
    assert onnx_det.classes == keras_det.classes == ["Car", "Pedestrian", "Cyclist"]
    np.testing.assert_allclose(onnx_det.raw(images), ref, atol=1e-4, rtol=1e-3)
    q = load_detector(det_files["int8"]).raw(images).ravel()
    assert float(q @ ref.ravel() / (np.linalg.norm(q) * np.linalg.norm(ref))) > 0.98
    # the whole detector (resize, decoding, NMS) runs on the exported model
    objs = onnx_det.detect(images[0].astype(np.uint8), score_threshold=0.0)
    want = keras_det.detect(images[0].astype(np.uint8), score_threshold=0.0)
    assert [o.label for o in objs] == [o.label for o in want]


def test_export_refuses_range_images_as_calibration_and_writes_nothing(det_model, tmp_path, capsys):
    from PIL import Image

    from squeezeseg.detection.cli import main

    calib = tmp_path / "scans"
    calib.mkdir()
    np.save(calib / "000000.npy", np.zeros((64, 512, 6), np.float32))
    out = tmp_path / "out" / "det.tflite"
    args = ["export", str(det_model[0]), "--format", "int8", "--calibration", str(calib), "--out", str(out)]
    rc = main(args)
    assert rc == 2
    assert "holds no images" in capsys.readouterr().err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "000000.png")
    rc = main([*args[:6], str(images), *args[6:]])  # a wrong folder and a good one
    assert rc == 2
    assert f"{calib}: calibration folder holds no images" in capsys.readouterr().err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    rc = main(["export", str(det_model[0]), "--format", "onnx", "--out", str(tmp_path / "det.tflite")])
    assert rc == 2  # an ONNX export must be named .onnx


def test_detect_cli_with_exported_model(det_model, det_files, tmp_path):
    from PIL import Image

    from squeezeseg.detection.cli import main

    path, _, images = det_model
    img = tmp_path / "img.png"
    Image.fromarray(images[1].astype(np.uint8)).save(img)
    args = ["detect", str(img), "--score", "0.01"]
    assert main([*args, "--model", str(path), "--out", str(tmp_path / "k")]) == 0
    assert (
        main([*args, "--model", str(det_files["onnx"]), "--engine", "onnx", "--out", str(tmp_path / "o")])
        == 0
    )
    assert (tmp_path / "o" / "img.txt").read_text() == (tmp_path / "k" / "img.txt").read_text()
