"""Simulator v2, second round: the HDL-64E's per-laser range noise and offsets, beam divergence (mixed
returns at depth edges), the per-laser intensity response, curved vehicle bodies with glass, the
street's cross-section (camber, sloping roadside), queued traffic and street furniture."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from simulation import meshes
from simulation.classes import CLASS_ID, MATERIAL_ID
from simulation.intensity import IntensityModel
from simulation.lidar import RANGE_MODEL, LidarSimulator, RangeModel, mixed_returns, neighbour_pairs
from simulation.scene import LANE_WIDTH, generate_scene
from simulation.sequence import SequenceSimulator


def _rays_at(xs_cols: int, rows: int, distance_of_col) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranges, normals and directions of a rows x cols grid of rays looking along +x at walls facing
    them, ``distance_of_col(c)`` away."""
    t = np.array([[distance_of_col(c) for c in range(xs_cols)] for _ in range(rows)], np.float32).ravel()
    d = np.tile([1.0, 0.0, 0.0], (len(t), 1)).astype(np.float32)
    n = np.tile([-1.0, 0.0, 0.0], (len(t), 1)).astype(np.float32)
    return t, n, d


def test_mixed_returns_only_at_depth_edges_and_between_the_two_surfaces():
    cols, rows = 40, 50
    t, n, d = _rays_at(cols, rows, lambda c: 9.5 if c < 20 else 10.0)  # a board 0.5 m before a wall
    model = RangeModel()
    pairs = neighbour_pairs((rows, cols), False)
    out = mixed_returns(t, n, d, pairs, (0.65, 0.0), model, np.random.default_rng(0))
    changed = out != t
    cols_changed = np.unique(np.flatnonzero(changed) % cols)
    assert set(cols_changed) <= {19, 20}  # only the two columns beside the edge
    assert 0.2 * rows < changed.sum() < 1.5 * rows  # the edge falls in a footprint about 2/3 of the time
    assert np.all((out[changed] > 9.5) & (out[changed] < 10.0))  # mixed points lie between the surfaces
    # far apart (more than the pulse length): the own echo wins, nothing moves
    t2, n2, d2 = _rays_at(cols, rows, lambda c: 5.0 if c < 20 else 30.0)
    out2 = mixed_returns(t2, n2, d2, pairs, (0.65, 0.0), model, np.random.default_rng(0))
    assert np.array_equal(out2, t2)


def test_mixed_returns_leave_a_continuous_slanted_surface_alone():
    # rays fanning over a plane x = 10 seen at growing angles: ranges change from ray to ray, but
    # every ray lies on the one plane, so no footprint straddles an edge
    cols = 60
    az = np.linspace(-0.6, 0.6, cols)
    d = np.stack([np.cos(az), np.sin(az), np.zeros(cols)], axis=1).astype(np.float32)
    t = (10.0 / d[:, 0]).astype(np.float32)
    n = np.tile([-1.0, 0.0, 0.0], (cols, 1)).astype(np.float32)
    assert np.abs(np.diff(t)).max() > RANGE_MODEL.mix_min  # the neighbours' ranges do differ
    pairs = neighbour_pairs((1, cols), False)
    out = mixed_returns(t, n, d, pairs, (0.65, 0.3), RANGE_MODEL, np.random.default_rng(1))
    assert np.array_equal(out, t)


def test_lasers_have_their_own_noise_and_a_fixed_offset():
    sim = LidarSimulator("hdl64e")
    std, bias = sim.laser_std, sim.laser_bias
    assert std.shape == bias.shape == (64,)
    assert std.max() > 1.5 * std.min()  # lasers differ
    assert 0.003 < np.median(std) < 0.03 and np.abs(bias).max() < 0.05
    again = LidarSimulator("hdl64e")
    assert np.array_equal(again.laser_std, std) and np.array_equal(again.laser_bias, bias)


def test_noise_grows_along_the_ring_with_range():
    """On the road, the second difference of the range along a ring (robust std, as measured on real
    KITTI scans: about 9-10 mm at 3-8 m, 13-29 mm at 30-60 m) grows with range."""
    from squeezeseg.projection import SphericalProjection

    proj = SphericalProjection.from_sensor("hdl64e", width=2048, fov_deg=360.0, rows="table")
    f = SequenceSimulator("hdl64e", frames=1, seed=3).frame(0)
    r = proj.project(f.points).image[..., 4]
    d2 = r[:, 2:] - 2 * r[:, 1:-1] + r[:, :-2]
    noise = []
    for lo, hi in ((3, 8), (30, 60)):
        ok = (r[:, :-2] > 0) & (r[:, 2:] > 0) & (r[:, 1:-1] > lo) & (r[:, 1:-1] < hi)
        v = d2[ok][np.abs(d2[ok]) < 0.3]
        noise.append(1.4826 * np.median(np.abs(v - np.median(v))) / np.sqrt(6))
    assert 0.004 < noise[0] < 0.02 and noise[1] > 1.5 * noise[0]


def test_intensity_response_is_per_laser_and_has_small_values():
    m = IntensityModel(gain=1.0, noise=0.3, floor=0.1, floor_spread=0.5, range_ref=10.0, range_power=1.0)
    n = 20000
    rng = np.random.default_rng(0)
    beams = rng.integers(0, 64, n)
    v = m(np.full(n, 0.3, np.float32), np.ones(n, np.float32), np.full(n, 10.0, np.float32), beams, 64, rng)
    assert v.max() <= 0.99 and v.min() == 0.0
    assert np.mean((v > 0) & (v < 0.1)) > 0.05  # weak returns come out small, not only as zeros
    floors = m.laser_floors(64)
    assert floors.max() > 1.5 * floors.min()
    mean_by_laser = np.array([v[beams == b].mean() for b in range(64)])
    assert np.corrcoef(mean_by_laser, -floors)[0, 1] > 0.5  # a laser with a higher floor reads darker


@pytest.mark.parametrize("seed", range(6))
def test_car_bodies_are_curved_with_glass(seed):
    rng = np.random.default_rng(seed)
    mesh = meshes.vehicle("sedan", rng)
    lo, hi = mesh.extent
    L, W, H = hi - lo
    rs = o3d.t.geometry.RaycastingScene()
    rs.add_triangles(mesh.vertices, mesh.triangles.astype(np.uint32))
    # rays straight down along the centre line: the top of the car (hood, windshield, roof, trunk)
    xs = np.linspace(lo[0] + 0.05, hi[0] - 0.05, 60)
    rays = np.stack([xs, np.zeros_like(xs), np.full_like(xs, 5.0), 0 * xs, 0 * xs, -np.ones_like(xs)], 1)
    ans = rs.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))
    top = 5.0 - ans["t_hit"].numpy()
    assert top.max() == pytest.approx(H, abs=0.02)
    assert top[-1] < 0.8 * H and top[0] < 0.85 * H  # hood and trunk/tail lower than the roof
    assert len(np.unique(np.round(top, 2))) > 10  # a curved roof line, not two steps
    mats = mesh.tri_material[ans["primitive_ids"].numpy()]
    assert (mats == MATERIAL_ID["glass"]).any()  # windshield or rear window on the centre line
    # from the side at window height: side glass; at door height: paint
    for z, mat in ((0.8 * H, "glass"), (0.4 * H, "paint")):
        ray = np.array([[0.0, 5.0, z, 0.0, -1.0, 0.0]], np.float32)
        a = rs.cast_rays(o3d.core.Tensor(ray))
        assert mesh.tri_material[a["primitive_ids"].numpy()[0]] == MATERIAL_ID[mat]
    assert W <= 1.9 + 1e-3 and (mesh.tri_class == CLASS_ID["car"]).all()


def test_road_is_cambered_and_the_mesh_follows_the_ground_height():
    scene = generate_scene(4, 0, 2.0)
    p = scene.profile
    assert 0.01 <= p.camber <= 0.025
    rs = o3d.t.geometry.RaycastingScene()
    rs.add_triangles(scene.static.vertices, scene.static.triangles.astype(np.uint32))
    half = scene.road_half_width
    ys = np.array([0.0, -0.5 * half, -0.95 * half, 0.95 * half, half + 0.5, -(half + 0.5)])
    xs = np.full_like(ys, 3.0)
    rays = np.stack([xs, ys, np.full_like(xs, 50.0), 0 * xs, 0 * xs, -np.ones_like(xs)], 1).astype(np.float32)
    z_mesh = 50.0 - rs.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    z_model = scene.ground_z(xs, ys)
    assert np.allclose(z_mesh, z_model, atol=0.01)
    assert z_model[0] - z_model[2] == pytest.approx(p.camber * 0.95 * half, abs=1e-3)  # falls to the curb
    assert z_model[4] > z_model[3] + 0.1  # the sidewalk is curb-raised


def test_queued_traffic_puts_vehicles_beside_the_ego():
    scenes = [generate_scene(0, s, 2.0) for s in range(40)]
    jams = [s for s in scenes if s.meta["jam"]]
    assert 0 < len(jams) < len(scenes) / 2
    for scene in jams:
        ego_y = scene.ego.track[0, 1]
        beside = [
            a
            for a in scene.agents
            if a.kind in ("sedan", "van", "truck")
            and abs(a.track[0, 1] - ego_y) < 1.5 * LANE_WIDTH
            and abs(a.track[0, 0]) < 15.0
            and abs(a.track[0, 1] - ego_y) > 0.5 * LANE_WIDTH
        ]
        assert beside, scene.meta  # a vehicle in the neighbouring lane within 15 m
        ahead = [a for a in scene.agents if abs(a.track[0, 1] - ego_y) < 1.0 and 0 < a.track[0, 0] < 16.0]
        assert ahead and all(
            a.track[-1, 0] - a.track[0, 0]
            == pytest.approx(scene.ego.track[-1, 0] - scene.ego.track[0, 0], abs=0.5)
            for a in ahead
        )  # the queue moves with the ego


def test_scans_hold_street_furniture():
    f = SequenceSimulator("hdl64e", frames=1, seed=0, sequence=2).frame(0)
    assert np.any(f.classes == CLASS_ID["other-object"])


def test_pedestrians_vary_in_pose_and_carry_bags():
    rng = np.random.default_rng(0)
    peds = [meshes.pedestrian(rng) for _ in range(60)]
    size = np.array([hi - lo for lo, hi in (p.extent for p in peds)])
    assert size[:, 0].max() > 0.5 and size[:, 0].min() < 0.35  # mid-stride and standing
    assert np.all((size[:, 2] > 1.45) & (size[:, 2] < 2.0))
    parts = {len(p.triangles) for p in peds}
    assert len(parts) == 2  # with and without a bag (a backpack or one in a hand)
    assert all((p.tri_class == CLASS_ID["pedestrian"]).all() for p in peds)


def _lone_car_scan(lateral: float, seed: int = 2):
    """A LiDAR scan (with per-return features) of one sedan parked ``lateral`` m to the left of the
    sensor, broadside, in the scene of ``seed`` with every other agent removed."""
    from dataclasses import replace

    from simulation.raycast import FrameGeometry
    from simulation.scene import Agent

    sim = SequenceSimulator("hdl64e", frames=1, seed=seed)
    pos, yaw = sim.sensor_pose(0.0)
    mesh = meshes.vehicle("sedan", np.random.default_rng(seed))
    lo, hi = mesh.extent
    x, y = pos[0] - lateral * np.sin(yaw), pos[1] + lateral * np.cos(yaw)
    car = Agent("sedan", mesh, 1, np.tile([x, y, yaw], (2, 1)), 1.0, tuple(float(v) for v in hi - lo))
    scene = replace(sim.scene, agents=[car])
    lidar = LidarSimulator(sim.sensor, noise=False)
    lidar.keep_features = True
    return lidar.scan(FrameGeometry(scene, 0.0), pos, yaw, np.random.default_rng(0))


def test_rays_pass_through_car_windows_to_the_cabin():
    scan = _lone_car_scan(6.0)
    on_car = scan.instances == 1
    mat = scan.features["material"][on_car]
    assert on_car.sum() > 500
    assert np.mean(mat == MATERIAL_ID["cloth"]) > 0.05  # seats and dashboard seen through the glass
    # glass itself returns only near normal incidence: a few of the car's points at most
    assert np.mean(mat == MATERIAL_ID["glass"]) < 0.1


def test_generate_builds_each_sequence_scene_once(tmp_path, monkeypatch):
    """Frames of a sequence are made in chunks of up to 10; the sequence's scene is made once."""
    from simulation import dataset, sequence

    calls = []
    real = sequence.generate_scene
    monkeypatch.setattr(sequence, "generate_scene", lambda *a, **k: calls.append(a) or real(*a, **k))
    dataset.generate_dataset(tmp_path / "out", frames=21, seed=0, camera=False, progress=False)
    assert len(calls) == 1
    assert len(list((tmp_path / "out").rglob("*.bin"))) == 21
    assert not dataset._LAST_SIMULATOR  # the scene is freed when the run ends


def test_cyclists_pedal_and_lean_forward():
    rng = np.random.default_rng(1)
    lowest = []
    for _ in range(8):
        m = meshes.cyclist(rng)
        rider = m.vertices[np.unique(m.triangles[m.tri_class == CLASS_ID["bicyclist"]])]
        bike = m.vertices[np.unique(m.triangles[m.tri_class == CLASS_ID["bicycle"]])]
        centre_x = (bike[:, 0].min() + bike[:, 0].max()) / 2
        assert 0.1 < rider[:, 2].min() < 0.6  # feet down at the pedals
        head = rider[np.argmax(rider[:, 2])]
        assert head[0] > centre_x - 0.05  # leaning forward over the frame
        lowest.append(rider[:, 2].min())
    assert np.ptp(lowest) > 0.05  # riders caught at different crank angles
