"""Keyframe interpolation of a track (as in SUSTechPOINTS): label an object in frames 1 and 10, get
frames 2-9.

Between two keyframes the centre moves linearly in time, the heading turns the short way round and
the size goes linearly from one keyframe's to the other's (equal sizes stay equal). Keyframes are
boxes in their own frame's coordinates: with the sensor moving they are first brought into one
frame by the ego-motion (:class:`latte.core.ego_motion.EgoMotion`), interpolated there and moved
into each in-between frame, so a parked car stays parked while the sensor drives past. Optionally
each interpolated box is then fitted to its frame's points (``snap``, e.g.
:func:`latte.core.tracking.propagate_box`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from latte.core.ego_motion import transform_box
from squeezeseg.boxes import Box3D, wrap_angle


def blend(a: Box3D, b: Box3D, s: float) -> Box3D:
    """The box a fraction ``s`` (0: ``a``, 1: ``b``) of the way from ``a`` to ``b`` (same
    coordinates): linear centre and size, heading along the shorter arc; class and track of ``a``."""
    center = (1 - s) * np.asarray(a.center) + s * np.asarray(b.center)
    size = (1 - s) * np.asarray(a.size) + s * np.asarray(b.size)
    yaw = float(wrap_angle(a.yaw + s * float(wrap_angle(b.yaw - a.yaw))))
    return a.replace(center=tuple(center), size=tuple(size), yaw=yaw, point_indices=None, score=None)


def interpolate_track(
    keyframes: dict[int, Box3D],
    time_of: Callable[[int], float],
    ego=None,
    snap: Callable[[int, Box3D], Box3D] | None = None,
) -> dict[int, Box3D]:
    """Boxes for the frames strictly between consecutive keyframes {frame: box} that are not
    keyframes themselves. ``time_of(frame)`` gives seconds (uneven frame spacing is respected);
    ``ego`` (or None: the sensor stands still) moves boxes between frames; ``snap(frame, box)``
    adjusts each interpolated box to its frame's points."""
    frames = sorted(keyframes)
    out: dict[int, Box3D] = {}
    for f0, f1 in zip(frames, frames[1:]):
        a = keyframes[f0]
        b = keyframes[f1] if ego is None else transform_box(keyframes[f1], ego.transform(f1, f0))
        t0, t1 = time_of(f0), time_of(f1)
        for k in range(f0 + 1, f1):
            s = (time_of(k) - t0) / (t1 - t0) if t1 != t0 else (k - f0) / (f1 - f0)
            box = blend(a, b, float(np.clip(s, 0.0, 1.0)))
            if ego is not None:
                box = transform_box(box, ego.transform(f0, k))
            out[k] = box if snap is None else snap(k, box)
    return out
