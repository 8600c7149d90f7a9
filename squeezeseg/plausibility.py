"""What a vehicle can look like to a LiDAR: a shape check on predicted car segments.

A network trained on simulated scans calls fragments of real hedges, tree crowns and walls "car"
(on SemanticKITTI most of its false cars are vegetation). Such fragments are usually shaped like no
vehicle: shorter than a metre, lower than any car body, floating above the road, wider or taller than
a van. :func:`suppress_implausible_cars` splits the car pixels of a range image into segments (depth
clustering, :func:`squeezeseg.instances.range_image_instances`) and relabels as background every
segment whose shape lies clearly outside the limits of :class:`VehicleShape`, which come from the
KITTI Van's typical size (the largest type labelled car) with margins. With ``attach_distance`` > 0
a fragment lying mostly that close to a plausible car segment stays car (off by default: it adds
false cars on real scans, docs/domain-adaptation.md). The same limits decide the self-training
pseudo-labels (:mod:`domain_adapt.self_training`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squeezeseg.classes import KITTI_TYPE

_VAN = KITTI_TYPE["Van"].size  # (length, width, height) in metres


@dataclass(frozen=True)
class VehicleShape:
    """Limits of what one vehicle (or a row of parked ones) shows, in metres."""

    max_width: float = _VAN[1] + 0.8  # oriented footprint's short side; wider: not one vehicle
    max_length: float = 3 * _VAN[0]  # long side: a row of parked cars may merge into one segment
    min_length: float = 1.0  # long side: a pole or a sign is narrower than any view of a car
    max_height: float = _VAN[2] + 0.6  # top above the ground
    min_height: float = 0.9  # top above the ground: road, curbs, parking lots are lower
    max_float: float = 0.8  # lowest point above the ground; higher: a canopy, not a car
    reject_margin: float = 0.4  # implausible by more than this -> not a car
    attach_distance: float = 0.0  # > 0: a fragment mostly this near a plausible car is kept


def ground_height(xyz: np.ndarray, radius: float = 20.0) -> float:
    """Ground z near the sensor: a low percentile of the heights within ``radius`` metres."""
    near = xyz[np.hypot(xyz[:, 0], xyz[:, 1]) < radius]
    return float(np.percentile(near[:, 2], 5)) if len(near) > 50 else float(np.percentile(xyz[:, 2], 5))


def segment_excess(xyz: np.ndarray, ground: float, shape: VehicleShape = VehicleShape()) -> float:
    """How far (m) a segment's shape lies outside what one vehicle (or a row of them) can show; <= 0:
    plausible. Extents are robust (2nd-98th percentiles) along the footprint's principal axes."""
    xy = xyz[:, :2] - xyz[:, :2].mean(0)
    short = long_ = 0.0
    if len(xy) >= 3:
        _, vecs = np.linalg.eigh(np.cov(xy.T))
        lo, hi = np.percentile(xy @ vecs, [2, 98], axis=0)
        short, long_ = sorted(hi - lo)
    top, bottom = np.percentile(xyz[:, 2], [98, 2]) - ground
    return float(max(short - shape.max_width, long_ - shape.max_length, shape.min_length - long_,
                     top - shape.max_height, shape.min_height - top, bottom - shape.max_float))


def car_segments(image: np.ndarray, labels: np.ndarray, car: int, full_circle: bool = False
                 ) -> list[np.ndarray]:
    """Flat pixel indices of each car segment of an (H, W, >=5) range image (every segment, however
    small: a fragment is judged like a whole car)."""
    from squeezeseg.instances import range_image_instances

    inst = range_image_instances(image, np.where(labels == car, car, 0), full_circle=full_circle,
                                 min_pixels=1).ravel()
    idx = np.flatnonzero(inst)
    if not len(idx):
        return []
    idx = idx[np.argsort(inst[idx], kind="stable")]
    bounds = np.flatnonzero(np.diff(inst[idx])) + 1
    return np.split(idx, bounds)


def suppress_implausible_cars(image: np.ndarray, labels: np.ndarray, car: int, full_circle: bool = False,
                              shape: VehicleShape = VehicleShape(), background: int = 0) -> np.ndarray:
    """(H, W) labels with every car segment implausible by more than ``shape.reject_margin`` relabelled
    ``background``; ``image`` is (H, W, >=5) x, y, z, intensity, range (range 0: empty)."""
    img = np.asarray(image)
    if not (labels == car).any():
        return labels
    valid = img[..., 4] > 0
    xyz = img[..., :3].reshape(-1, 3)
    ground = ground_height(xyz[valid.ravel()])
    out = labels.copy()
    flat = out.reshape(-1)
    segs = car_segments(img, labels, car, full_circle)
    bad = [small or segment_excess(xyz[seg], ground, shape) > shape.reject_margin
           for seg, small in zip(segs, _surely_too_small(xyz, segs, ground, shape))]
    attached = _attached(xyz, segs, bad, shape.attach_distance)
    for seg, b, a in zip(segs, bad, attached):
        if b and not a:
            flat[seg] = background
    return out


def _attached(xyz: np.ndarray, segs: list[np.ndarray], bad: list[bool], distance: float) -> list[bool]:
    """Per segment: at least half its points lie within ``distance`` of a plausible segment's points
    (a mirror, a wheel or a roof edge the depth clustering split off a car)."""
    good = [seg for seg, b in zip(segs, bad) if not b]
    if not good or not any(bad) or distance <= 0:
        return [False] * len(segs)
    from scipy.spatial import cKDTree

    tree = cKDTree(xyz[np.concatenate(good)])
    suspects = [seg for seg, b in zip(segs, bad) if b]
    near = np.isfinite(tree.query(xyz[np.concatenate(suspects)], distance_upper_bound=distance)[0])
    starts = np.r_[0, np.cumsum([len(seg) for seg in suspects])[:-1]]
    share = np.add.reduceat(near.astype(np.float64), starts) / [len(seg) for seg in suspects]
    it = iter(share >= 0.5)
    return [bool(next(it)) if b else False for b in bad]


def _surely_too_small(xyz: np.ndarray, segs: list[np.ndarray], ground: float, shape: VehicleShape
                      ) -> np.ndarray:
    """(S,) bool: segments whose bounding box alone proves them too short or too low for a vehicle
    (most segments of a real scan are such fragments; this skips their percentiles, same result)."""
    if not segs:
        return np.zeros(0, bool)
    starts = np.r_[0, np.cumsum([len(s) for s in segs])[:-1]]
    pts = xyz[np.concatenate(segs)]
    lo, hi = np.minimum.reduceat(pts, starts), np.maximum.reduceat(pts, starts)
    diag = np.hypot(*(hi - lo)[:, :2].T)  # >= the long side of any footprint rectangle
    return (shape.min_length - diag > shape.reject_margin) | \
        (shape.min_height - (hi[:, 2] - ground) > shape.reject_margin)
