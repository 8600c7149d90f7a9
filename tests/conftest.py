"""Shared pytest fixtures: the real sample data folder (skips cleanly when absent), headless Qt, and a
tiny saved SqueezeSegV2 for the export tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from squeezeseg.resources import shared_data_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; the test is skipped when the folder is missing."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real sample data not found at {d} (expected ../shared/data beside the repository)")
    return d


@pytest.fixture(scope="session")
def kitti_object(shared_data: Path) -> Path:
    """The KITTI object sample folder (training/ with velodyne, calib, label_2, image_2)."""
    d = shared_data / "kitti_object" / "training"
    if not d.is_dir():
        pytest.skip(f"{d} not found")
    return d


@pytest.fixture(scope="session")
def save_tiny_segmenter(tmp_path_factory):
    """``make(seed)`` builds a tiny SqueezeSegV2 (64x64, width 1/8, one CRF iteration), saves it as
    ``.keras`` and returns ``(path, model, config)``."""

    def make(seed: int):
        import keras

        from squeezeseg.models import build_model
        from squeezeseg.models.config import CRFConfig, ModelConfig

        keras.utils.set_random_seed(seed)
        cfg = ModelConfig(name="tiny", height=64, width=64, fov_deg=22.5, width_multiplier=0.125,
                          crf=CRFConfig(iterations=1))
        model = build_model(cfg)
        path = tmp_path_factory.mktemp(f"tiny{seed}") / "tiny.keras"
        model.save(path)
        return path, model, cfg

    return make


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An untrained HDL-64E SqueezeSegV2, 64 x 64 over the front 90 degrees (fast, real projection)."""
    from squeezeseg.models import build_model, load_model_config

    cfg = load_model_config("squeezesegv2")
    cfg.width, cfg.width_multiplier = 64, 0.25
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_model(cfg).save(path)
    return path


@pytest.fixture(scope="module")
def segmenter(model_path):
    """The segmenter of :func:`model_path`."""
    from squeezeseg.runtime import load_model

    return load_model(model_path)


TEST_DEMO_SEED = 14


@pytest.fixture(scope="module")
def demo_seq(tmp_path_factory) -> Path:
    """A 2-frame simulated drive with camera (the generator of `latte --demo`), once per test module.
    Seed 14: a busy street (three cars within 30 m, well seen, in both frames); since the
    traffic follows the KITTI tracking labels a 2-frame drive of the demo's own seed holds 1-2 objects."""
    from latte.app.demo import demo_sequence

    return demo_sequence(frames=2, seed=TEST_DEMO_SEED, cache=tmp_path_factory.mktemp("latte-cache"),
                         progress=False)


def open_demo_window(qtbot, seq: Path, session: Path, size: tuple[int, int] = (1200, 800)):
    """A shown, active main window with ``seq`` open (session in ``session``)."""
    from PyQt5 import QtWidgets

    from latte.app.controller import AppController
    from latte.app.window import MainWindow

    win = MainWindow(AppController())
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    QtWidgets.QApplication.setActiveWindow(win)
    assert win.ctrl.open(seq, session)
    return win


def ring_scan(n: int = 3000, seed: int = 0):
    """Points on a ring around the sensor at HDL-64E-like elevations, with intensity."""
    import numpy as np

    rng = np.random.default_rng(seed)
    az = rng.uniform(-np.pi, np.pi, n)
    el = np.deg2rad(rng.uniform(-24, 2, n))
    r = rng.uniform(5, 30, n)
    pts = np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el),
                    rng.random(n)], 1)
    return pts.astype(np.float32)


@pytest.fixture(autouse=True)
def _collect_qt_garbage_at_a_safe_point():
    """After each test that used Qt, collect garbage while no Qt event is being dispatched. The app
    gives every Qt object of a window to the window (latte.app.lifetime), so Python's collector,
    which runs in whatever thread allocates (the tracker's import warm-up thread too), never destroys
    one; this guards the Qt objects tests make themselves: one destroyed in another thread or inside
    an event pytest-qt delivers to it aborts the process ("pure virtual method called")."""
    yield
    import gc
    import sys

    if "PyQt5.QtWidgets" in sys.modules:
        gc.collect()


@pytest.fixture
def messages(monkeypatch) -> list[tuple[str, str, str]]:
    """Every dialog the LATTE app would show, recorded as (level, title, text) instead of shown."""
    from latte.app import dialogs

    got: list[tuple[str, str, str]] = []
    monkeypatch.setattr(dialogs, "message_hook", lambda level, title, text: got.append((level, title, text)))
    return got
