"""The NumPy projection kernels against the compiled ones, bit for bit, and the choice between them:
NumPy for the first scans of a process (no numba import), the compiled loops once they pay."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from test_projection import polar_points, synthetic_scan

from squeezeseg import projection, projection_kernels, projection_numpy
from squeezeseg.errors import InputError
from squeezeseg.io import read_points
from squeezeseg.projection import SphericalProjection, kernels_in_use, set_kernels

FIELDS = ("image", "rows", "cols", "index", "point_range")


def both(points, proj: SphericalProjection, **kwargs) -> dict[str, dict]:
    """The projection of ``points`` with each kernel set: fields (copied) and row mode."""
    out = {}
    for kind in ("numpy", "compiled"):
        with kernels_in_use(kind):
            ri = proj.project(points, **kwargs)
            out[kind] = {f: getattr(ri, f).copy() for f in FIELDS}
            out[kind]["row_mode"], out[kind]["dropped"] = ri.row_mode, ri.dropped
    return out


def assert_identical(res: dict[str, dict]) -> None:
    a, b = res["numpy"], res["compiled"]
    assert a["row_mode"] == b["row_mode"] and a["dropped"] == b["dropped"]
    for f in FIELDS:  # bit for bit, NaN payloads included
        assert a[f].dtype == b[f].dtype and a[f].shape == b[f].shape, f
        assert np.array_equal(a[f].view(np.uint8), b[f].view(np.uint8)), f


def messy_cloud(n: int, seed: int, columns: int = 4) -> np.ndarray:
    """Random points with exact duplicates, NaN/inf, zero range, signed zeros and tiny values."""
    rng = np.random.default_rng(seed)
    pts = polar_points(rng.uniform(-180, 180, n), rng.uniform(-26, 4, n), rng.uniform(1, 80, n))
    pts[rng.integers(0, n, n // 10)] = pts[rng.integers(0, n, n // 10)]  # equal ranges in a pixel
    pts[rng.integers(0, n, 20), 0] = np.nan
    pts[rng.integers(0, n, 20), 3] = np.inf
    pts[rng.integers(0, n, 20), :3] = 0.0
    pts[::97, 1] = -0.0
    pts[1::97, 2] = 1e-40
    if columns == 3:
        return np.ascontiguousarray(pts[:, :3])
    return pts


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("columns", [3, 4])
@pytest.mark.parametrize(
    "sensor, fov, width, rows",
    [("hdl64e", 90.0, 512, "table"), ("hdl64e", 360.0, 2048, "even"), ("vlp16", 30.0, 64, "table"),
     ("os1-128", 360.0, 1024, "table"), ("hdl32e", 200.0, 600, "even")],
)
def test_messy_clouds_project_bit_for_bit_alike(sensor, fov, width, rows, columns, seed):
    proj = SphericalProjection.from_sensor(sensor, width=width, fov_deg=fov, rows=rows)
    res = both(messy_cloud(20000, seed, columns), proj)
    assert res["numpy"]["dropped"] > 0 and np.count_nonzero(res["numpy"]["index"] >= 0) > 500
    assert_identical(res)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("start", [0.0, 30.0, -90.0, 179.9, -180.0])
def test_scan_order_rings_alike(start, dtype):
    pts, _ = synthetic_scan("hdl32e", start_deg=start, per_ring=600, seed=1)
    pts[:, :3] += np.random.default_rng(1).normal(0.0, 0.02, pts[:, :3].shape).astype(np.float32)
    for fov, width in ((360.0, 1024), (90.0, 256)):
        res = both(pts.astype(dtype), SphericalProjection.from_sensor("hdl32e", width=width, fov_deg=fov))
        assert res["numpy"]["row_mode"] == "scan"
        assert_identical(res)


def test_every_kernel_returns_and_writes_the_same():
    """Each function of the two modules on the same inputs: return values and every written array."""
    rng = np.random.default_rng(4)
    n = 5000
    pts = messy_cloud(n, 4)
    rows = rng.integers(-3, 70, n).astype(np.int32)  # some outside the 64 x 512 image
    cols = rng.integers(-5, 600, n).astype(np.int32)
    dist = np.abs(rng.normal(10, 3, n)).astype(np.float32) + 0.01
    dist[1::2] = dist[::2][: len(dist[1::2])]  # equal ranges, often in one pixel
    rows[1::2], cols[1::2] = rows[::2][: n // 2], cols[::2][: n // 2]
    outs = {}
    for name, mod in (("numpy", projection_numpy), ("compiled", projection_kernels)):
        x, y, rng_ = (np.empty(n, np.float32) for _ in range(3))
        ok = np.empty(n, np.bool_)
        bad = mod.polar(pts, x, y, rng_, np.float32(1e-3))
        kept = mod.valid_points(pts, rng_, ok, np.float32(1e-3))
        with np.errstate(invalid="ignore"):
            az = np.nan_to_num(np.arctan2(y, x)).astype(np.float32)
        col = np.empty(n, np.int32)
        mod.columns(az, col, np.float32(np.pi), np.float32(2048 / (2 * np.pi)), 2048, True)
        row2, col2 = rows.copy(), cols.copy()
        index, best = np.empty(64 * 512, np.int32), np.empty(64 * 512, np.float32)
        mod.closest_pixels(row2, col2, dist, 512, 64, index, best)
        image = np.empty((64 * 512, 3), np.uint64)
        xyzi = np.ascontiguousarray(pts).view(np.uint64)
        mod.fill_image(xyzi, dist.view(np.uint32), index, image, projection._MASK_WORD,
                       projection._RANGE_SHIFT)
        wraps = mod.azimuth_wraps(az, np.float32(np.pi))
        outs[name] = (bad, kept, wraps, x, y, rng_, ok, col, row2, col2, index, image)
    assert outs["numpy"][0] > 0 and outs["numpy"][1][0] < n  # dropped points were there
    assert np.count_nonzero(outs["numpy"][10] >= 0) > 1000
    for a, b in zip(outs["numpy"], outs["compiled"], strict=True):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))
        else:
            assert a == b


@pytest.mark.realdata
def test_real_scans_project_bit_for_bit_alike(shared_data):
    files = [
        *sorted((shared_data / "kitti_pcd" / "data_2").glob("*.pcd"))[:2],
        *sorted(shared_data.glob("semantickitti/**/velodyne/*.bin"))[:1],
        *sorted((shared_data / "nuscenes_lidar").glob("*.pcd.bin"))[:1],
        *sorted((shared_data / "kitti_object").glob("**/velodyne/*.bin"))[:1],
    ]
    if not files:
        pytest.skip(f"no real scans under {shared_data}")
    for path in files:
        sensor = "hdl32e" if path.name.endswith(".pcd.bin") else "hdl64e"
        pts = read_points(path)
        for fov, width, rows in ((360.0, 2048, "auto"), (90.0, 512, "auto"), (360.0, 1024, "table")):
            proj = SphericalProjection.from_sensor(sensor, width=width, fov_deg=fov, rows=rows)
            assert_identical(both(pts, proj))


# ------------------------------------------------------------------------------------ the choice
def test_auto_starts_with_numpy_and_moves_to_the_compiled_loops(monkeypatch):
    pts, _ = synthetic_scan("vlp16", per_ring=400)
    proj = SphericalProjection.from_sensor("vlp16", width=900, fov_deg=360.0)
    monkeypatch.setitem(projection._KERNEL_STATE, "points", 0)
    monkeypatch.setattr(projection, "COMPILED_AFTER_POINTS", 2 * len(pts))
    with kernels_in_use("auto"):
        first = proj.project(pts).image.copy()
        assert projection._kernels() is projection_numpy
        proj.project(pts)
        assert projection._kernels() is projection_numpy  # exactly at the limit: still NumPy
        third = proj.project(pts).image
        assert projection._kernels() is projection_kernels
        assert np.array_equal(first, third)
    with kernels_in_use("numpy"):
        proj.project(pts)
        assert projection._kernels() is projection_numpy  # an explicit choice does not move


def test_an_unknown_kernel_choice_is_refused_or_warned_about(monkeypatch, caplog):
    with pytest.raises(InputError, match="unknown projection kernels 'gpu'"):
        set_kernels("gpu")
    monkeypatch.setenv(projection.KERNELS_ENV, "fast")
    monkeypatch.setitem(projection._KERNEL_STATE, "kind", None)
    assert projection._kernel_kind() == "auto"
    assert "SQUEEZESEG_PROJECTION_KERNELS=fast" in caplog.text


@pytest.mark.parametrize("env, numba_loaded", [(None, False), ("numpy", False), ("compiled", True)])
def test_projecting_one_scan_imports_numba_only_when_asked(env, numba_loaded):
    code = ("import sys, numpy as np\n"
            "from squeezeseg.projection import SphericalProjection\n"
            "pts = np.random.default_rng(0).normal(0, 10, (5000, 4)).astype(np.float32)\n"
            "SphericalProjection.from_sensor('hdl64e', rows='table').project(pts)\n"
            "print('numba' in sys.modules, 'scipy' in sys.modules)")
    environ = {k: v for k, v in os.environ.items() if k != projection.KERNELS_ENV}
    if env:
        environ[projection.KERNELS_ENV] = env
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.split() == [str(numba_loaded), str(numba_loaded)]
