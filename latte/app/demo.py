"""`latte --demo`: a simulated drive with camera, generated once into a cache folder and reused.

The simulator (``simulation.generate_dataset``) resumes finished frames and refuses a folder that
holds a different dataset, so each parameter set gets its own cache sub-folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from squeezeseg.errors import InputError

DEMO_FRAMES = 10
DEMO_SEED = 7
DEMO_SENSOR = "hdl64e"


def cache_dir() -> Path:
    """$LATTE_CACHE, else $XDG_CACHE_HOME/latte, else ~/.cache/latte."""
    env = os.environ.get("LATTE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "latte"


def demo_root(frames: int = DEMO_FRAMES, seed: int = DEMO_SEED, cache: Path | None = None) -> Path:
    """Folder of the simulated dataset for these parameters."""
    return (cache or cache_dir()) / f"demo-{DEMO_SENSOR}-f{frames}-s{seed}"


def demo_sequence(frames: int = DEMO_FRAMES, seed: int = DEMO_SEED, cache: Path | None = None,
                  progress: bool = True) -> Path:
    """Generate (or reuse) the demo drive and return its KITTI-raw sequence folder."""
    try:
        from simulation import generate_dataset
    except ImportError as exc:  # the simulator is part of this distribution; say so if it is broken
        raise InputError(f"the simulator cannot be imported ({exc}); open a real sequence instead") from None
    root = demo_root(frames, seed, cache)
    generate_dataset(root, sensor=DEMO_SENSOR, frames=frames, seed=seed, layout="kitti-raw",
                     camera=True, progress=progress)
    drives = sorted(p for p in root.iterdir() if p.is_dir() and (p / "velodyne_points" / "data").is_dir())
    if not drives:
        raise InputError("the simulator wrote no KITTI-raw drive", root)
    return drives[0]


def demo_ground_truth(sequence_dir: Path) -> Path | None:
    """The simulator's tracking labels of the demo drive (used by tests and the screenshot script)."""
    labels = sorted((sequence_dir.parent / "label_02").glob("*.txt"))
    return labels[0] if labels else None
