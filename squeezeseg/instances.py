"""Instances from class predictions: DBSCAN on each class's points (SqueezeSeg: eps 0.3 m, 20 points)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.cluster import DBSCAN

from squeezeseg.errors import InputError

EPS = 0.3
MIN_POINTS = 20


def dbscan_instances(
    points: np.ndarray,
    classes: np.ndarray,
    eps: float = EPS,
    min_points: int = MIN_POINTS,
    background: Iterable[int] = (0,),
) -> np.ndarray:
    """(N,) int32 instance ids (1, 2, ... unique over all classes; 0 = noise or background).

    Each non-background class is clustered on its own in x, y, z, so a car touching a cyclist
    stays two instances.
    """
    pts = np.asarray(points)
    cls = np.asarray(classes).ravel()
    if pts.ndim != 2 or pts.shape[1] < 3 or len(pts) != len(cls):
        raise InputError(f"need points (N, >=3) and classes (N,), got {pts.shape} and {cls.shape}")
    out = np.zeros(len(cls), dtype=np.int32)
    next_id = 1
    skip = set(int(b) for b in background)
    for c in np.unique(cls):
        if int(c) in skip:
            continue
        idx = np.flatnonzero(cls == c)
        if len(idx) < min_points:
            continue
        lab = DBSCAN(eps=eps, min_samples=min_points).fit_predict(pts[idx, :3])
        found = lab >= 0
        out[idx[found]] = lab[found] + next_id
        next_id += int(lab.max()) + 1 if found.any() else 0
    return out
