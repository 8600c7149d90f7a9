"""Spherical projection: pixel convention, closest point wins, row modes, unproject, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from squeezeseg.errors import InputError
from squeezeseg.projection import SphericalProjection, kernels_in_use, scan_rows
from squeezeseg.sensors import load_sensor


@pytest.fixture(autouse=True, params=["numpy", "compiled"])
def kernels(request):
    """Every test here runs with both kernel sets (squeezeseg.projection_numpy and the numba loops)."""
    with kernels_in_use(request.param):
        yield request.param


def polar_points(az_deg, elev_deg, rng, intensity=0.5, offset=0.0) -> np.ndarray:
    """Points at azimuth/elevation (degrees) and horizontal distance ``rng`` from a beam at ``offset``."""
    az = np.deg2rad(np.asarray(az_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elev_deg, dtype=np.float64))
    rho = np.broadcast_to(np.asarray(rng, dtype=np.float64), az.shape)
    z = rho * np.tan(el) + offset
    inten = np.broadcast_to(intensity, az.shape)
    return np.stack([rho * np.cos(az), rho * np.sin(az), z, inten], axis=1).astype(np.float32)


def synthetic_scan(sensor_name: str, start_deg: float = 30.0, per_ring: int = 1500, seed: int = 0):
    """A scan stored ring by ring (top beam first), each ring one sweep from ``start_deg``, with gaps."""
    sensor = load_sensor(sensor_name)
    rng = np.random.default_rng(seed)
    elev, off = np.rad2deg(sensor.elevations), sensor.vertical_offsets
    chunks, rows = [], []
    for b in range(sensor.beams):
        az = start_deg + np.sort(rng.uniform(0, 360, per_ring))
        keep = ~((az > start_deg + 100 + 3 * b) & (az < start_deg + 130 + 3 * b))  # a hole per ring
        az = az[keep]
        dist = 8.0 + 4.0 * np.sin(np.deg2rad(3 * az)) + 0.2 * b
        chunks.append(polar_points(az, elev[b], dist, offset=off[b]))
        rows.append(np.full(len(az), b))
    return np.concatenate(chunks), np.concatenate(rows)


# ------------------------------------------------------------------------------ pixel convention
def test_columns_front_window_match_squeezeseg_convention():
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0, rows="even")
    step = 90.0 / 512
    az = np.array([45 - 0.5 * step, 0.5 * step, -0.5 * step, -45 + 0.5 * step, 50.0, -50.0, 180.0])
    ri = proj.project(polar_points(az, -5.0, 10.0))
    assert ri.cols.tolist() == [0, 255, 256, 511, -1, -1, -1]
    assert np.all(ri.rows[:4] >= 0) and np.all(ri.rows[4:] == -1)


def test_columns_full_circle_start_behind_and_increase_clockwise():
    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0, rows="even")
    step = 360.0 / 2048
    az = np.array([180 - 0.5 * step, 0.5 * step, -0.5 * step, -180 + 0.5 * step, 90.0])
    ri = proj.project(polar_points(az, -5.0, 10.0))
    assert ri.cols.tolist() == [0, 1023, 1024, 2047, 512]
    # exactly behind (az = +-180) lands on column 0, never on column W
    pts = np.array([[-10.0, 0.0, -1.0, 0.1], [-10.0, -0.0, -1.0, 0.1]], np.float32)
    assert proj.project(pts).cols.tolist() == [0, 0]


def test_image_channels_and_mask():
    proj = SphericalProjection.from_sensor("vlp16", width=90, fov_deg=90.0)
    pts = polar_points([10.0], [1.0], [12.0], intensity=0.7)
    ri = proj.project(pts)
    r, c = ri.rows[0], ri.cols[0]
    px = ri.image[r, c]
    np.testing.assert_allclose(px[:4], pts[0], rtol=1e-6)
    assert px[4] == pytest.approx(float(np.linalg.norm(pts[0, :3])), rel=1e-6)
    assert px[5] == 1.0 and ri.mask.sum() == 1 and ri.image[..., 5].sum() == 1
    assert ri.image.dtype == np.float32 and ri.image.shape == (16, 90, 6)
    assert ri.features().shape == (16, 90, 5)


# --------------------------------------------------------------------------- closest point wins
def test_closest_point_wins_and_ties_go_to_lower_index():
    proj = SphericalProjection.from_sensor("vlp16", width=90, fov_deg=90.0, rows="table")
    far = polar_points([10.0], [1.0], [20.0])
    near = polar_points([10.0], [1.0], [5.0])
    pts = np.concatenate([far, near, far, near])  # two exact ties: indices 1 and 3, 0 and 2
    ri = proj.project(pts)
    assert len(set(zip(ri.rows.tolist(), ri.cols.tolist()))) == 1  # all in one pixel
    assert ri.index[ri.rows[0], ri.cols[0]] == 1
    assert ri.hidden().tolist() == [True, False, True, True]
    # the winner does not depend on the order of the others
    perm = np.array([3, 2, 0, 1])
    ri2 = proj.project(pts[perm])
    assert ri2.index[ri2.rows[0], ri2.cols[0]] == 0  # pts[perm][0] is a near copy with lowest index


def test_random_cloud_every_pixel_holds_its_nearest_point():
    rng = np.random.default_rng(1)
    n = 20000
    pts = polar_points(rng.uniform(-180, 180, n), rng.uniform(-24, 2, n), rng.uniform(2, 60, n))
    proj = SphericalProjection.from_sensor("hdl64e", width=256, fov_deg=360.0, rows="even")
    ri = proj.project(pts)
    pix = ri.rows.astype(np.int64) * 256 + ri.cols
    inside = ri.rows >= 0
    rng_pts = np.linalg.norm(pts[:, :3], axis=1)
    best = np.full(64 * 256, np.inf)
    np.minimum.at(best, pix[inside], rng_pts[inside])
    filled = ri.mask.ravel()
    assert np.array_equal(filled, np.isfinite(best))
    np.testing.assert_allclose(ri.image[..., 4].ravel()[filled], best[filled], rtol=1e-6)
    # every input point is either the pixel's winner or hidden behind a point not farther than it
    winner_range = ri.image[ri.rows[inside], ri.cols[inside], 4]
    assert np.all(winner_range <= rng_pts[inside] + 1e-5)


# ---------------------------------------------------------------------------------- row modes
@pytest.mark.parametrize("sensor", ["hdl64e", "vlp32c", "vlp16", "os1-128"])
def test_table_rows_put_each_beam_in_its_row(sensor):
    cfg = load_sensor(sensor)
    rng = np.random.default_rng(2)
    beams = np.repeat(np.arange(cfg.beams), 50)
    elev = np.rad2deg(cfg.elevations)[beams] + rng.normal(0, 0.02, len(beams))
    dist = rng.uniform(2.0, 70.0, len(beams))
    pts = polar_points(rng.uniform(-180, 180, len(beams)), elev, dist, offset=cfg.vertical_offsets[beams])
    ri = SphericalProjection(cfg, fov_deg=360.0, rows="table").project(pts)
    assert np.array_equal(ri.rows, beams)
    assert ri.row_mode == "table"


def test_even_rows_equal_table_rows_for_evenly_spaced_beams():
    cfg = load_sensor("vlp16")
    beams = np.repeat(np.arange(16), 20)
    pts = polar_points(np.linspace(-179, 179, len(beams)), np.rad2deg(cfg.elevations)[beams] + 0.3, 15.0)
    proj = SphericalProjection(cfg, fov_deg=360.0)
    assert np.array_equal(proj.project(pts, rows="even").rows, beams)
    assert np.array_equal(proj.project(pts, rows="table").rows, beams)


def test_points_far_above_or_below_the_beams_are_left_out():
    proj = SphericalProjection.from_sensor("vlp16", width=90, fov_deg=90.0)
    pts = polar_points([0.0, 0.0, 0.0], [60.0, -60.0, 0.9], 10.0)
    for mode in ("table", "even"):
        ri = proj.project(pts, rows=mode)
        assert ri.rows.tolist()[:2] == [-1, -1] and ri.rows[2] >= 0
        assert ri.cols[0] == -1 and ri.cols[2] >= 0


@pytest.mark.parametrize("start", [0.0, 30.0, -170.0])
def test_scan_order_recovers_rings(start):
    pts, rows = synthetic_scan("hdl64e", start_deg=start)
    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0)
    ri = proj.project(pts)
    assert ri.row_mode == "scan"
    assert np.mean(ri.rows == rows) > 0.999
    # stored bottom ring first: still row 0 = top beam
    order = np.argsort(-rows, kind="stable")
    assert np.mean(proj.project(pts[order], rows="scan").rows == rows[order]) > 0.999


def test_scan_order_absent_falls_back_to_table_or_raises():
    pts, rows = synthetic_scan("hdl64e", per_ring=300)
    perm = np.random.default_rng(3).permutation(len(pts))
    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0)
    ri = proj.project(pts[perm])
    assert ri.row_mode == "table" and np.array_equal(ri.rows, rows[perm])
    with pytest.raises(InputError, match="ring by ring"):
        proj.project(pts[perm], rows="scan")
    az = np.arctan2(pts[:10, 1], pts[:10, 0])
    with pytest.raises(InputError, match="too few points"):
        scan_rows(az, pts[:10, 2], np.hypot(pts[:10, 0], pts[:10, 1]), 64)


def test_ring_channel_sets_rows_and_respects_ring_zero():
    cfg32 = load_sensor("hdl32e")
    assert cfg32.ring_zero == "bottom"
    ring = np.arange(32, dtype=np.float32)
    pts = polar_points(np.zeros(32), np.rad2deg(cfg32.elevations[::-1]), 10.0)
    pts5 = np.concatenate([pts, ring[:, None]], axis=1)
    ri = SphericalProjection(cfg32, fov_deg=360.0).project(pts5)
    assert ri.row_mode == "ring" and np.array_equal(ri.rows, 31 - ring.astype(int))
    top_first = SphericalProjection.from_sensor("vlp32c", fov_deg=360.0, width=1800)
    assert np.array_equal(top_first.project(pts, ring=ring).rows, ring.astype(int))
    with pytest.raises(InputError, match="ring channel"):
        SphericalProjection(cfg32, fov_deg=360.0, rows="ring").project(pts)
    bad = pts5.copy()
    bad[0, 4] = 40
    with pytest.raises(InputError, match="integers 0..31"):
        SphericalProjection(cfg32, fov_deg=360.0, rows="ring").project(bad)


# ------------------------------------------------------------------------------------ unproject
def test_unproject_returns_each_points_pixel_label():
    rng = np.random.default_rng(4)
    n = 5000
    pts = polar_points(rng.uniform(-60, 60, n), rng.uniform(-24, 2, n), rng.uniform(2, 60, n))
    proj = SphericalProjection.from_sensor("hdl64e", rows="even")
    ri = proj.project(pts)
    labels = (np.arange(64 * 512).reshape(64, 512) % 7 + 1).astype(np.int32)
    out = proj.unproject(labels, ri, fill=0)
    inside = ri.rows >= 0
    assert np.array_equal(out[inside], labels[ri.rows[inside], ri.cols[inside]])
    assert np.all(out[~inside] == 0) and (~inside).any()
    with pytest.raises(InputError, match="shape"):
        proj.unproject(labels[:, :100], ri)


def test_knn_vote_fixes_a_point_hidden_behind_a_small_object():
    proj = SphericalProjection.from_sensor("vlp16", width=90, fov_deg=90.0, rows="table")
    cfg = proj.sensor
    el = np.rad2deg(cfg.elevations)
    grid_az, grid_b = np.meshgrid(np.arange(-10.5, 11.0, 1.0), np.arange(5, 11))
    wall = polar_points(grid_az.ravel(), el[grid_b.ravel()], 20.0)  # a wall at 20 m
    pole = polar_points([0.5], [el[8]], [5.0])  # a pole in front of one wall pixel
    hidden_wall = polar_points([0.6], [el[8]], [20.05])  # wall point behind the pole
    pts = np.concatenate([wall, pole, hidden_wall])
    ri = proj.project(pts)
    h = len(pts) - 1
    assert ri.hidden()[h] and (ri.rows[h], ri.cols[h]) == (ri.rows[-2], ri.cols[-2])
    labels = np.zeros((16, 90), np.int32)
    labels[ri.rows[: len(wall)], ri.cols[: len(wall)]] = 2  # wall class
    labels[ri.rows[-2], ri.cols[-2]] = 1  # pole class
    plain = proj.unproject(labels, ri)
    voted = proj.unproject(labels, ri, knn=5, window=5, cutoff=1.0)
    assert plain[h] == 1 and voted[h] == 2
    visible = ~ri.hidden()
    assert visible[-2] and voted[-2] == 1  # visible points keep their pixel's label
    assert np.array_equal(voted[visible], plain[visible])
    assert np.all(voted[: len(wall)] == 2)  # the wall point in the pole's pixel is voted back too


# ------------------------------------------------------------------------------------ bad input
def test_nan_inf_and_zero_range_points_are_dropped_and_logged(caplog):
    proj = SphericalProjection.from_sensor("hdl64e", rows="table")
    pts = polar_points([0.0, 1.0, 2.0, 3.0, 4.0], [-5.0] * 5, 10.0)
    pts[1, 0] = np.nan
    pts[2, 2] = np.inf
    pts[3, :3] = 0.0
    pts[4, 3] = np.nan  # intensity
    with caplog.at_level(logging.WARNING, logger="squeezeseg.projection"):
        ri = proj.project(pts)
    assert ri.dropped == 4
    assert ri.rows.tolist()[1:] == [-1] * 4 and ri.cols.tolist()[1:] == [-1] * 4
    assert ri.rows[0] >= 0 and ri.index[ri.rows[0], ri.cols[0]] == 0
    assert np.all(np.isfinite(ri.image))
    assert "dropped 4 of 5 points (3 NaN/inf, 1 at zero range)" in caplog.text


def test_zero_range_returns_alone_are_a_debug_line_not_a_warning(caplog):
    """Real scans hold a few no-echo returns at the origin: a training run must not warn every scan."""
    proj = SphericalProjection.from_sensor("hdl64e", rows="table")
    pts = polar_points([0.0, 1.0, 2.0], [-5.0] * 3, 10.0)
    pts[2, :3] = 0.0
    with caplog.at_level(logging.DEBUG, logger="squeezeseg.projection"):
        ri = proj.project(pts)
    assert ri.dropped == 1
    records = [r for r in caplog.records if "dropped 1 of 3" in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.DEBUG


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros((0, 4), np.float32), "empty"),
        (np.zeros((5, 2), np.float32), "shape"),
        (np.zeros(12, np.float32), "shape"),
        (np.full((5, 4), np.nan, np.float32), "no valid points: all 5"),
        (np.zeros((3, 4), np.float32), "no valid points: all 3"),
    ],
)
@pytest.mark.parametrize("rows", ["auto", "table", "even"])
def test_bad_point_arrays_raise_input_error(points, message, rows):
    with pytest.raises(InputError, match=message):
        SphericalProjection.from_sensor("hdl64e", rows=rows).project(points)


def test_bad_projection_arguments_and_unknown_sensor():
    with pytest.raises(InputError, match="available: .*hdl64e"):
        SphericalProjection.from_sensor("no-such-lidar")
    with pytest.raises(InputError, match="fov_deg"):
        SphericalProjection.from_sensor("hdl64e", fov_deg=0.0)
    with pytest.raises(InputError, match="row mode"):
        SphericalProjection.from_sensor("hdl64e", rows="diagonal")


def test_a_fifth_channel_that_is_not_a_ring_is_not_taken_for_one():
    pts, rows = synthetic_scan("hdl64e", per_ring=300)
    return_number = (np.arange(len(pts)) % 3 + 1).astype(np.float32)[:, None]  # LAS-like 1..3
    ri = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0).project(
        np.concatenate([pts, return_number], axis=1)
    )
    assert ri.row_mode == "scan" and np.mean(ri.rows == rows) > 0.999


def test_all_row_paths_give_the_same_image_when_rows_agree():
    pts, rows = synthetic_scan("hdl64e", per_ring=400, seed=7)
    proj = SphericalProjection.from_sensor("hdl64e", width=1024, fov_deg=360.0)
    by_scan = proj.project(pts, rows="scan")
    by_table = proj.project(pts, rows="table")
    assert np.array_equal(by_table.rows, rows) and np.mean(by_scan.rows == rows) > 0.99
    pairs = [
        (by_scan, proj.project(pts, ring=by_scan.rows.astype(np.float32), rows="ring")),
        (by_table, proj.project(pts, ring=rows.astype(np.float32), rows="ring")),
    ]
    for a, b in pairs:
        assert np.array_equal(a.index, b.index)
        assert np.array_equal(a.image, b.image)
