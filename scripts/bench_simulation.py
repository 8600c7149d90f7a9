#!/usr/bin/env python
"""Speed of the simulator: one 64-beam 360-degree LiDAR scan (64 x 2048 = 131,072 rays) ray-cast and
labelled, and one 1242 x 375 camera image, as medians over repeated runs.

    .venv/bin/python scripts/bench_simulation.py [--repeats 20] [--seed 0] [--no-camera]
                                                 [--generate 3] [--parts]

Timed parts: "scan" = ray casting + labels + noise + intensity of one scan (scene already compiled);
"compile" = building the frame's Open3D RaycastingScene (static mesh + posed agents), done once per
frame and shared by LiDAR and camera; "frame" = a whole SequenceSimulator.frame() (compile, scan,
boxes); "image" = camera ray casting + shading + shadow rays.

``--generate N``: ``lidarsim generate`` (``simulation.generate_dataset``, KITTI raw layout, camera off,
one worker, in this process) of 10 and of 30 frames into fresh temporary folders, N times each,
interleaved; the marginal cost of a labelled scan is (median of the 30-frame runs - median of the
10-frame runs) / 20: scene generation and start-up cancel out, simulating and writing a frame stays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from simulation.camera import CameraSimulator
from simulation.raycast import FrameGeometry
from simulation.sequence import SequenceSimulator


def median_ms(fn, repeats: int) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median CPU ms of this process, all threads)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def _on_fresh_frames(camera: CameraSimulator, sim: SequenceSimulator, pos, yaw: float, repeats: int):
    """A render call for :func:`median_ms` that uses a new, already compiled geometry of frame 0 each
    time (warm-up included), so per-frame work cached on the geometry is timed, compiling is not."""
    frames = iter([FrameGeometry(sim.scene, 0.0) for _ in range(repeats + 1)])
    return lambda: camera.render(next(frames), pos, yaw)


def generate_marginal_ms(repeats: int, seed: int) -> tuple[float, float, list[float], list[float]]:
    """(marginal wall ms per labelled frame, marginal CPU ms of this process (all threads), wall
    seconds of the 10-frame runs, of the 30-frame runs)."""
    from simulation.dataset import generate_dataset

    runs: dict[int, list[float]] = {10: [], 30: []}
    cpu: dict[int, list[float]] = {10: [], 30: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for n in (10, 30):
                out = Path(tmp) / f"run{r}_{n}"
                t0, c0 = time.perf_counter(), time.process_time()
                generate_dataset(out, frames=n, seed=seed, layout="kitti-raw", camera=False, progress=False)
                runs[n].append(time.perf_counter() - t0)
                cpu[n].append(time.process_time() - c0)
    marginal = (statistics.median(runs[30]) - statistics.median(runs[10])) / 20 * 1000
    marginal_cpu = (statistics.median(cpu[30]) - statistics.median(cpu[10])) / 20 * 1000
    return marginal, marginal_cpu, runs[10], runs[30]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-camera", action="store_true", help="skip the camera rows")
    ap.add_argument("--generate", type=int, default=0, metavar="N", help="time lidarsim generate, N runs")
    ap.add_argument("--no-parts", action="store_true", help="only the --generate figure")
    args = ap.parse_args(argv)
    if args.generate:
        print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
        marginal, marginal_cpu, ten, thirty = generate_marginal_ms(args.generate, args.seed)
        print(
            f"lidarsim generate --layout kitti-raw, camera off: 10 frames {statistics.median(ten):.2f} s, "
            f"30 frames {statistics.median(thirty):.2f} s (medians of {args.generate}); "
            f"marginal {marginal:.1f} ms wall, {marginal_cpu:.1f} ms CPU per labelled scan (target 100); "
            f"load average after: {os.getloadavg()[0]:.2f}"
        )
        if args.no_parts:
            return 0
    sim = SequenceSimulator("hdl64e", frames=10, seed=args.seed)
    pos, yaw = sim.sensor_pose(0.0)
    geometry = FrameGeometry(sim.scene, 0.0)
    camera = CameraSimulator(sim.calib)
    camera_exact = CameraSimulator(sim.calib, shadow_step=1)
    rng = np.random.default_rng(0)
    n_tri = len(geometry.tri_class) - 1
    print(
        f"scene: {n_tri} triangles, {len(sim.scene.agents)} agents; rays per scan: {sim.lidar.n_rays}; "
        f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}"
    )
    results = [
        (
            "LiDAR scan (131,072 rays, labelled)",
            median_ms(lambda: sim.lidar.scan(geometry, pos, yaw, rng), args.repeats),
            100,
        ),
        ("compile frame geometry", median_ms(lambda: FrameGeometry(sim.scene, 0.3), args.repeats), None),
        ("whole LiDAR frame (compile + scan + boxes)", median_ms(lambda: sim.frame(3), args.repeats), None),
    ]
    if not args.no_camera:
        results += [
            (
                "camera image 1242x375",
                median_ms(_on_fresh_frames(camera, sim, pos, yaw, args.repeats), args.repeats),
                200,
            ),
            (
                "camera image, shadow ray per pixel",
                median_ms(_on_fresh_frames(camera_exact, sim, pos, yaw, args.repeats), args.repeats),
                None,
            ),
        ]
    print(f"{'part':44s} {'median ms':>10s} {'min ms':>8s} {'CPU ms':>8s} {'target':>7s}")
    for name, (med, best, cpu), target in results:
        tgt = f"{target}" if target else "-"
        print(f"{name:44s} {med:10.1f} {best:8.1f} {cpu:8.1f} {tgt:>7s}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes share the CPU: wall times inflate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
