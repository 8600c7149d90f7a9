"""The cached float32 LiteRT copy of a .keras model (squeezeseg.export.cache): made once after a Keras
run of ``infer --engine auto``, kept only when it gives Keras' classes, keyed by the weights' SHA-1,
and used by later runs without importing TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ring_scan

from squeezeseg.export import cache

pytest.importorskip("ai_edge_litert")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    monkeypatch.delenv(cache.ENABLE_ENV, raising=False)
    return folder


@pytest.fixture(scope="module")
def tiny(save_tiny_segmenter):
    """A tiny SqueezeSegV2 .keras, its Keras segmenter, and network inputs of two ring scans."""
    from squeezeseg.runtime import load_model

    path = save_tiny_segmenter(3)[0]
    seg = load_model(path, engine="keras")
    windows = np.concatenate([seg.prepare(ring_scan(4000, seed=s)).windows for s in (0, 1)])
    return path, seg, windows


@pytest.fixture(scope="module")
def made(tiny, tmp_path_factory):
    """The cache folder after make_copy of the tiny model (one export for the tests that read it)."""
    folder = tmp_path_factory.mktemp("made") / "cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cache.CACHE_ENV, str(folder))
        mp.delenv(cache.ENABLE_ENV, raising=False)
        copy = cache.make_copy(tiny[0], tiny[1].predict_fn, tiny[2])
    return folder, copy


def test_a_copy_that_agrees_is_kept_and_auto_runs_it(tiny, made, cache_dir):
    from squeezeseg.runtime import load_model

    path, keras_seg, _ = tiny
    assert cache.find_copy(path) is None and load_model(path, engine="auto").engine == "keras"
    shutil.copytree(made[0], cache_dir)
    copy = cache.find_copy(path)
    assert made[1] is not None and copy == cache_dir / made[1].relative_to(made[0])
    record = json.loads(copy.with_suffix(".json").read_text())
    assert record["accepted"] and record["agreement"] >= cache.MIN_AGREEMENT and record["pixels"] > 1000
    assert record["sha1"] == cache.file_sha1(path)
    seg = load_model(path, engine="auto")
    assert seg.engine == "tflite" and seg.source == path and seg.classes == keras_seg.classes
    pts = ring_scan(5000, seed=7)
    assert np.mean(seg.predict_points(pts) == keras_seg.predict_points(pts)) >= 0.999
    assert load_model(path, engine="keras").engine == "keras"  # an explicit engine is kept


def test_a_copy_that_disagrees_is_refused_once_and_for_all(tiny, cache_dir, caplog):
    from squeezeseg.runtime import load_model

    path, keras_seg, windows = tiny

    def shifted(x):  # every class moved by one: not the network that was exported
        return np.roll(keras_seg.predict_fn(x), 1, axis=-1)

    assert cache.make_copy(path, shifted, windows) is None
    assert "not used" in caplog.text and cache.was_refused(path)
    assert cache.find_copy(path) is None and not cache.copy_path(path).exists()
    assert load_model(path, engine="auto").engine == "keras"


def test_new_weights_get_a_new_copy_and_copies_can_be_turned_off(tiny, made, cache_dir, tmp_path,
                                                                  monkeypatch):
    path = tiny[0]
    shutil.copytree(made[0], cache_dir)
    assert cache.find_copy(path) is not None
    other = tmp_path / "tiny.keras"
    other.write_bytes(path.read_bytes() + b"\0")  # same name, other bytes: another key
    assert cache.copy_path(other) != cache.copy_path(path) and cache.find_copy(other) is None
    monkeypatch.setenv(cache.ENABLE_ENV, "0")
    assert cache.find_copy(path) is None


def test_a_damaged_copy_falls_back_to_keras(tiny, made, cache_dir, caplog):
    from squeezeseg.runtime import load_model

    path = tiny[0]
    shutil.copytree(made[0], cache_dir)
    cache.find_copy(path).write_bytes(b"not a flatbuffer")
    assert load_model(path, engine="auto").engine == "keras"
    assert "cached LiteRT copy unusable" in caplog.text


def test_an_unwritable_cache_is_a_warning_not_an_error(tiny, tmp_path, monkeypatch, caplog):
    path, keras_seg, windows = tiny
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    assert cache.make_copy(path, keras_seg.predict_fn, windows) is None
    assert "no LiteRT copy" in caplog.text


@pytest.mark.slow
def test_infer_makes_the_copy_once_and_later_runs_start_without_tensorflow(tiny, cache_dir, tmp_path):
    from squeezeseg.io import read_semantickitti_labels, write_points

    path = tiny[0]
    for s in (0, 1):
        write_points(tmp_path / "scans" / f"{s:06d}.bin", ring_scan(4000, seed=s))
    code = ("import sys\nfrom squeezeseg.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print('TF', 'tensorflow' in sys.modules, rc)\n")
    env = {**os.environ, cache.CACHE_ENV: str(cache_dir)}
    env.pop(cache.ENABLE_ENV, None)
    outs = []
    for run in ("first", "second"):
        out = tmp_path / run
        args = ["infer", str(tmp_path / "scans"), "--model", str(path), "--out", str(out), "--no-png",
                "--no-progress"]
        res = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr
        outs.append(res)
    assert "TF True 0" in outs[0].stdout and "cached a LiteRT copy" in outs[0].stderr
    assert "TF False 0" in outs[1].stdout and "exporting" not in outs[1].stderr
    assert "XNNPACK" not in outs[1].stderr  # LiteRT's start-up line is silenced like TensorFlow's
    for name in ("000000.label", "000001.label"):
        a = read_semantickitti_labels(tmp_path / "first" / name)[0]
        b = read_semantickitti_labels(tmp_path / "second" / name)[0]
        assert np.mean(a == b) >= 0.999


@pytest.mark.slow
@pytest.mark.realdata
def test_the_shipped_models_copy_gives_keras_classes_on_real_scans(shared_data, cache_dir):
    from squeezeseg.io import read_points
    from squeezeseg.resources import default_model_path
    from squeezeseg.runtime import load_model

    files = sorted((shared_data / "kitti_pcd" / "data_2").glob("*.pcd"))[:6]
    if not files:
        pytest.skip(f"no KITTI scans under {shared_data / 'kitti_pcd'}")
    keras_seg = load_model(engine="keras")
    windows = np.concatenate([keras_seg.prepare(read_points(f)).windows for f in files])
    copy = cache.make_copy(default_model_path(), keras_seg.predict_fn, windows)
    assert copy is not None
    record = json.loads(copy.with_suffix(".json").read_text())
    assert record["agreement"] >= cache.MIN_AGREEMENT and record["pixels"] > 100_000
    seg = load_model(engine="auto")
    assert seg.engine == "tflite"
    pts = read_points(files[-1])
    assert np.mean(seg.predict_points(pts) == keras_seg.predict_points(pts)) >= cache.MIN_AGREEMENT
