"""The projection kernels (each test with the compiled and the NumPy set): tie rule of the
closest-point scatter, bit-exact image words, the scan start against its NumPy definition, and numba
staying out of a plain import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_projection import synthetic_scan

from squeezeseg import projection_kernels
from squeezeseg.projection import SphericalProjection, _sweep_start, kernels_in_use


@pytest.fixture(autouse=True, params=["numpy", "compiled"])
def kernels(request):
    """Every test here runs with both kernel sets (squeezeseg.projection_numpy and the numba loops)."""
    with kernels_in_use(request.param):
        yield request.param


def test_closest_pixel_ties_go_to_the_lower_index_and_a_later_point_wins_only_when_closer():
    width, height = 4, 3
    below_3 = np.nextafter(np.float32(3.0), np.float32(0.0))
    #          pixel (0, 1): 5, 3, 3, just under 3 | pixel (2, 3): three equal | outside ones
    row = np.array([0, 0, 0, 0, 2, 2, 2, -1, 3, 1, 1], np.int32)
    col = np.array([1, 1, 1, 1, 3, 3, 3, 0, 0, -1, 4], np.int32)
    rng = np.array([5, 3, 3, below_3, 2, 2, 2, 1, 1, 1, 1], np.float32)
    index = np.empty(width * height, np.int32)
    best = np.empty(width * height, np.float32)
    projection_kernels.closest_pixels(row, col, rng, width, height, index, best)
    expected = np.full(width * height, -1)
    expected[0 * width + 1] = 3  # strictly closer than the two tied at 3
    expected[2 * width + 3] = 4  # exact tie: the first of the three
    assert index.tolist() == expected.tolist()
    assert row[7:].tolist() == [-1] * 4 and col[7:].tolist() == [-1] * 4  # outside: row, col -1
    assert row[:7].tolist() == [0, 0, 0, 0, 2, 2, 2] and col[:7].tolist() == [1, 1, 1, 1, 3, 3, 3]


def test_crafted_duplicates_keep_the_first_copy_through_project():
    pts, _ = synthetic_scan("vlp16", per_ring=300, seed=5)
    n = len(pts)
    copies = np.arange(0, n, 7)
    dup = np.concatenate([pts, pts[copies]])  # exact copies after the originals
    dup[copies, 3] = 0.25  # the originals are told apart by intensity only
    dup[n:, 3] = 0.75
    ri = SphericalProjection.from_sensor("vlp16", width=900, fov_deg=360.0).project(dup)
    assert ri.row_mode == "table"  # the copies break the scan order
    shown = ri.index[ri.index >= 0]
    assert not np.any(np.isin(shown, np.arange(n, len(dup))))  # no copy wins over its original
    assert np.all(ri.image[..., 3][ri.mask] != 0.75)
    assert np.array_equal(ri.hidden()[n:], ri.rows[n:] >= 0)  # every copy in the image is hidden


@pytest.mark.parametrize("columns", [3, 4, 5])
def test_image_holds_the_points_bit_for_bit(columns):
    rng = np.random.default_rng(columns)
    n = 5000
    pts = np.zeros((n, columns), np.float32)
    pts[:, :3] = rng.normal(0.0, 20.0, (n, 3))
    pts[::50, 1] = -0.0  # signed zeros and tiny values are copied as they are
    pts[1::50, 2] = 1e-40
    if columns > 3:
        pts[:, 3] = rng.uniform(0.0, 1.0, n)
    if columns > 4:
        pts[:, 4] = 99.0  # not a ring of the sensor: ignored
    ri = SphericalProjection.from_sensor("hdl64e", width=1024, fov_deg=360.0, rows="even").project(pts)
    filled = ri.index >= 0
    winners = ri.index[filled]
    xyzi = np.zeros((n, 4), np.float32)
    xyzi[:, : min(columns, 4)] = pts[:, :4]
    assert filled.sum() > 500
    assert np.array_equal(ri.image[filled][:, :4].view(np.uint32), xyzi[winners].view(np.uint32))
    assert np.array_equal(ri.image[filled][:, 4].view(np.uint32), ri.point_range[winners].view(np.uint32))
    assert np.all(ri.image[filled][:, 5] == 1.0)
    assert not np.any(ri.image[~filled].view(np.uint32))  # empty pixels: all bits zero


def numpy_sweep_start(az, z, dist, lo: float) -> float:
    """The sweep start by its NumPy definition over every point (see projection._sweep_start)."""
    d = az[1:] - az[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = z / dist
    dt = t[1:] - t[:-1]
    steps = np.flatnonzero((np.abs(dt) > np.float32(0.002)) & (np.abs(d) < np.float32(0.05)))
    rel = np.mod(az[steps].astype(np.float64) - az[0] + 0.5 * d[steps] - lo, 2.0 * np.pi)
    rel = rel[rel <= -lo]
    if len(rel) == 0:
        return -1e-6
    bins = np.floor(np.rad2deg(rel) * 2.0).astype(np.int64)
    mode = int(np.argmax(np.bincount(bins)))
    return float(lo + np.median(rel[np.abs(bins - mode) <= 1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("start_deg", [0.0, 30.0, 90.0, -90.0, 179.9, -180.0])
def test_compiled_sweep_start_equals_its_numpy_definition(start_deg, dtype):
    pts, _ = synthetic_scan("hdl32e", start_deg=start_deg, per_ring=500, seed=2)
    noise = np.random.default_rng(1).normal(0.0, 0.02, pts[:, :3].shape).astype(np.float32)
    pts[:, :3] += noise
    az = np.arctan2(pts[:, 1], pts[:, 0]).astype(dtype)
    z = pts[:, 2].astype(dtype)
    dist = np.linalg.norm(pts[:, :3], axis=1).astype(dtype)
    for lo in (-0.05, -1.0, -2.5, -6.0, -6.28):  # narrow and wide windows, one wider than a turn
        assert _sweep_start(az, z, dist, lo) == numpy_sweep_start(az, z, dist, lo)


def test_importing_the_projection_does_not_import_numba():
    code = "import sys, squeezeseg.projection; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def numpy_table_rows(proj: SphericalProjection, pts: np.ndarray) -> np.ndarray:
    """Table rows by their NumPy definition: searchsorted with the mean, then the beam's offset."""
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    inv = 1.0 / np.maximum(np.sqrt(x * x + y * y), np.float32(1e-6))
    t = (z - proj._offsets.mean()) * inv
    row = np.searchsorted(proj._neg_mid, -t).astype(np.int32)
    if proj._has_offsets:
        for _ in range(2):
            t = (z - proj._offsets[row]) * inv
            row = np.searchsorted(proj._neg_mid, -t).astype(np.int32)
    hi, lo = proj._tan_limits
    row[(t > hi) | (t < lo)] = -1
    return row


@pytest.mark.parametrize("sensor", ["hdl64e", "hdl32e", "vlp16"])
def test_compiled_table_rows_equal_their_numpy_definition(sensor):
    rng = np.random.default_rng(11)
    n = 40000
    pts = np.zeros((n, 4), np.float32)
    pts[:, :2] = rng.normal(0.0, 15.0, (n, 2))
    pts[:, 2] = rng.normal(-1.0, 3.0, n)
    pts[:100, :2] = rng.normal(0.0, 1e-7, (100, 2))  # straight above or below: rho under 1e-6
    proj = SphericalProjection.from_sensor(sensor, width=1024, fov_deg=360.0, rows="table")
    elev = proj.sensor.elevations  # points exactly on the beams and on the midpoints between them
    mids = np.concatenate([elev, 0.5 * (elev[1:] + elev[:-1])])
    pts[100 : 100 + len(mids), :3] = np.stack([10 * np.ones_like(mids), 0 * mids, 10 * np.tan(mids)], 1)
    rows = proj._table_rows(pts)
    expected = numpy_table_rows(proj, pts)
    assert np.array_equal(rows, expected)
    assert 0 < np.count_nonzero(rows == -1) < n // 2 and len(np.unique(rows)) == proj.height + 1


def test_kernels_compile_without_a_writable_cache_directory(tmp_path):
    """With no writable cache (a read-only install, no home directory) the kernels still import
    and run, compiled in memory, instead of numba refusing ``cache=True`` at import."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "kernels_copy.py").write_text(Path(projection_kernels.__file__).read_text())
    (package / "__pycache__").write_text("a file where numba wants its cache directory")
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(blocker / "home"),
           "XDG_CACHE_HOME": str(blocker / "cache")}  # both under a file: cannot be created
    code = ("import numpy as np, kernels_copy as k;"
            "print(k.azimuth_wraps(np.array([3.0, -3.0, 3.0, -3.0], np.float32), np.float32(np.pi)),"
            " len(k._uncached))")
    out = subprocess.run([sys.executable, "-c", code], cwd=package, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wraps, uncached = out.stdout.split()
    assert wraps == "1"  # two steps below -pi, one above pi
    assert int(uncached) > 10  # every kernel fell back, none was cached
    assert "numba cache unavailable" in out.stderr
