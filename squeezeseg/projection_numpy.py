"""The projection kernels of ``squeezeseg.projection_kernels`` in vectorised NumPy, bit for bit.

Same functions, same arguments, same results (outputs written into the same arrays), so that
``squeezeseg.projection`` can run either set. These need no compiler: importing numba and loading
its cached machine code costs about a second of start-up (numba imports scipy), while projecting one
full HDL-64E scan with the loops below takes a few tens of milliseconds. A command that projects a
handful of scans (``squeezeseg project``, the first scans of ``infer``) is faster with these; the
compiled loops pay only over many scans (see ``projection.use_compiled_kernels``).

Where the loops are sequential (closest point of a pixel, the sweep-start median), the NumPy form
states the same rule as a whole-array operation: the closest point is a scatter-minimum of uint64
keys (float32 range bits above the point index), which orders by range and then by index exactly as
the loop's strict ``<`` does.
"""

from __future__ import annotations

import numpy as np

_U64_MAX = np.iinfo(np.uint64).max


def polar(pts, x, y, rng, min_range):
    """Copy x and y out of ``pts`` and write the ranges; returns the invalid count (see the loop)."""
    a, b, c = pts[:, 0], pts[:, 1], pts[:, 2]
    x[...] = a
    y[...] = b
    np.multiply(a, a, out=rng)
    rng += b * b
    rng += c * c
    with np.errstate(invalid="ignore", over="ignore"):
        np.sqrt(rng, out=rng)
        good = (rng > min_range) & (rng < np.float32(np.inf))
        if pts.shape[1] >= 4:
            t = pts[:, 3]
            good &= (t - t) == 0
    return len(rng) - int(np.count_nonzero(good))


def valid_points(pts, rng, ok, min_range):
    """Mark in ``ok`` the points to keep; returns (kept, finite), as the compiled loop."""
    with np.errstate(invalid="ignore"):
        fin = rng < np.float32(np.inf)
        if pts.shape[1] >= 4:
            fin &= np.isfinite(pts[:, 3])
        np.logical_and(fin, rng > min_range, out=ok)
    return int(np.count_nonzero(ok)), int(np.count_nonzero(fin))


def azimuth_wraps(az, pi):
    """Net number of +-2 pi wraps of the azimuth: steps below -pi minus steps above pi."""
    d = az[1:] - az[:-1]
    return int(np.count_nonzero(d < -pi)) - int(np.count_nonzero(d > pi))


def _beam_steps(az, z, dist, window, left, right, right_wrapped, step_min, az_max):
    """Indices i where points i and i+1 step one beam at nearly the same azimuth (see the loop)."""
    a = az[:-1]
    if window == 1:
        cand = np.flatnonzero((a >= left) & (a <= right))
    elif window == 2:
        cand = np.flatnonzero((a >= left) | (a <= right_wrapped))
    else:
        cand = np.arange(len(a))
    with np.errstate(divide="ignore", invalid="ignore"):
        dt = z[cand + 1] / dist[cand + 1] - z[cand] / dist[cand]
        keep = (np.abs(dt) > step_min) & (np.abs(az[cand + 1] - az[cand]) < az_max)
    return cand[keep]


def _median(a):
    """np.median of a non-empty 1-D float64 array (the loop's sort and middle)."""
    s = np.sort(a)
    k = s.shape[0] // 2
    return s[k] if s.shape[0] % 2 else (s[k - 1] + s[k]) / 2.0


def sweep_start(az, z, dist, lo, window, left, right, right_wrapped, step_min, az_max, work):
    """Start of the sweeps relative to az[0], in (lo, 0]: the mode of the beam steps.

    The arithmetic of the compiled loop, element by element: float64 from the azimuths, fmod then
    the sign fix of np.mod, half-degree bins, the first fullest bin, the median of its
    neighbourhood. ``work`` (unused) keeps the signature.
    """
    del work
    steps = _beam_steps(az, z, dist, window, left, right, right_wrapped, step_min, az_max)
    if len(steps) == 0:
        return -1e-6
    half = np.float32(0.5) * (az[steps + 1] - az[steps])
    a0 = np.float64(az[0])
    two_pi = 2.0 * np.pi
    rel = np.fmod(az[steps].astype(np.float64) - a0 + half.astype(np.float64) - lo, two_pi)
    rel[rel < 0.0] += two_pi
    rel[rel == 0.0] = 0.0  # np.mod gives +0 for a zero remainder
    rel = rel[rel <= -lo]
    if len(rel) == 0:
        return -1e-6
    bins = np.floor(rel * (180.0 / np.pi) * 2.0).astype(np.int64)  # half-degree bins
    mode = np.argmax(np.bincount(bins))  # the first fullest bin
    return float(lo + _median(rel[np.abs(bins - mode) <= 1]))  # a Python float, as numba returns


def sweep_bounds(az, start, two_pi, pi, out):
    """Indices where a new sweep begins (see the loop); written to ``out``, returns how many."""
    rel = az - start
    rel[rel < 0] += two_pi
    found = np.flatnonzero(rel[1:] - rel[:-1] < -pi) + 1
    out[: len(found)] = found
    return len(found)


def fill_rings(ring, bounds, beams, bottom_first):
    """Ring of every point from the sweep starts ``bounds``, row 0 the top ring."""
    start = 0
    for b in range(beams):
        end = bounds[b] if b < bounds.shape[0] else ring.shape[0]
        ring[start:end] = beams - 1 - b if bottom_first else b
        start = end


def table_rows(pts, neg_mid, offsets, offset_mean, has_offsets, hi, lo, row):
    """Nearest beam of the elevation table from each beam's own origin (see the loop)."""
    a, b, z = pts[:, 0], pts[:, 1], pts[:, 2]
    inv = np.float32(1.0) / np.maximum(np.sqrt(a * a + b * b), np.float32(1e-6))
    t = (z - offset_mean) * inv
    r = np.searchsorted(neg_mid, -t)
    if has_offsets:
        for _ in range(2):  # converges in 1-2 steps
            t = (z - offsets[r]) * inv
            r = np.searchsorted(neg_mid, -t)
    row[...] = r
    row[(t > hi) | (t < lo)] = -1


def columns(az, col, col_start, col_scale, width, full_circle):
    """Azimuth bins: col = floor((col_start - az) * col_scale) in float32 (see the loop)."""
    tmp = (col_start - az) * col_scale
    with np.errstate(invalid="ignore"):
        np.floor(tmp, out=tmp)
        col[...] = tmp.astype(np.int32)
    if full_circle:
        np.subtract(col, np.int32(width), out=col, where=col >= width)


def closest_pixels(row, col, rng, width, height, index, best):
    """The closest point of every pixel, ties to the lower index; outside points get row, col -1.

    One scatter-minimum of uint64 keys: the (positive) float32 range's bits, which order like the
    ranges, above the point's index, so the smallest key of a pixel is its closest point and among
    equal ranges the first. ``best`` (unused) keeps the signature.
    """
    del best
    n = len(rng)
    hw = width * height
    outside = (col.view(np.uint32) >= np.uint32(width)) | (row.view(np.uint32) >= np.uint32(height))
    row[outside] = -1
    col[outside] = -1
    pix = row.astype(np.int64) * width + col
    pix[outside] = hw  # a spare slot
    key = rng.view(np.uint32).astype(np.uint64) << np.uint64(32)
    key |= np.arange(n, dtype=np.uint64)
    keys = np.full(hw + 1, _U64_MAX, np.uint64)
    np.minimum.at(keys, pix, key)
    won = keys[:hw]
    filled = won != _U64_MAX
    index[...] = -1
    index[filled] = (won[filled] & np.uint64(0xFFFFFFFF)).astype(np.int32)


def fill_image(xyzi, range_bits, index, image, mask_word, range_shift):
    """The image as three 8-byte words per pixel, copied bit for bit; empty pixels all zero."""
    filled = index >= 0
    w = index[filled]
    image[...] = 0
    image[filled, 0] = xyzi[w, 0]
    image[filled, 1] = xyzi[w, 1]
    image[filled, 2] = (range_bits[w].astype(np.uint64) << range_shift) | mask_word
