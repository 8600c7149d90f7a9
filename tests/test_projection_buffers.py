"""Projection fast paths: recycled result buffers, per-thread work buffers, the compiled scan-ring
boundaries, and the closest-point scatter on narrow windows, exact ties and dropped points."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from test_projection import polar_points, synthetic_scan

from squeezeseg import projection_kernels
from squeezeseg.projection import _PI32, _TWO_PI, SphericalProjection, _output, kernels_in_use

FIELDS = ("image", "rows", "cols", "index", "point_range")


@pytest.fixture(autouse=True, params=["numpy", "compiled"])
def kernels(request):
    """Every test here runs with both kernel sets (squeezeseg.projection_numpy and the numba loops)."""
    with kernels_in_use(request.param):
        yield request.param


def _copy(ri):
    return {f: getattr(ri, f).copy() for f in FIELDS}


def _same(ri, saved) -> bool:
    return all(np.array_equal(getattr(ri, f), saved[f], equal_nan=True) for f in FIELDS)


def brute_force_index(rows, cols, rng, width, height) -> np.ndarray:
    """(H, W) index of the closest point per pixel, ties to the lower index, by a full sort."""
    inside = np.flatnonzero(rows >= 0)
    pix = rows[inside].astype(np.int64) * width + cols[inside]
    order = np.lexsort((inside, rng[inside], pix))  # by pixel, then range, then index
    first = np.ones(len(order), bool)
    first[1:] = pix[order][1:] != pix[order][:-1]
    index = np.full(height * width, -1, np.int64)
    index[pix[order][first]] = inside[order][first]
    return index.reshape(height, width)


# ------------------------------------------------------------------------------- result buffers
def test_results_of_live_projections_never_share_memory():
    pts, _ = synthetic_scan("hdl64e", per_ring=400)
    proj = SphericalProjection.from_sensor("hdl64e", width=1024, fov_deg=360.0)
    a = proj.project(pts)
    saved = _copy(a)
    b = proj.project(pts[::-1].copy())
    for f in FIELDS:
        assert a.image.flags.c_contiguous and getattr(a, f).flags.writeable
        for g in FIELDS:
            assert not np.shares_memory(getattr(a, f), getattr(b, g)), (f, g)
            assert f == g or not np.shares_memory(getattr(a, f), getattr(a, g)), (f, g)
    for _ in range(6):  # more results than the pool keeps, dropped at once
        proj.project(pts * 1.5)
    assert _same(a, saved)


def test_a_kept_view_keeps_its_data_when_the_result_is_dropped():
    pts, _ = synthetic_scan("hdl64e", per_ring=400)
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0)
    features = proj.project(pts).features()  # only a view of the image survives
    rows = proj.project(pts).rows[10:]
    saved_features, saved_rows = features.copy(), rows.copy()
    for _ in range(6):
        proj.project(pts * 0.5)
    assert np.array_equal(features, saved_features) and np.array_equal(rows, saved_rows)


def test_a_dropped_result_buffer_is_recycled_and_a_held_one_is_not():
    def address(a):
        return a.__array_interface__["data"][0]

    first = _output("test-recycling", (64, 100), np.float32)
    where = address(first)
    del first
    again = _output("test-recycling", (64, 90), np.float32)  # no fresh pages: the same memory
    assert address(again) == where and again.shape == (64, 90)
    other = _output("test-recycling", (64, 90), np.float32)  # `again` is alive: another buffer
    assert not np.shares_memory(again, other)
    view = other[3:]
    del other
    assert not np.shares_memory(_output("test-recycling", (64, 90), np.float32), view)


def test_projections_in_threads_match_sequential_ones():
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0)
    scans = [synthetic_scan("hdl64e", per_ring=300, seed=s)[0] for s in range(4)]
    expected = [_copy(proj.project(p)) for p in scans]
    failures: list[int] = []

    def work(k: int) -> None:
        for _ in range(5):
            if not _same(proj.project(scans[k]), expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ---------------------------------------------------------------------------- scan-ring bounds
def full_pass_bounds(az: np.ndarray, start) -> np.ndarray:
    """Sweep starts by the plain definition: azimuth from ``start`` in [0, 2 pi) drops by > pi."""
    rel = az - start
    np.add(rel, np.float32(2.0 * np.pi), out=rel, where=rel < 0)
    return np.flatnonzero(np.diff(rel) < -np.float32(np.pi)) + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_compiled_sweep_bounds_equal_the_numpy_full_pass(seed, dtype):
    rng = np.random.default_rng(seed)
    n = 20000
    steps = rng.uniform(0.0, 0.02, n) + rng.normal(0.0, 0.004, n)  # mostly forward, some back
    steps[rng.integers(0, n, 30)] += rng.uniform(-3.5, 3.5, 30)  # gaps and jumps
    az = np.angle(np.exp(1j * (rng.uniform(-np.pi, np.pi) + np.cumsum(steps)))).astype(dtype)
    start = np.float32(rng.choice([rng.uniform(-np.pi, np.pi), np.pi, -np.pi, 0.0]))
    az[rng.integers(0, n, 20)] = start  # points exactly on the start direction
    az[rng.integers(0, n, 5)] = dtype(np.float32(np.pi))
    out = np.empty(n, np.int64)
    k = projection_kernels.sweep_bounds(az, start, _TWO_PI, _PI32, out)
    expected = full_pass_bounds(az, start)
    assert len(expected) > 20 and np.array_equal(out[:k], expected)


# ------------------------------------------------------------------- closest point, exact ties
@pytest.mark.parametrize("fov, width", [(90.0, 512), (30.0, 64), (360.0, 256)])
def test_every_pixel_holds_its_nearest_point_with_ties_to_the_lower_index(fov, width):
    rng = np.random.default_rng(8)
    n = 30000
    pts = polar_points(rng.uniform(-180, 180, n), rng.uniform(-24, 2, n), rng.uniform(2, 60, n))
    dup = rng.integers(0, n, 3000)
    pts[rng.integers(0, n, 3000)] = pts[dup]  # exact copies: equal ranges in one pixel
    proj = SphericalProjection.from_sensor("hdl64e", width=width, fov_deg=fov, rows="table")
    ri = proj.project(pts)
    rng_pts = np.linalg.norm(pts[:, :3], axis=1).astype(np.float32)
    expected = brute_force_index(ri.rows, ri.cols, rng_pts, width, 64)
    assert np.array_equal(ri.index, expected)
    filled = expected >= 0
    assert np.array_equal(ri.image[..., :4][filled], pts[expected[filled]])
    assert np.all(ri.image[~filled] == 0) and np.all(ri.image[..., 5][filled] == 1)


def test_dropped_points_keep_input_indices_in_a_narrow_window(caplog):
    pts, _ = synthetic_scan("hdl64e", per_ring=400, seed=3)
    bad = np.random.default_rng(4).choice(len(pts), 500, replace=False)
    pts[bad[:250], 1] = np.nan
    pts[bad[250:], :3] = 0.0
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0)
    with caplog.at_level(logging.WARNING, logger="squeezeseg.projection"):
        ri = proj.project(pts)
    assert ri.dropped == 500 and "250 NaN/inf, 250 at zero range" in caplog.text
    assert np.all(ri.rows[bad] == -1) and np.all(np.isnan(ri.point_range[bad]))
    expected = brute_force_index(ri.rows, ri.cols, ri.point_range, 512, 64)
    assert np.array_equal(ri.index, expected)
    filled = expected >= 0
    assert np.array_equal(ri.image[..., :4][filled], pts[expected[filled]])
