"""Where the toolkit finds its YAML configs and shipped weights."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def config_dir() -> Path:
    """The `configs/` folder: $SQUEEZESEG_CONFIG_DIR if set, else the one beside the packages."""
    env = os.environ.get("SQUEEZESEG_CONFIG_DIR")
    return Path(env) if env else REPO_ROOT / "configs"


def config_path(kind: str, name: str) -> Path:
    """Path of `configs/<kind>/<name>.yaml` (``name`` may also be a path to a YAML file)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    return config_dir() / kind / f"{name}.yaml"


def weights_dir() -> Path:
    """Folder of the shipped default weights inside the package."""
    return PACKAGE_DIR / "weights"


#: File names of the shipped default models in :func:`weights_dir`.
SHIPPED_MODELS = {"squeezeseg": "default.keras", "squeezedet": "squeezedet_small.keras"}


def default_model_path(kind: str = "squeezeseg") -> Path:
    """The shipped default model of ``kind`` ("squeezeseg": the segmenter, "squeezedet": the detector)."""
    return weights_dir() / SHIPPED_MODELS[kind]


def shared_data_dir() -> Path:
    """The real sample data (`../shared/data` beside the repository, or $SQUEEZESEG_SHARED_DATA).

    Tests and benchmarks read real sensor data from here; it is never copied into the repository.
    """
    env = os.environ.get("SQUEEZESEG_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"
