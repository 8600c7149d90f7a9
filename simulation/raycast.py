"""One frame of a scene compiled into an Open3D ``RaycastingScene``: the static mesh and every
agent posed at time t, each its own geometry, so a hit's geometry id gives its instance and its
primitive id gives the class and material of the exact triangle hit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from simulation.classes import MATERIAL_ID
from simulation.scene import Scene

MARKING = 255  # material id returned for painted road markings


def rotate_z(v: np.ndarray, yaw: float) -> np.ndarray:
    """(N, 3) float32 vectors turned by ``yaw`` about z. Written out rather than ``v @ R.T``: a
    (N, 3) x (3, 3) product goes through multi-threaded BLAS, which is slow for K = 3 and fights
    Open3D's threads for the cores."""
    c, s = np.float32(np.cos(yaw)), np.float32(np.sin(yaw))
    out = np.empty(v.shape, np.float32)
    x, y = v[:, 0], v[:, 1]
    np.subtract(c * x, s * y, out=out[:, 0])
    np.add(s * x, c * y, out=out[:, 1])
    out[:, 2] = v[:, 2]
    return out


@dataclass
class Hits:
    """Result of casting R rays: distance (inf = no return), ids and the surface normal."""

    t: np.ndarray  # (R,) float32
    hit: np.ndarray  # (R,) bool
    cls: np.ndarray  # (R,) uint8 fine class, 0 where no hit
    material: np.ndarray  # (R,) uint8, MARKING on road paint
    instance: np.ndarray  # (R,) uint16, 0 for static scenery or no hit
    normal: np.ndarray  # (R, 3) float32 world-frame unit normals


class FrameGeometry:
    """The scene at time ``t``, ready for ray casting."""

    def __init__(self, scene: Scene, t: float):
        self.scene = scene
        self.raycaster = o3d.t.geometry.RaycastingScene()
        tri_class, tri_material, offsets, instances = [], [], [], []
        count = 0
        parts = [(scene.static, 0)]
        self.agent_meshes = {}
        for agent in scene.agents:
            x, y, yaw = agent.pose(t)
            mesh = agent.mesh.transformed(yaw, (x, y, scene.agent_z(x, y)))
            self.agent_meshes[agent.instance] = mesh
            parts.append((mesh, agent.instance))
        for mesh, inst in parts:
            gid = self.raycaster.add_triangles(mesh.vertices, mesh.triangles.astype(np.uint32))
            if gid != len(offsets):
                raise RuntimeError("Open3D returned non-sequential geometry ids")
            offsets.append(count)
            instances.append(inst)
            tri_class.append(mesh.tri_class)
            tri_material.append(mesh.tri_material)
            count += len(mesh.triangles)
        self.tri_class = np.concatenate(tri_class + [np.zeros(1, np.uint8)])
        self.tri_material = np.concatenate(tri_material + [np.zeros(1, np.uint8)])
        self.offsets = np.asarray(offsets + [count], dtype=np.uint32)
        self.instances = np.asarray(instances + [0], dtype=np.uint16)

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> Hits:
        """Cast rays (origins (R, 3) or (3,), unit directions (R, 3)) in the world frame."""
        o = np.broadcast_to(np.asarray(origins, np.float32), directions.shape)
        rays = np.concatenate([o, directions.astype(np.float32)], axis=1)
        ans = self.raycaster.cast_rays(o3d.core.Tensor(rays))
        t = ans["t_hit"].numpy()
        gid = ans["geometry_ids"].numpy()
        pid = ans["primitive_ids"].numpy()
        hit = np.isfinite(t)
        n_geom = len(self.offsets) - 1
        gid = np.minimum(gid, n_geom).astype(np.int32)  # the invalid id (2**32 - 1) -> sentinel
        tri = np.minimum(self.offsets[gid] + pid, len(self.tri_class) - 1)
        cls = self.tri_class[tri]
        material = self.tri_material[tri]
        road = hit & (material == MATERIAL_ID["asphalt"])
        if road.any():
            p = o[road] + directions[road] * t[road, None]
            material[np.flatnonzero(road)[self.scene.marking(p[:, 0], p[:, 1])]] = MARKING
        return Hits(t, hit, cls, material, self.instances[gid], ans["primitive_normals"].numpy())

    def occluded(self, origins: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """(R,) bool: does anything lie along ``direction`` (one unit vector) from each origin?"""
        rays = np.empty((len(origins), 6), np.float32)
        rays[:, :3] = origins
        rays[:, 3:] = direction
        return self.raycaster.test_occlusions(o3d.core.Tensor(rays)).numpy()
