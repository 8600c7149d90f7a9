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
_ASPHALT = MATERIAL_ID["asphalt"]


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


def pack_rays(origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(R, 6) float32 C-contiguous rays [ox, oy, oz, dx, dy, dz], the layout Open3D casts in place."""
    rays = np.empty((len(directions), 6), np.float32)
    rays[:, :3] = origins
    rays[:, 3:] = directions
    return rays


@dataclass
class Hits:
    """Result of casting R rays: distance (inf = no return), ids and the surface normal."""

    t: np.ndarray  # (R,) float32
    hit: np.ndarray  # (R,) bool
    cls: np.ndarray  # (R,) uint8 fine class, 0 where no hit
    material: np.ndarray  # (R,) uint8, MARKING on road paint
    instance: np.ndarray  # (R,) uint16, 0 for static scenery or no hit
    normal: np.ndarray  # (R, 3) float32 world-frame unit normals


def static_raycaster(scene: Scene) -> o3d.t.geometry.RaycastingScene:
    """The Open3D scene of ``scene``'s static mesh, built once per scene and shared by its frames
    (its BVH is built on the first cast; rebuilding it every frame cost more than the casting)."""
    rs = scene.cache.get("static_raycaster")
    if rs is None:
        rs = o3d.t.geometry.RaycastingScene()
        rs.add_triangles(scene.static.vertices, scene.static.triangles.astype(np.uint32))
        scene.cache["static_raycaster"] = rs
    return rs


class FrameGeometry:
    """The scene at time ``t``, ready for ray casting: the shared static scene (geometry 0) and the
    agents posed at ``t`` in a small per-frame scene (``raycaster``, geometry k = agent k - 1); a ray's
    first hit is the nearer of the two."""

    def __init__(self, scene: Scene, t: float):
        self.scene = scene
        self.static_raycaster = static_raycaster(scene)
        self.raycaster = o3d.t.geometry.RaycastingScene()  # the agents only
        tri_class, tri_material, offsets, instances = [], [], [], []
        count = 0
        parts = [(scene.static, 0)]
        self.agent_meshes = {}
        for agent in scene.agents:
            x, y, yaw = agent.pose(t)
            mesh = agent.mesh.transformed(yaw, (x, y, scene.agent_z(x, y)))
            self.agent_meshes[agent.instance] = mesh
            parts.append((mesh, agent.instance))
        self._meshes = [mesh for mesh, _ in parts]
        self._planes: tuple[np.ndarray, np.ndarray] | None = None
        for k, (mesh, inst) in enumerate(parts):
            if k > 0:
                gid = self.raycaster.add_triangles(mesh.vertices, mesh.triangles.astype(np.uint32)) + 1
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
        self._tri_start = self.offsets.astype(np.intp)  # gathers index with intp without a conversion

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> Hits:
        """Cast rays (origins (R, 3) or (3,), unit directions (R, 3)) in the world frame."""
        return self.cast_packed(pack_rays(origins, directions))

    def cast_packed(self, rays: np.ndarray) -> Hits:
        """:meth:`cast` for rays already packed as :func:`pack_rays` does. Open3D reads the array in
        place and its results are viewed, not copied, so a caller casting the same number of rays
        every frame can refill one buffer instead of building new arrays each time."""
        ans = self._cast_rays(rays)
        t, gid, tri = self._first_hits(ans)
        material = self.tri_material[tri]
        material[self._paint(rays, t, material)] = MARKING
        normal = ans["primitive_normals"]
        return Hits(t, np.isfinite(t), self.tri_class[tri], material, self.instances[gid], normal)

    def _cast_rays(self, rays: np.ndarray) -> dict:
        """Open3D's ``cast_rays`` answer (as NumPy arrays) for the static and the agents' scenes
        together: per ray the nearer hit, agents' geometry ids shifted by one."""
        tensor = o3d.core.Tensor.from_numpy(rays)
        a = self.static_raycaster.cast_rays(tensor)
        out = {k: a[k].numpy() for k in ("t_hit", "geometry_ids", "primitive_ids", "primitive_normals")}
        if len(self.offsets) <= 2:  # no agents
            return out
        b = self.raycaster.cast_rays(tensor)
        tb = b["t_hit"].numpy()
        near = np.flatnonzero(tb < out["t_hit"])
        if len(near):
            out["t_hit"][near] = tb[near]
            out["geometry_ids"][near] = b["geometry_ids"].numpy()[near] + 1
            out["primitive_ids"][near] = b["primitive_ids"].numpy()[near]
            out["primitive_normals"][near] = b["primitive_normals"].numpy()[near]
        return out

    def cast_triangles(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First hits of packed rays as ``(t, tri, paint)``: distance (inf = no hit), index of the
        triangle hit into ``tri_class``/``tri_material`` (the sentinel last index for no hit), and
        the indices of the rays that hit road paint. Less work than :meth:`cast_packed` for a caller
        that looks its per-pixel values up in per-triangle tables (the camera)."""
        ans = self._cast_rays(rays)
        t, _, tri = self._first_hits(ans)
        return t, tri, self._paint(rays, t, self.tri_material[tri])

    def _first_hits(self, ans: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, geometry index, triangle index) of Open3D's ``cast_rays`` answer; a ray that hits
        nothing (ids 2**32 - 1) gets the sentinel geometry and triangle."""
        t = ans["t_hit"]
        sentinel = len(self.tri_class) - 1
        gid = np.minimum(ans["geometry_ids"], len(self.offsets) - 1)
        tri = self._tri_start[gid]
        tri += ans["primitive_ids"]
        np.minimum(tri, sentinel, out=tri)
        return t, gid, tri

    def _paint(self, rays: np.ndarray, t: np.ndarray, material: np.ndarray) -> np.ndarray:
        """Indices of the rays whose asphalt hit lies on road-marking paint."""
        road = np.flatnonzero(material == _ASPHALT)  # a miss has the sentinel's material 0
        r, tr = rays[road], t[road]
        x = r[:, 3] * tr
        x += r[:, 0]
        y = r[:, 4] * tr
        y += r[:, 1]
        return road[self.scene.marking(x, y)]

    def triangle_planes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit normals (T + 1, 3) float32 of all triangles, in ``tri_class`` order, and their plane
        offsets n . v0 (T + 1,); the sentinel row is zero. Normals follow the triangles' winding, so
        a caller wanting the side facing a viewer flips them by the sign of n . viewer - offset.
        Computed on first use: the LiDAR does not need them."""
        if self._planes is None:
            static = self.scene.cache.get("static_planes")
            if static is None:  # the static mesh's planes are the same in every frame
                static = self.scene.cache["static_planes"] = _planes([self._meshes[0]])
            agents = _planes(self._meshes[1:])
            self._planes = (
                np.concatenate([static[0], agents[0], np.zeros((1, 3), np.float32)]),
                np.concatenate([static[1], agents[1], np.zeros(1, np.float32)]),
            )
        return self._planes

    def occluded_packed(self, rays: np.ndarray) -> np.ndarray:
        """:meth:`occluded` for rays packed as :func:`pack_rays` does (each its own direction)."""
        tensor = o3d.core.Tensor.from_numpy(rays)
        hit = self.static_raycaster.test_occlusions(tensor).numpy()
        if len(self.offsets) > 2:
            hit |= self.raycaster.test_occlusions(tensor).numpy()
        return hit

    def occluded(self, origins: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """(R,) bool: does anything lie along ``direction`` (one unit vector) from each origin?"""
        return self.occluded_packed(pack_rays(origins, np.broadcast_to(direction, (len(origins), 3))))


def _planes(meshes: list) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (T, 3) float32 and plane offsets (T,) of the triangles of ``meshes``, in order."""
    if not meshes:
        return np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
    starts = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    tris = np.concatenate([m.triangles for m in meshes]).T.astype(np.intp)  # (3, T), one per corner
    tris += np.repeat(starts, [len(m.triangles) for m in meshes])
    v = np.concatenate([m.vertices for m in meshes]).T.astype(np.float64)  # (3, V): x, y, z rows
    p0, p1, p2 = (np.array([c[corner] for c in v]) for corner in tris)  # (3, T) each
    e1, e2 = p1 - p0, p2 - p0
    n = np.array(
        [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]]
    )
    n /= np.maximum(np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2), 1e-30)
    return n.T.astype(np.float32), (n[0] * p0[0] + n[1] * p0[1] + n[2] * p0[2]).astype(np.float32)
