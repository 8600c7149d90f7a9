"""Camera rendering and calibration; the dropout-noise model (estimate, save, apply, CLI)."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.camera import IMAGE_SIZE, kitti_calibration, pixel_rays
from simulation.cli import main
from simulation.dropout import DropoutMap, estimate_dropout_map, load_dropout_map, resolve_dropout
from simulation.raycast import FrameGeometry
from simulation.sequence import SequenceSimulator
from squeezeseg.calib import format_kitti_calib
from squeezeseg.errors import InputError
from squeezeseg.io import read_kitti_calib, write_squeezeseg_npy
from squeezeseg.sensors import load_sensor


@pytest.fixture(scope="module")
def camera_frame():
    return SequenceSimulator("hdl64e", frames=1, seed=21, camera=True).frame(0)


def test_pixel_rays_reproject_through_the_calibration():
    calib = kitti_calibration()
    origin, d = pixel_rays(calib)
    W, H = IMAGE_SIZE
    pick = np.array([0, 617, W * 200 + 900, W * H - 1])
    uv, depth = calib.velo_to_image(origin + 10.0 * d[pick])
    u, v = pick % W, pick // W
    np.testing.assert_allclose(uv, np.c_[u, v], atol=1e-3)  # float32 rays
    assert np.all(depth > 0)


def test_calibration_round_trips_through_kitti_text(tmp_path):
    calib = kitti_calibration()
    path = tmp_path / "calib.txt"
    path.write_text(format_kitti_calib(calib))
    back = read_kitti_calib(path)
    np.testing.assert_allclose(back.P2, calib.P2)
    np.testing.assert_allclose(back.velo_to_rect, calib.velo_to_rect)


def _pixels(frame, mask):
    """Image colours (M, 3) at the LiDAR points of ``mask`` that project into the image, in front."""
    uv, depth = frame.calib.velo_to_image(frame.points[mask])
    u, v = np.round(uv).astype(int).T
    ok = (depth > 1) & (u >= 0) & (u < 1242) & (v >= 0) & (v < 375)
    return frame.image[v[ok], u[ok]].astype(np.float32)


def test_image_shows_sky_road_and_the_objects_the_lidar_sees(camera_frame):
    img = camera_frame.image.astype(np.float32)
    assert img.shape == (375, 1242, 3) and camera_frame.image.dtype == np.uint8
    assert img.std() > 30  # not a flat picture
    sim = SequenceSimulator("hdl64e", frames=1, seed=21, camera=True)
    sim.camera._fill_rays(*sim.sensor_pose(0.0))
    miss = ~FrameGeometry(sim.scene, 0.0).cast_packed(sim.camera._rays).hit.reshape(375, 1242)
    assert miss[:50].mean() > 0.1  # sky above the street
    sky = np.median(img[miss], axis=0)
    assert sky.mean() > np.median(img[~miss]) + 40  # brighter than the scene below it
    # LiDAR points, projected with the written calibration, land on what they hit: grey asphalt for
    # road points, something other than sky for car points
    road = _pixels(camera_frame, camera_frame.classes == 7)
    assert len(road) > 1000
    assert np.mean(road.std(axis=1) < 12) > 0.8 and 25 < np.median(road) < 150
    cars = _pixels(camera_frame, camera_frame.labels == 1)
    assert len(cars) > 100
    assert np.mean(np.linalg.norm(cars - sky, axis=1) > 40) > 0.95


def test_render_is_deterministic(camera_frame):
    sim = SequenceSimulator("hdl64e", frames=1, seed=21, camera=True)
    pos, yaw = sim.sensor_pose(0.0)
    again = sim.camera.render(FrameGeometry(sim.scene, 0.0), pos, yaw)
    assert np.array_equal(again, camera_frame.image)


def _write_images(folder, missing_sets):
    for i, missing in enumerate(missing_sets):
        img = np.ones((64, 512, 5), np.float32)
        for r, c in missing:
            img[r, c] = 0.0
        write_squeezeseg_npy(folder / f"{i}.npy", img, np.zeros((64, 512), np.int32))


def test_estimate_counts_missing_pixels(tmp_path):
    _write_images(tmp_path, [[(0, 0), (5, 7)], [(0, 0)], [], [(63, 511)]])
    m = estimate_dropout_map(tmp_path)
    assert m.frames == 4 and m.prob.shape == (64, 512)
    assert m.prob[0, 0] == 0.5 and m.prob[5, 7] == 0.25 and m.prob[63, 511] == 0.25
    assert m.prob.sum() == pytest.approx(1.0)
    m.save(tmp_path / "map.npz")
    back = load_dropout_map(tmp_path / "map.npz")
    assert np.array_equal(back.prob, m.prob) and back.frames == 4 and back.fov_deg == 90.0


def test_keep_points_follows_the_map():
    sensor = load_sensor("hdl64e")
    prob = np.zeros((64, 512), np.float32)
    prob[10] = 0.8  # row 10 drops 80% inside the front window
    m = DropoutMap(prob, 90.0)
    rows = np.repeat(np.arange(64), 2048).astype(np.int16)
    cols = np.tile(np.arange(2048), 64).astype(np.int16)
    keep = m.keep_points(rows, cols, sensor, np.random.default_rng(0))
    front = (cols >= 768) & (cols < 1280)  # the middle quarter of the revolution is the front 90 degrees
    assert keep[(rows == 10) & front].mean() == pytest.approx(0.2, abs=0.04)
    assert keep[(rows == 10) & ~front].mean() == pytest.approx(0.2, abs=0.04)  # row mean outside
    assert keep[rows != 10].all()


def test_dropout_bad_input(tmp_path):
    with pytest.raises(InputError, match="no scans or range images found"):
        estimate_dropout_map(tmp_path)
    with pytest.raises(InputError):
        estimate_dropout_map(tmp_path / "missing")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="junk.npy"):
        estimate_dropout_map(tmp_path)
    with pytest.raises(InputError):
        resolve_dropout(-0.1)
    (tmp_path / "bad.npz").write_bytes(b"zzz")
    with pytest.raises(InputError, match="not a dropout map"):
        load_dropout_map(tmp_path / "bad.npz")


def test_uniform_dropout_thins_the_scan():
    full = SequenceSimulator("hdl64e", frames=1, seed=4).frame(0)
    thin = SequenceSimulator("hdl64e", frames=1, seed=4, dropout=resolve_dropout(0.25)).frame(0)
    assert len(thin.points) / len(full.points) == pytest.approx(0.75, abs=0.01)
    assert thin.boxes and all(
        len(b.point_indices) == (thin.instances == b.track_id).sum() for b in thin.boxes
    )


def test_cli_dropout_model_on_real_sample(shared_data, tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert main(["dropout-model", "--from", str(shared_data / "squeezeseg_sample"), "--out", str(out)]) == 0
    m = load_dropout_map(out)
    assert m.frames == 1 and 0.05 < m.prob.mean() < 0.4  # real HDL-64E front view misses some pixels
    assert "weak estimate" in capsys.readouterr().out
    assert main(["dropout-model", "--from", str(tmp_path / "nothing"), "--out", str(out)]) == 2
