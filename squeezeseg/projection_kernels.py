"""Compiled loops of the spherical projection (numba), one pass each over the points or pixels.

``squeezeseg.projection`` imports this module only when it runs these loops (``set_kernels``:
``compiled``, or ``auto`` once a process has projected enough points for the second that numba's
import and cache load take to pay off); until then ``squeezeseg.projection_numpy`` computes the same
results in NumPy. The loops
reproduce the NumPy definitions they replaced bit for bit: float32 arithmetic stays float32 in the
same order (numba contracts nothing into FMAs without fastmath), and thresholds arrive as arguments
already cast to the dtype NumPy would compare in, so a float32 scan compares with float32(pi), a
float64 one with pi.
The machine code is cached on disk (next to this file, or in the user's cache directory when the
package directory is read-only); where neither is writable the kernels are compiled in memory in
every process instead (a few seconds on the first projection). ``nogil=True`` lets several threads
project at once.
"""

from __future__ import annotations

import logging

import numba
import numpy as np

log = logging.getLogger(__name__)
_JIT = {"nogil": True, "error_model": "numpy"}  # numpy: x/0 is inf, not an exception
_uncached: list[str] = []


def _kernel(fn):
    """``numba.njit`` with the on-disk cache, or without it where no cache directory is writable
    (numba refuses ``cache=True`` at decoration then, which would break the import)."""
    try:
        return numba.njit(cache=True, **_JIT)(fn)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        if not _uncached:
            log.warning("numba cache unavailable (%s); projection kernels compile in memory in "
                        "every process (set NUMBA_CACHE_DIR to a writable directory)", exc)
        _uncached.append(fn.__name__)
        return numba.njit(cache=False, **_JIT)(fn)


@_kernel
def polar(pts, x, y, rng, min_range):
    """Copy x and y out of ``pts`` (N, C) float32 and write the ranges; returns the invalid count.

    The range is ((x*x + y*y) + z*z) in float32, then its square root. A point is invalid when its
    range is not finite or not above ``min_range``, or its intensity (column 3, if any) is not
    finite; ``valid_points`` tells which ones.
    """
    has_intensity = pts.shape[1] >= 4
    inf = np.float32(np.inf)
    bad = 0
    for i in range(pts.shape[0]):
        a, b, c = pts[i, 0], pts[i, 1], pts[i, 2]
        x[i] = a
        y[i] = b
        r = np.sqrt(a * a + b * b + c * c)
        rng[i] = r
        t = pts[i, 3] if has_intensity else np.float32(0.0)
        bad += np.int64(not ((r > min_range) & (r < inf) & (t - t == 0)))
    return bad


@_kernel
def valid_points(pts, rng, ok, min_range):
    """Mark in ``ok`` the points to keep; returns (kept, finite): the number kept, and the number
    with a finite range and intensity (the others are NaN/inf; finite - kept are at zero range)."""
    has_intensity = pts.shape[1] >= 4
    inf = np.float32(np.inf)
    kept = 0
    finite = 0
    for i in range(pts.shape[0]):
        r = rng[i]
        fin = r < inf and (not has_intensity or np.isfinite(pts[i, 3]))
        good = fin and r > min_range
        ok[i] = good
        if fin:
            finite += 1
        if good:
            kept += 1
    return kept, finite


@_kernel
def azimuth_wraps(az, pi):
    """Net number of +-2 pi wraps of the azimuth: steps below -pi minus steps above pi."""
    wraps = 0
    for i in range(az.shape[0] - 1):
        d = az[i + 1] - az[i]
        if d < -pi:
            wraps += 1
        elif d > pi:
            wraps -= 1
    return wraps


@_kernel
def _beam_steps(az, z, dist, window, left, right, right_wrapped, step_min, az_max, out):
    """Indices i where points i and i+1 step one beam up or down at nearly the same azimuth.

    A step is a change of z/dist above ``step_min`` with an azimuth step below ``az_max``. With
    ``window`` 0 every i is looked at; with 1 only az[i] in [left, right]; with 2 (a window that
    wraps past +pi) az[i] >= left or az[i] <= right_wrapped. Writes the indices to ``out``,
    returns how many there are.
    """
    k = 0
    for i in range(az.shape[0] - 1):
        a = az[i]
        if window == 1 and not (a >= left and a <= right):
            continue
        if window == 2 and not (a >= left or a <= right_wrapped):
            continue
        dt = z[i + 1] / dist[i + 1] - z[i] / dist[i]
        if abs(dt) > step_min and abs(az[i + 1] - a) < az_max:
            out[k] = i
            k += 1
    return k


@_kernel
def _median(a):
    """np.median of a non-empty 1-D float64 array."""
    s = np.sort(a)
    k = s.shape[0] // 2
    return s[k] if s.shape[0] % 2 else (s[k - 1] + s[k]) / 2.0


@_kernel
def sweep_start(az, z, dist, lo, window, left, right, right_wrapped, step_min, az_max, work):
    """Start of the sweeps relative to az[0], in (lo, 0]: the mode of the beam steps.

    Each beam step (see _beam_steps; ``work`` receives their indices) gives the azimuth halfway
    through the step, relative to az[0] + lo, in [0, 2 pi); those within -lo are binned by half
    a degree, and the median of the steps in the fullest bin and its neighbours is the start.
    The arithmetic is NumPy's: float64 from the float32 azimuths, np.mod's sign rule, rad2deg as
    a product with 180/pi, the first fullest bin. Returns -1e-6 when there is no step.
    """
    k = _beam_steps(az, z, dist, window, left, right, right_wrapped, step_min, az_max, work)
    two_pi = 2.0 * np.pi
    rad2deg = 180.0 / np.pi
    rel = np.empty(k, np.float64)
    m = 0
    for j in range(k):
        i = work[j]
        half = np.float32(0.5) * (az[i + 1] - az[i])
        r = np.fmod(np.float64(az[i]) - np.float64(az[0]) + np.float64(half) - lo, two_pi)
        if r < 0.0:
            r += two_pi
        elif r == 0.0:
            r = 0.0  # np.mod gives +0 for a zero remainder
        if r <= -lo:
            rel[m] = r
            m += 1
    if m == 0:
        return -1e-6
    bins = np.empty(m, np.int64)
    for j in range(m):
        bins[j] = np.int64(np.floor(rel[j] * rad2deg * 2.0))  # half-degree bins
    counts = np.zeros(bins.max() + 1, np.int64)
    for j in range(m):
        counts[bins[j]] += 1
    mode = np.argmax(counts)  # the first fullest bin
    sel = np.empty(m, np.float64)
    c = 0
    for j in range(m):
        if abs(bins[j] - mode) <= 1:
            sel[c] = rel[j]
            c += 1
    return lo + _median(sel[:c])


@_kernel
def sweep_bounds(az, start, two_pi, pi, out):
    """Indices where a new sweep begins: the azimuth from ``start``, taken in [0, 2 pi), drops by
    more than pi. Writes them to ``out`` and returns how many there are."""
    prev = az[0] - start
    if prev < 0:
        prev += two_pi
    k = 0
    for i in range(1, az.shape[0]):
        rel = az[i] - start
        if rel < 0:
            rel += two_pi
        if rel - prev < -pi:
            out[k] = i
            k += 1
        prev = rel
    return k


@_kernel
def fill_rings(ring, bounds, beams, bottom_first):
    """Ring of every point from the sweep starts ``bounds``: top first, or bottom first when
    ``bottom_first``, so that row 0 is always the top ring."""
    start = 0
    for b in range(beams):
        end = bounds[b] if b < bounds.shape[0] else ring.shape[0]
        ring[start:end] = beams - 1 - b if bottom_first else b
        start = end


@_kernel
def _count_below(sorted_values, v):
    """np.searchsorted(sorted_values, v) (side 'left'): how many values are below v."""
    lo, n = 0, sorted_values.shape[0]
    while n > 0:
        half = n // 2
        if sorted_values[lo + half] < v:
            lo += half + 1
            n -= half + 1
        else:
            n = half
    return lo


@_kernel
def _walk_below(sorted_values, v, i):
    """_count_below(sorted_values, v), walking from a nearby answer ``i`` (the same result)."""
    while i > 0 and sorted_values[i - 1] >= v:
        i -= 1
    while i < sorted_values.shape[0] and sorted_values[i] < v:
        i += 1
    return i


@_kernel
def table_rows(pts, neg_mid, offsets, offset_mean, has_offsets, hi, lo, row):
    """Nearest beam of the elevation table, seen from each beam's own origin (vertical offset).

    t = (z - offset) / rho in float32 (rho = sqrt(x*x + y*y), at least 1e-6), first with the mean
    offset and then twice with the offset of the beam found; the beam is the number of midpoints
    ``neg_mid`` (between consecutive -tan(elevation), increasing) below -t. Points with t above
    ``hi`` or below ``lo`` (1.5 beam gaps beyond the table) get row -1.
    """
    eps = np.float32(1e-6)
    one = np.float32(1.0)
    for i in range(pts.shape[0]):
        a, b, z = pts[i, 0], pts[i, 1], pts[i, 2]
        inv = one / max(np.sqrt(a * a + b * b), eps)
        t = (z - offset_mean) * inv
        r = _count_below(neg_mid, -t)
        if has_offsets:
            for _ in range(2):  # converges in 1-2 steps
                t = (z - offsets[r]) * inv
                r = _walk_below(neg_mid, -t, r)
        row[i] = -1 if (t > hi) | (t < lo) else r


@_kernel
def columns(az, col, col_start, col_scale, width, full_circle):
    """Azimuth bins: col = floor((col_start - az) * col_scale) in float32.

    Column 0 at +fov/2, increasing clockwise; outside the window < 0 or >= W. On the full circle
    column W (az == -pi) folds onto column 0.
    """
    for i in range(az.shape[0]):
        c = np.int32(np.floor((col_start - az[i]) * col_scale))
        if full_circle and c >= width:
            c -= width
        col[i] = c


@_kernel
def closest_pixels(row, col, rng, width, height, index, best):
    """The closest point of every pixel, ties to the lower index; outside points get row, col -1.

    ``index`` (H*W,) receives the winner of each pixel (-1: empty), ``best`` (H*W,) is work space
    for the winners' ranges. Points are visited in input order and a later one wins only when
    strictly closer, so equal ranges go to the lower index.
    """
    for p in range(index.shape[0]):
        index[p] = -1
    for i in range(row.shape[0]):
        c, r = col[i], row[i]
        if np.uint32(c) >= np.uint32(width) or np.uint32(r) >= np.uint32(height):  # also < 0
            row[i] = -1
            col[i] = -1
            continue
        p = np.uint64(r * width + c)  # unsigned: no negative-index wraparound check
        d = rng[i]
        if index[p] < 0 or d < best[p]:
            index[p] = i
            best[p] = d


@_kernel
def fill_image(xyzi, range_bits, index, image, mask_word, range_shift):
    """The image, each pixel as three 8-byte words: (x, y), (z, intensity), (range, mask 1.0).

    ``xyzi`` (N, 2) uint64 holds the points' x, y, z, intensity as raw bits, ``range_bits`` (N,)
    uint32 their ranges, ``image`` (H*W, 3) uint64 is a view of the float32 (H, W, 6) image.
    ``mask_word`` is the word of the float32 pair (0, 1) and ``range_shift`` where the range goes
    in it (0 on little-endian machines). Copying whole words moves the float32 values bit for bit
    in half the stores. Empty pixels (index -1) are all zero.
    """
    for p in range(index.shape[0]):
        w = index[p]
        if w >= 0:
            u = np.uint64(w)  # unsigned: no negative-index wraparound check
            image[p, 0] = xyzi[u, 0]
            image[p, 1] = xyzi[u, 1]
            image[p, 2] = (np.uint64(range_bits[u]) << range_shift) | mask_word
        else:
            image[p, 0] = 0
            image[p, 1] = 0
            image[p, 2] = 0
