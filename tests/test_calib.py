"""KITTI calibration: real object, tracking and raw layouts, transforms, errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from squeezeseg.calib import format_kitti_calib, read_kitti_calib
from squeezeseg.errors import InputError


@pytest.fixture(scope="module")
def calib_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "kitti_object" / "training" / "calib").glob("*.txt"))
    files += sorted((shared_data / "kitti_tracking" / "calib").glob("*.txt"))
    if not files:
        pytest.skip("no KITTI calibration files in the shared data")
    return files


def _row(m: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.asarray(m).ravel())


def test_real_calibrations_are_consistent(calib_files: list[Path]):
    for path in calib_files:
        c = read_kitti_calib(path)
        assert c.P2.shape == (3, 4) and c.R0_rect.shape == (3, 3) and c.Tr_velo_to_cam.shape == (3, 4)
        assert set(c.P) == {"P0", "P1", "P2", "P3"} and c.source == str(path)
        # Tr_velo_to_cam is a rigid motion close to the axis swap x_cam = -y, y_cam = -z, z_cam = x
        R = c.Tr_velo_to_cam[:, :3]
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
        np.testing.assert_allclose(R, [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=0.03)
        np.testing.assert_allclose(c.velo_to_rect @ c.rect_to_velo, np.eye(4), atol=1e-12)
        pts = np.array([[10.0, 2.0, -1.0], [30.0, -5.0, 0.5]])
        np.testing.assert_allclose(c.cam_to_velo(c.velo_to_cam(pts)), pts, atol=1e-9)


def test_real_scan_projects_into_the_image(kitti_object: Path):
    from squeezeseg.io import read_points

    calib = read_kitti_calib(kitti_object / "calib" / "000000.txt")
    points = read_points(kitti_object / "velodyne" / "000000.bin")
    uv, depth = calib.velo_to_image(points)
    # well inside the camera's view (~ +-40 degrees across, +-14 degrees up and down)
    elevation = np.degrees(np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1])))
    ahead = (points[:, 0] > 5) & (np.abs(points[:, 1]) < 0.6 * points[:, 0]) & (np.abs(elevation) < 10)
    assert np.all(depth[ahead] > 0)
    inside = (uv[ahead, 0] >= 0) & (uv[ahead, 0] < 1242) & (uv[ahead, 1] >= 0) & (uv[ahead, 1] < 375)
    assert inside.mean() > 0.99
    # a point straight ahead, at the height of the camera, lands near the principal point
    cam_origin = calib.cam_to_velo(np.zeros((1, 3)))
    far = cam_origin + np.array([[100.0, 0.0, 0.0]])
    ((u, v),) = calib.velo_to_image(far)[0]
    assert abs(u - calib.P2[0, 2]) < 40 and abs(v - calib.P2[1, 2]) < 20
    behind = calib.velo_to_image(np.array([[-10.0, 0.0, 0.0]]))[1]
    assert behind[0] < 0


def test_format_round_trip(tmp_path: Path, calib_files: list[Path]):
    c = read_kitti_calib(calib_files[0])
    (tmp_path / "c.txt").write_text(format_kitti_calib(c))
    d = read_kitti_calib(tmp_path / "c.txt")
    for name in ("P2", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"):
        np.testing.assert_allclose(getattr(d, name), getattr(c, name), rtol=1e-12)


def test_original_tracking_layout_without_colons(tmp_path: Path, calib_files: list[Path]):
    """The KITTI tracking devkit's files write 'R_rect' and 'Tr_velo_cam' without a colon."""
    c = read_kitti_calib(calib_files[-1])
    lines = [f"P{i}: {_row(c.P[f'P{i}'])}" for i in range(4)]
    lines += [f"R_rect {_row(c.R0_rect)}", f"Tr_velo_cam {_row(c.Tr_velo_to_cam)}"]
    lines += [f"Tr_imu_velo {_row(c.Tr_imu_to_velo)}", ""]
    (tmp_path / "0000.txt").write_text("\n".join(lines))
    d = read_kitti_calib(tmp_path / "0000.txt")
    np.testing.assert_array_equal(d.velo_to_rect, c.velo_to_rect)
    np.testing.assert_array_equal(d.Tr_imu_to_velo, c.Tr_imu_to_velo)


def _raw_layout(folder: Path, c) -> None:
    """calib_cam_to_cam.txt + calib_velo_to_cam.txt as the KITTI raw recordings ship them."""
    folder.mkdir()
    cam = ["calib_time: 09-Jan-2012 13:57:47", "corner_dist: 9.950000e-02"]
    for i in range(4):
        cam += [f"S_0{i}: 1.392000e+03 5.120000e+02", f"R_rect_0{i}: {_row(c.R0_rect)}"]
        cam += [f"S_rect_0{i}: 1.242000e+03 3.750000e+02", f"P_rect_0{i}: {_row(c.P[f'P{i}'])}"]
    (folder / "calib_cam_to_cam.txt").write_text("\n".join(cam) + "\n")
    velo = [
        "calib_time: 15-Mar-2012 11:37:16",
        f"R: {_row(c.Tr_velo_to_cam[:, :3])}",
        f"T: {_row(c.Tr_velo_to_cam[:, 3])}",
        "delta_f: 0.000000e+00 0.000000e+00",
        "delta_c: 0.000000e+00 0.000000e+00",
    ]
    (folder / "calib_velo_to_cam.txt").write_text("\n".join(velo) + "\n")


def test_raw_layout(tmp_path: Path, calib_files: list[Path]):
    c = read_kitti_calib(calib_files[0])
    _raw_layout(tmp_path / "2011_09_26", c)
    for arg in (tmp_path / "2011_09_26", tmp_path / "2011_09_26" / "calib_cam_to_cam.txt"):
        d = read_kitti_calib(arg)
        np.testing.assert_allclose(d.velo_to_rect, c.velo_to_rect, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(d.P2, c.P2)
        assert d.image_size == (1242, 375)
    (tmp_path / "2011_09_26" / "calib_velo_to_cam.txt").rename(tmp_path / "v.txt")
    with pytest.raises(InputError, match="calib_velo_to_cam.txt"):
        read_kitti_calib(tmp_path / "2011_09_26")
    d = read_kitti_calib(tmp_path / "2011_09_26", velo_to_cam=tmp_path / "v.txt")
    np.testing.assert_allclose(d.Tr_velo_to_cam, c.Tr_velo_to_cam)


@pytest.mark.parametrize(
    "drop, replace, message",
    [
        ("Tr_velo_to_cam", None, "missing calibration key 'Tr_velo_to_cam'"),
        ("R0_rect", None, "missing calibration key 'R0_rect'"),
        ("P2", None, "missing calibration key 'P2'"),
        ("P2", "P2: 1 2 3", "key 'P2' has 3 values, expected 12"),
        ("R0_rect", "R0_rect: 1 0 0 0 one 0 0 0 1", "non-numeric values for 'R0_rect'"),
    ],
)
def test_bad_calibration_names_file_and_key(tmp_path: Path, calib_files, drop, replace, message):
    lines = [ln for ln in calib_files[0].read_text().splitlines() if not ln.startswith(drop + ":")]
    if replace:
        lines.append(replace)
    path = tmp_path / "000000.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=message) as info:
        read_kitti_calib(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_missing_calibration_file(tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        read_kitti_calib(tmp_path / "none.txt")
