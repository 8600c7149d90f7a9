"""The vehicle shape check on predicted car segments: what it relabels in a synthetic range image, and
that the shipped segmenter's car output on a real scan passes it."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.plausibility import VehicleShape, car_segments, segment_excess, suppress_implausible_cars
from squeezeseg.projection import SphericalProjection

GROUND = -1.73
CAR, BG = 1, 0


def surface_points(lo, hi, step=0.04):
    """Points filling the axis-aligned box [lo, hi] on a grid (a solid the projection samples)."""
    axes = [np.arange(a, b + 1e-6, step) if b - a > step else np.array([a]) for a, b in zip(lo, hi)]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return g


def scene():
    """(points (N, 4), labels (N,)): ground, and four things a network called car: a car, a tree
    crown floating 2.5 m up, a 0.4 m fragment of a bush, and a 40 m long wall."""
    parts = [
        (surface_points((-25, -25, GROUND), (25, 25, GROUND), step=0.15), BG),
        (surface_points((9, 2, GROUND), (13.2, 3.8, GROUND + 1.5)), CAR),  # car
        (surface_points((6, -6, GROUND + 2.5), (8, -4, GROUND + 4.0)), CAR),  # canopy
        (surface_points((-8, 5, GROUND), (-7.6, 5.3, GROUND + 0.5)), CAR),  # bush fragment
        (surface_points((-12, -20, GROUND), (-11.8, 20, GROUND + 4.0)), CAR),  # wall
    ]
    pts = np.concatenate([p for p, _ in parts])
    lab = np.concatenate([np.full(len(p), c) for p, c in parts])
    return np.c_[pts, np.zeros(len(pts))].astype(np.float32), lab


def range_image_and_labels():
    pts, lab = scene()
    ri = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360).project(pts)
    labels = np.where(ri.index >= 0, lab[np.maximum(ri.index, 0)], BG).astype(np.int32)
    return ri, labels


def test_only_the_car_keeps_its_label():
    ri, labels = range_image_and_labels()
    out = suppress_implausible_cars(ri.image, labels, CAR, full_circle=True)
    xyz = ri.image[..., :3]
    kept = out == CAR
    assert kept.sum() > 50
    assert (xyz[kept][:, 0] > 8.9).all() and (xyz[kept][:, 1] > 1.9).all()  # all in the car's box
    car_in = (labels == CAR) & (xyz[..., 0] > 8.9) & (xyz[..., 1] > 1.9)
    assert kept.sum() >= 0.95 * car_in.sum()  # the car kept (but a few edge pixels split off)
    assert (out[labels != CAR] == labels[labels != CAR]).all()  # nothing else changed
    assert (out[(labels == CAR) & ~car_in] == BG).all()


def test_segments_are_judged_one_by_one_and_the_margin_counts():
    ri, labels = range_image_and_labels()
    segs = car_segments(ri.image, labels, CAR, full_circle=True)
    assert len(segs) >= 4
    assert sum(len(s) for s in segs) == (labels == CAR).sum()
    lenient = VehicleShape(reject_margin=100.0)
    assert (suppress_implausible_cars(ri.image, labels, CAR, True, lenient) == labels).all()


def test_no_car_leaves_labels_alone():
    ri, labels = range_image_and_labels()
    none = np.zeros_like(labels)
    assert suppress_implausible_cars(ri.image, none, CAR) is none


def test_shipped_model_cars_on_a_real_scan_pass_the_check(shared_data):
    from squeezeseg.datasets import open_dataset
    from squeezeseg.runtime import load_model

    if not (shared_data / "semantickitti").is_dir():
        pytest.skip(f"no SemanticKITTI sample at {shared_data / 'semantickitti'}")
    seg = load_model(None)
    car = seg.classes.index("car")
    ds = open_dataset(shared_data / "semantickitti")
    points = ds[0].points[:, :4]
    seg.shape_check = False
    raw = seg.predict_scan(points)
    seg.shape_check = True
    checked = seg.predict_scan(points)
    assert (checked.classes == car).sum() < (raw.classes == car).sum()
    changed = checked.classes != raw.classes
    assert (raw.classes[changed] == car).all() and (checked.classes[changed] == 0).all()
    image = checked.image
    from squeezeseg.plausibility import ground_height

    ground = ground_height(image[image[..., 4] > 0][:, :3])
    for s in car_segments(image, checked.image_labels, car, full_circle=True):
        assert segment_excess(image[..., :3].reshape(-1, 3)[s], ground) <= VehicleShape().reject_margin


def test_a_fragment_beside_a_plausible_car_is_attached_to_it():
    from squeezeseg.plausibility import _attached

    rng = np.random.default_rng(0)
    car = rng.uniform([10, 2, -1.7], [14, 3.8, -0.2], (4000, 3))
    mirror = rng.uniform([11, 1.6, -0.9], [11.2, 1.85, -0.7], (12, 3))  # 0.15-0.4 m off the side
    bush = rng.uniform([11, -3, -1.7], [11.3, -2.7, -1.2], (12, 3))  # 4.7 m away
    xyz = np.concatenate([car, mirror, bush]).astype(np.float32)
    segs = [np.arange(4000), np.arange(4000, 4012), np.arange(4012, 4024)]
    assert _attached(xyz, segs, [False, True, True], 0.5) == [False, True, False]
    assert _attached(xyz, segs, [False, True, True], 0.0) == [False, False, False]
    assert _attached(xyz, segs, [True, True, True], 0.5) == [False, False, False]  # no plausible car
