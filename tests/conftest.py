"""Shared pytest fixtures: the real sample data folder (skips cleanly when absent) and headless Qt."""

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
