#!/usr/bin/env python
"""Cost of a camera image, the current camera against an older commit's, interleaved in one process.

    .venv/bin/python scripts/bench_camera.py [--baseline 5f5d226] [--sequences 12] [--repeats 3]

Renders frame 0 of sequences 0..N-1 of seed 7 (each sequence in its own drawn style with the current
camera) on a freshly compiled frame geometry per call, alternating the current ``simulation/camera.py``
and the baseline commit's (read with ``git show`` and imported under another name; it must work
with today's ``simulation.raycast``). Prints per sequence the median CPU ms of this process (all
threads) of each, then their means over the sequences. Interleaving puts both under the same load,
which on a shared machine moves wall times by 2x between minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def baseline_camera(commit: str):
    """The ``simulation.camera`` module of ``commit``, imported as ``camera_<commit>``."""
    try:
        git = ["git", "show", f"{commit}:simulation/camera.py"]
        source = subprocess.run(git, cwd=REPO, check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"bench_camera: no simulation/camera.py at {commit}: {e.stderr.strip()}") from e
    path = Path(tempfile.mkdtemp()) / f"camera_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def cpu_ms(camera, sim, pos, yaw) -> float:
    """CPU ms of one render of frame 0 of ``sim`` on a freshly compiled geometry."""
    from simulation.raycast import FrameGeometry

    geometry = FrameGeometry(sim.scene, 0.0)
    c0 = time.process_time()
    camera.render(geometry, pos, yaw)
    return (time.process_time() - c0) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="5f5d226", help="commit of the camera to compare with")
    ap.add_argument("--sequences", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.sequences < 1 or args.repeats < 1:
        print("bench_camera: --sequences and --repeats must be positive", file=sys.stderr)
        return 2
    from simulation.camera import CameraSimulator
    from simulation.raycast import FrameGeometry
    from simulation.sequence import SequenceSimulator

    old = baseline_camera(args.baseline)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    means = {"baseline": [], "current": []}
    for seq in range(args.sequences):
        sim = SequenceSimulator("hdl64e", frames=4, seed=7, sequence=seq)
        pos, yaw = sim.sensor_pose(0.0)
        cams = {"baseline": old.CameraSimulator(sim.calib), "current": CameraSimulator(sim.calib)}
        times = {k: [] for k in cams}
        for cam in cams.values():  # warm-up: per-scene and per-style caches
            cpu_ms(cam, sim, pos, yaw)
        for _ in range(args.repeats):
            for k, cam in cams.items():
                times[k].append(cpu_ms(cam, sim, pos, yaw))
        style = cams["current"].style_for(FrameGeometry(sim.scene, 0.0))
        look = "overcast" if style.overcast else f"sun {style.sun_direction[2]:.2f} up"
        med = {k: statistics.median(v) for k, v in times.items()}
        b, c = med["baseline"], med["current"]
        print(f"sequence {seq:3d} ({look:12s}) CPU ms: baseline {b:7.1f}, current {c:7.1f}")
        for k in means:
            means[k].append(med[k])
    b, c = (statistics.mean(means[k]) for k in ("baseline", "current"))
    print(f"mean over sequences: baseline {b:.1f}, current {c:.1f} CPU ms ({100 * (c / b - 1):+.1f}%); "
          f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
