"""Simulated HDL-64E scans against the real KITTI object frames: the issue's figures within 1.5x."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.sequence import SequenceSimulator
from simulation.stats import ground_fraction, normalised_count, points_on_boxes
from simulation.writers import camera_boxes
from squeezeseg.boxes import Box3D
from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points


def test_ground_fraction_and_box_counts_on_a_synthetic_cloud():
    rng = np.random.default_rng(0)
    ground = np.c_[rng.uniform(-20, 20, (3000, 2)), np.full(3000, -1.73), np.zeros(3000)]
    box_pts = np.c_[
        rng.uniform(9, 11, (500, 1)), rng.uniform(-0.5, 0.5, (500, 1)), rng.uniform(-1.5, 0, (500, 2))
    ]
    pts = np.vstack([ground, box_pts]).astype(np.float32)
    assert ground_fraction(pts) == pytest.approx(3000 / 3500, abs=0.02)
    pairs = points_on_boxes(pts, [Box3D((10, 0, -0.75), (2.2, 1.2, 1.6), 0.0, "Car")])
    assert pairs[0][1] >= 500 and pairs[0][0] == pytest.approx(10.0)
    assert normalised_count([(20.0, 100)], 10) == pytest.approx(400.0)


def test_sim_statistics_within_1_5x_of_real_kitti(kitti_object):
    real_n, real_g, real_cars = [], [], []
    for velo in sorted((kitti_object / "velodyne").glob("*.bin")):
        pts = read_points(velo)
        calib = read_kitti_calib(kitti_object / "calib" / f"{velo.stem}.txt")
        real_n.append(len(pts))
        real_g.append(ground_fraction(pts))
        real_cars += points_on_boxes(
            pts, read_kitti_labels(kitti_object / "label_2" / f"{velo.stem}.txt", calib)
        )
    sim_n, sim_g, sim_cars = [], [], []
    for seed in range(8):  # 8 frames: one near unoccluded car moves the 4-frame figure by 1.5x
        f = SequenceSimulator("hdl64e", frames=1, seed=seed).frame(0)
        sim_n.append(len(f.points))
        sim_g.append(ground_fraction(f.points))
        sim_cars += points_on_boxes(f.points, camera_boxes(f.boxes, f.calib))
    pairs = [
        (np.mean(real_n), np.mean(sim_n)),
        (np.mean(real_g), np.mean(sim_g)),
        (normalised_count(real_cars, 10), normalised_count(sim_cars, 10)),
        (normalised_count(real_cars, 40), normalised_count(sim_cars, 40)),
    ]
    for real, sim in pairs:
        assert 1 / 1.5 <= sim / real <= 1.5, pairs


def test_js_divergence_and_local_shape_on_known_shapes():
    from simulation.stats import js_divergence, local_shape

    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    plane = np.c_[rng.uniform(0, 10, (2000, 2)), np.zeros(2000), np.zeros(2000)]
    line = np.c_[rng.uniform(0, 10, 2000), np.zeros((2000, 3))]
    flat = local_shape(plane, 200, rng)
    assert np.median(flat[:, 1]) > 0.3 and flat[:, 2].max() < 1e-6  # planar, no scattering
    assert np.median(local_shape(line, 200, rng)[:, 0]) > 0.95  # linearity
    blob = np.c_[rng.normal(size=(2000, 3)), np.zeros(2000)]
    assert np.median(local_shape(blob, 200, rng)[:, 2]) > 0.1  # scattering


@pytest.mark.slow
def test_realism_divergences_stay_near_their_targets(shared_data):
    """The realism report's Jensen-Shannon rows (scripts/sim_vs_real.py) on a sample: every 4th of the
    real HDL-64E scans it reads, against 4 simulated scenes x 3 frames; each within 0.05 (the full
    report, 88 scans against 36, meets 0.03; a sample this small adds noise). Before the second
    round of issue #18 height, intensity, linearity and planarity were 0.036-0.077 on the full report."""
    from simulation.stats import REAL_SCAN_FOLDERS, ScanHistograms
    from squeezeseg.datasets import open_dataset

    frames = [(name, i) for name in REAL_SCAN_FOLDERS for i in range(len(open_dataset(shared_data / name)))]
    real = ScanHistograms(seed=1)
    for name, i in frames[::4]:
        real.add(open_dataset(shared_data / name)[i].points)
    sim = ScanHistograms(seed=2)
    for s in range(4):
        simulator = SequenceSimulator("hdl64e", frames=100, seed=0, sequence=s)
        for k in (0, 50, 99):
            sim.add(simulator.frame(k).points)
    js = real.divergences(sim)
    assert all(js[name] <= 0.05 for name in js), js
