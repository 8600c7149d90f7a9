"""Camera shading shortcuts checked against the direct per-pixel computation: per-triangle lighting
tables, shadow rays only where the row samples disagree, reused ray buffers; and the ray-cast
wrappers they rely on (packed rays, triangle ids, planes)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulation.camera import CameraSimulator, _surface_tables
from simulation.camera_style import draw_style
from simulation.raycast import FrameGeometry, pack_rays
from simulation.sequence import SequenceSimulator


@pytest.fixture(scope="module")
def scene():
    """A street with traffic, its geometry at t = 0.4 s, the sensor pose and a camera."""
    sim = SequenceSimulator("hdl64e", frames=10, seed=3)
    pos, yaw = sim.sensor_pose(0.4)
    return sim, FrameGeometry(sim.scene, 0.4), pos, yaw


@pytest.fixture(scope="module")
def camera(scene):
    """A camera in the scene's sunny style without lens blur or sensor noise, so that shading
    shortcuts can be compared pixel by pixel."""
    style = replace(draw_style(3, 0), sun=4.0, blur=0.0, noise=0.0)
    return CameraSimulator(scene[0].calib, style=style)


@pytest.fixture(scope="module")
def pixel_hits(scene, camera):
    """The camera's world-frame rays for the pose and their hits through the general wrapper."""
    _, geometry, pos, yaw = scene
    eye, _, _ = camera._fill_rays(pos, yaw)
    rays = camera._rays.copy()
    return eye, rays, geometry.cast(rays[:, :3], rays[:, 3:])


def test_cast_wrappers_agree_and_misses_have_no_labels(scene, pixel_hits):
    _, geometry, _, _ = scene
    _, rays, hits = pixel_hits
    assert 0.5 < hits.hit.mean() < 0.98  # street and sky in view
    packed = geometry.cast_packed(rays)
    for field in ("t", "hit", "cls", "material", "instance", "normal"):
        assert np.array_equal(getattr(packed, field), getattr(hits, field)), field
    t, tri, paint = geometry.cast_triangles(rays)
    assert np.array_equal(t, hits.t)
    assert np.array_equal(geometry.tri_class[tri], hits.cls)
    assert len(paint) > 100 and np.all(hits.material[paint] == 255)  # road markings in view
    miss = ~hits.hit
    assert np.all(hits.cls[miss] == 0) and np.all(hits.material[miss] == 0)
    assert np.all(hits.instance[miss] == 0) and np.all(tri[miss] == len(geometry.tri_class) - 1)


def test_triangle_planes_match_open3d_normals_and_hit_points(scene, pixel_hits):
    _, geometry, _, _ = scene
    _, rays, hits = pixel_hits
    _, tri, _ = geometry.cast_triangles(rays)
    normal, plane = geometry.triangle_planes()
    h = np.flatnonzero(hits.hit)
    cos = np.einsum("ij,ij->i", normal[tri[h]], hits.normal[h])
    assert np.all(np.abs(cos) > 1 - 1e-5)  # same normal up to orientation
    p = rays[h, :3] + rays[h, 3:] * hits.t[h, None]
    off = np.einsum("ij,ij->i", normal[tri[h]], p) - plane[tri[h]]
    assert np.percentile(np.abs(off), 99) < 1e-3  # the hit point lies on the triangle's plane


def test_per_triangle_light_equals_per_pixel_lambert(scene, camera, pixel_hits):
    """The tables' light is the per-pixel formula: normal turned to face the camera, sky light by
    how much the surface faces up, plus the sun's Lambert term; glass takes no sun (it reflects)."""
    _, geometry, _, _ = scene
    eye, rays, hits = pixel_hits
    _, tri, _ = geometry.cast_triangles(rays)
    style = camera.style
    tables = _surface_tables(geometry, eye, camera.look(style))
    h = np.flatnonzero(hits.hit)
    n = hits.normal[h] * -np.sign(np.einsum("ij,ij->i", hits.normal[h], rays[h, 3:]))[:, None]
    diffuse = np.clip(n @ camera.sun, 0.0, 1.0)
    shade = style.ambient * (0.55 + 0.45 * n[:, 2])
    # 2e-4: float32 normals of thin triangles (Open3D's and the tables') differ by about 1e-4
    np.testing.assert_allclose(tables.shade[tri[h]], shade, atol=2e-4)
    np.testing.assert_allclose(tables.light[tri[h]], shade + style.sun * diffuse, atol=2e-4)
    assert np.array_equal(tables.sunlit[tri[h]], (diffuse > 0) & (hits.material[h] != 11))


def test_row_sampled_shadows_match_a_ray_per_pixel(scene, camera):
    sim, geometry, pos, yaw = scene
    style = camera.style
    exact = CameraSimulator(sim.calib, style=style, shadow_step=1).render(geometry, pos, yaw)
    fast = CameraSimulator(sim.calib, style=style, shadow_step=4).render(geometry, pos, yaw)
    flat = CameraSimulator(sim.calib, style=style, shadows=False).render(geometry, pos, yaw)
    shadowed = np.abs(exact.astype(int) - flat).max(axis=2) > 8
    assert shadowed.mean() > 0.02  # the scene has shadows worth checking
    differ = np.abs(exact.astype(int) - fast).max(axis=2) > 1
    # thin shadow slivers between two samples at most: dappled shade under the porous crowns
    # (leaf-clump triangles) is finer than the 4-pixel samples, so about 0.3% of an image differs
    assert differ.mean() < 0.005, differ.sum()
    with pytest.raises(ValueError):
        CameraSimulator(sim.calib, shadow_step=0)


def test_buffers_reused_across_frames_leave_no_trace(scene, camera):
    """Rendering another pose (and a smaller scene) in between does not change a frame's image."""
    sim, geometry, pos, yaw = scene
    first = camera.render(geometry, pos, yaw)
    pos2, yaw2 = sim.sensor_pose(0.9)
    other = camera.render(FrameGeometry(sim.scene, 0.9), pos2, yaw2 + 0.5)
    assert np.abs(other.astype(int) - first).mean() > 5
    assert np.array_equal(camera.render(geometry, pos, yaw), first)


def test_pack_rays_layout():
    rays = pack_rays(np.array([1.0, 2.0, 3.0]), np.eye(3))
    assert rays.dtype == np.float32 and rays.flags.c_contiguous
    assert np.array_equal(rays, np.c_[np.tile([1.0, 2.0, 3.0], (3, 1)), np.eye(3)])
