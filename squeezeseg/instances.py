"""Instances from class predictions.

:func:`range_image_instances` groups the pixels of a range image (depth clustering, Bogoslavskyi and
Stachniss, IROS 2016): two neighbouring pixels of the same class belong to one object when the angle
``beta`` between the beam to the farther point and the line joining both points is larger than
``angle_deg``; a steep ``beta`` means the two returns lie on one surface facing the sensor, a flat one
a jump in depth. Its memory and time depend on the image size only, never on the point density.
:func:`dbscan_instances` is SqueezeSeg's DBSCAN on each class's points (eps 0.3 m, 20 points).
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np

from squeezeseg.errors import InputError

EPS = 0.3
MIN_POINTS = 20
ANGLE_DEG = 10.0  # depth clustering's threshold on beta
MIN_PIXELS = 20  # smaller segments are noise (instance 0), like DBSCAN's 20 points
MAX_DBSCAN_POINTS = 1_000_000  # per class: DBSCAN's neighbour lists grow with density beyond this


def range_image_instances(
    image: np.ndarray,
    labels: np.ndarray,
    full_circle: bool = True,
    angle_deg: float = ANGLE_DEG,
    min_pixels: int = MIN_PIXELS,
    background: Iterable[int] = (0,),
    gap: int = 1,
) -> np.ndarray:
    """(H, W) int32 instance ids of a range image (1, 2, ... over all classes; 0: background, noise).

    ``image`` is (H, W, >=5) x, y, z, intensity, range (range 0: empty pixel) and ``labels`` (H, W)
    the class of every pixel. Pixels are joined to their right and lower neighbours (and across up to
    ``gap`` empty pixels, so a missing return does not cut an object in two) when both have the same
    non-background class and ``beta > angle_deg``; with ``full_circle`` the last column joins the
    first. Segments of fewer than ``min_pixels`` pixels are noise. Ids are numbered in row-major order
    of each segment's first pixel.
    """
    img = np.asarray(image)
    lab = np.asarray(labels)
    if img.ndim != 3 or img.shape[2] < 5 or lab.shape != img.shape[:2]:
        raise InputError(f"need a range image (H, W, >=5) and labels (H, W), got {img.shape} and {lab.shape}")
    if gap < 0 or min_pixels < 1 or not 0 < angle_deg < 90:
        raise InputError(f"need gap >= 0, min_pixels >= 1 and 0 < angle_deg < 90, got {gap}, {min_pixels}, "
                         f"{angle_deg}")
    H, W = lab.shape
    xyz = np.ascontiguousarray(img[..., :3], dtype=np.float32)
    rng = np.ascontiguousarray(img[..., 4], dtype=np.float32)
    rng = np.where(np.isfinite(rng), rng, np.float32(0))
    fg = rng > 0
    for b in background:
        fg &= lab != b
    out = np.zeros((H, W), np.int32)
    if not fg.any():
        return out
    cos_t = np.float32(np.cos(np.deg2rad(angle_deg)))
    parent = np.empty(H * W, np.int64)
    _depth_segments(xyz, rng, np.ascontiguousarray(lab, dtype=np.int64), fg, cos_t, int(gap),
                    bool(full_circle), parent)
    _number_segments(parent, fg.ravel(), int(min_pixels), out.reshape(-1))
    return out


# ------------------------------------------------------------------------- compiled loops (numba)
def _kernel(fn):
    """``numba.njit`` with the on-disk cache, or compiled in memory where no cache is writable."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(cache=False, nogil=True)(fn)


@_kernel
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@_kernel
def _joins(xyz, rng, r1, c1, r2, c2, cos_t):
    """beta > theta for the returns in pixels (r1, c1) and (r2, c2).

    With d1 >= d2 the ranges and alpha the angle between the beams, beta = atan2(d2 sin a, d1 - d2 cos a)
    is the angle at the farther point between its beam and the segment joining both points, so
    beta > theta <=> cos(beta) = (d1 - d2 cos a) / |p1 - p2| < cos(theta).
    """
    a1, a2 = rng[r1, c1], rng[r2, c2]
    dot = np.float32(0.0)
    seg = np.float32(0.0)
    for k in range(3):
        p, q = xyz[r1, c1, k], xyz[r2, c2, k]
        dot += p * q
        seg += (p - q) * (p - q)
    if seg == 0:
        return True
    cos_a = min(max(dot / (a1 * a2), np.float32(-1.0)), np.float32(1.0))
    d1, d2 = max(a1, a2), min(a1, a2)
    return (d1 - d2 * cos_a) < cos_t * np.sqrt(seg)


@_kernel
def _depth_segments(xyz, rng, lab, fg, cos_t, gap, wrap, parent):
    """Union-find over the pixels: each foreground pixel joins the next filled pixel to its right and
    below (at most ``gap`` empty pixels away) when both have its class and lie on one surface."""
    H, W = rng.shape
    for i in range(H * W):
        parent[i] = i
    for r in range(H):
        for c in range(W):
            if not fg[r, c]:
                continue
            for step in range(1, gap + 2):  # right
                c2 = c + step
                if c2 >= W:
                    if not wrap:
                        break
                    c2 -= W
                if rng[r, c2] > 0:
                    if fg[r, c2] and lab[r, c2] == lab[r, c] and _joins(xyz, rng, r, c, r, c2, cos_t):
                        a, b = _find(parent, r * W + c), _find(parent, r * W + c2)
                        if a != b:
                            parent[max(a, b)] = min(a, b)
                    break
            for step in range(1, gap + 2):  # down
                r2 = r + step
                if r2 >= H:
                    break
                if rng[r2, c] > 0:
                    if fg[r2, c] and lab[r2, c] == lab[r, c] and _joins(xyz, rng, r, c, r2, c, cos_t):
                        a, b = _find(parent, r * W + c), _find(parent, r2 * W + c)
                        if a != b:
                            parent[max(a, b)] = min(a, b)
                    break


@_kernel
def _number_segments(parent, fg, min_pixels, out):
    """Ids 1, 2, ... for segments of at least ``min_pixels`` foreground pixels, in order of their first
    pixel (roots are the smallest index of their segment); 0 elsewhere."""
    n = len(parent)
    size = np.zeros(n, np.int64)
    for i in range(n):
        if fg[i]:
            root = _find(parent, i)
            parent[i] = root
            size[root] += 1
    ids = np.zeros(n, np.int32)
    next_id = 0
    for i in range(n):
        if fg[i]:
            root = parent[i]
            if size[root] >= min_pixels:
                if ids[root] == 0:
                    next_id += 1
                    ids[root] = next_id
                out[i] = ids[root]


def dbscan_instances(
    points: np.ndarray,
    classes: np.ndarray,
    eps: float = EPS,
    min_points: int = MIN_POINTS,
    background: Iterable[int] = (0,),
    max_points: int = MAX_DBSCAN_POINTS,
) -> np.ndarray:
    """(N,) int32 instance ids (1, 2, ... unique over all classes; 0 = noise or background).

    Each non-background class is clustered on its own in x, y, z, so a car touching a cyclist
    stays two instances. DBSCAN holds every point's neighbour list at once, so its memory grows with
    point density: a class with more than ``max_points`` points is refused (InputError) rather than
    exhausting memory; :func:`range_image_instances` has no such limit.
    """
    pts = np.asarray(points)
    cls = np.asarray(classes).ravel()
    if pts.ndim != 2 or pts.shape[1] < 3 or len(pts) != len(cls):
        raise InputError(f"need points (N, >=3) and classes (N,), got {pts.shape} and {cls.shape}")
    out = np.zeros(len(cls), dtype=np.int32)
    next_id = 1
    skip = set(int(b) for b in background)
    todo = [c for c in np.unique(cls) if int(c) not in skip]
    for c in todo:
        n = int(np.count_nonzero(cls == c))
        if n > max_points:
            raise InputError(f"{n} points of class {int(c)} are too many for DBSCAN (limit {max_points}); "
                             "group instances on the range image instead (range_image_instances)")
    if not todo:
        return out
    from sklearn.cluster import DBSCAN

    for c in todo:
        idx = np.flatnonzero(cls == c)
        if len(idx) < min_points:
            continue
        lab = DBSCAN(eps=eps, min_samples=min_points).fit_predict(pts[idx, :3])
        found = lab >= 0
        out[idx[found]] = lab[found] + next_id
        next_id += int(lab.max()) + 1 if found.any() else 0
    return out
