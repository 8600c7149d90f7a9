"""Pinhole camera ray casting with KITTI-like intrinsics and extrinsics, and a shaded RGB image
(per-material colours and procedural textures, road markings, sun lighting with cast shadows,
sky and haze), plus the KITTI calibration that relates camera and LiDAR."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from simulation.classes import MATERIAL_COLOR, MATERIAL_ID, MATERIALS, PER_INSTANCE_COLOR
from simulation.raycast import MARKING, FrameGeometry
from squeezeseg.calib import KittiCalib

IMAGE_SIZE = (1242, 375)  # (width, height) of KITTI's colour camera
_FX, _CX, _CY = 721.5377, 609.5593, 172.854
_PALETTE = np.array(
    [  # car paints and clothing colours, picked by instance id
        [0.75, 0.75, 0.78],
        [0.1, 0.1, 0.12],
        [0.55, 0.05, 0.05],
        [0.05, 0.15, 0.45],
        [0.85, 0.85, 0.85],
        [0.35, 0.36, 0.38],
        [0.12, 0.3, 0.15],
        [0.6, 0.5, 0.3],
        [0.8, 0.6, 0.1],
        [0.25, 0.1, 0.3],
    ],
    np.float32,
)
_TEXTURE_KINDS = ("flat", "noise", "road", "windows")
_FLAT, _NOISE, _ROAD, _WINDOWS = range(4)
# Surface codes of the shading tables: the materials, then road paint (MARKING) as one more code.
_PAINT_CODE = len(MATERIALS)
_N_CODES = len(MATERIALS) + 1
_PAINT_COLOR = (0.88, 0.88, 0.85)
_TEXTURE_CODE = np.array([_TEXTURE_KINDS.index(m.texture) for m in MATERIALS] + [_NOISE], np.uint8)
_SURFACE_CODE = np.minimum(np.arange(256), len(MATERIALS) - 1).astype(np.uint8)  # material id -> code
_SURFACE_CODE[MARKING] = _PAINT_CODE
_PER_INSTANCE = np.isin(np.arange(len(MATERIALS)), PER_INSTANCE_COLOR)
_GLASS = MATERIAL_ID["glass"]
_SHADOW_OFFSET = 0.03  # shadow rays start this far (m) off the surface, towards the camera's side
_HORIZON = np.array([0.78, 0.84, 0.9], np.float32)
_ZENITH = np.array([0.35, 0.55, 0.85], np.float32)


def kitti_calibration(image_size: tuple[int, int] = IMAGE_SIZE) -> KittiCalib:
    """A KITTI-like calibration: camera 0 about 0.27 m ahead of and 0.08 m below the LiDAR, looking
    along +x, rectification identity, colour camera 2 about 6 cm left of camera 0 (KITTI's P2)."""
    K = np.array([[_FX, 0.0, _CX], [0.0, _FX, _CY], [0.0, 0.0, 1.0]])
    P = {}
    for i, tx in enumerate((0.0, -0.537, 0.0622, -0.4753)):  # baselines of KITTI cameras 0-3 (m)
        P[f"P{i}"] = np.hstack([K, K @ np.array([[tx], [0.0], [0.0]])])
    Tr = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, -0.08], [1.0, 0.0, 0.0, -0.27]])
    return KittiCalib(P2=P["P2"], R0_rect=np.eye(3), Tr_velo_to_cam=Tr, P=P, image_size=image_size)


def pixel_rays(calib: KittiCalib, image_size: tuple[int, int] = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Origin (3,) and unit directions (H*W, 3) of camera 2's pixel rays in the LiDAR frame."""
    W, H = image_size
    M, p4 = calib.P2[:, :3], calib.P2[:, 3]
    Minv = np.linalg.inv(M)
    center_rect = -Minv @ p4
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    d_rect = pix @ Minv.T
    T = calib.rect_to_velo
    d = d_rect @ T[:3, :3].T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    origin = T[:3, :3] @ center_rect + T[:3, 3]
    return origin.astype(np.float32), d.astype(np.float32)


def _hash_noise(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray) -> np.ndarray:
    """Deterministic value noise in [0, 1) from int32 cell coordinates (wrapping uint32 hash)."""
    h = ix.view(np.uint32) * np.uint32(73856093)
    tmp = iy.view(np.uint32) * np.uint32(19349663)
    h ^= tmp
    np.multiply(iz.view(np.uint32), np.uint32(83492791), out=tmp)
    h ^= tmp
    h *= np.uint32(2654435761)
    h >>= np.uint32(20)
    out = h.astype(np.float32)
    out *= np.float32(1.0 / 4096.0)
    return out


_POOL: ThreadPoolExecutor | None = None


def _shading_pool() -> ThreadPoolExecutor:
    """One worker thread, shared by all cameras of the process, that shades half of each image."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camera-shading")
    return _POOL


def colour_table(max_instance: int) -> np.ndarray:
    """((max_instance + 1) * 17, 3) float32 base colours indexed by ``instance * 17 + code`` (code: the
    material id, or 16 for road paint). Paint and clothing take a palette colour picked by instance
    and material; everything else its material colour."""
    inst = np.arange(max_instance + 1)[:, None]
    m = np.arange(len(MATERIALS))[None, :]
    table = np.empty((max_instance + 1, _N_CODES, 3), np.float32)
    table[:, :_PAINT_CODE] = MATERIAL_COLOR
    table[:, _PAINT_CODE] = _PAINT_COLOR
    own = _PER_INSTANCE[None, :] & (inst > 0)
    table[:, :_PAINT_CODE][own] = _PALETTE[((inst * 7 + m) % len(_PALETTE))[own]]
    return table.reshape(-1, 3)


@dataclass
class _SurfaceTables:
    """Per-triangle shading of one frame seen from one camera position, for lookups by the hit
    triangle's index: T triangles, the sentinel (no hit), and one extra row for road paint.

    The flat shading makes this exact: a triangle's normal, and which side of it the camera sees,
    are the same at every pixel it covers, so the sun's Lambert term is per triangle."""

    rgb: tuple[np.ndarray, np.ndarray, np.ndarray]  # (T + 2,) base colour channels, 0-255 scale
    kind: np.ndarray  # (T + 2,) uint8 texture kind
    light: np.ndarray  # (T + 1,) light factor in full sun
    sunlit: np.ndarray  # (T + 1,) bool: faces the sun, so a shadow ray decides
    lift: tuple[np.ndarray, np.ndarray, np.ndarray]  # (T + 1,) x, y, z of the shadow rays' start
    # offset from the surface: the camera-facing normal * 3 cm


def _surface_tables(geometry: FrameGeometry, eye: np.ndarray, sun: np.ndarray) -> _SurfaceTables:
    """Shading tables of ``geometry``'s triangles seen from ``eye`` (world frame)."""
    normal, plane = geometry.triangle_planes()
    n = normal.astype(np.float64)
    facing = np.sign(n @ eye.astype(np.float64) - plane)  # +1 where the camera sees the front face
    n *= facing[:, None]
    lambert = np.clip(n @ sun.astype(np.float64), 0.0, 1.0).astype(np.float32)
    code = np.append(_SURFACE_CODE[geometry.tri_material], np.uint8(_PAINT_CODE))
    code[-2] = 0  # the sentinel
    glass = code[:-1] == _GLASS
    light = np.where(glass, 0.6 + 0.4 * np.abs(normal[:, 2]), 0.45 + 0.75 * lambert)  # glass mirrors the sky
    counts = np.diff(geometry.offsets.astype(np.intp))
    inst = np.append(np.repeat(geometry.instances[:-1].astype(np.intp), counts), [0, 0])
    rgb = colour_table(int(inst.max()))[inst * _N_CODES + code] * np.float32(255.0)
    return _SurfaceTables(
        rgb=tuple(np.ascontiguousarray(rgb[:, c]) for c in range(3)),
        kind=_TEXTURE_CODE[code],
        light=light.astype(np.float32),
        sunlit=(lambert > 0) & ~glass,
        lift=tuple(np.ascontiguousarray(n[:, k] * _SHADOW_OFFSET, np.float32) for k in range(3)),
    )


class CameraSimulator:
    """Renders camera 2 of a :func:`kitti_calibration` rig mounted with the LiDAR.

    Per-frame work is kept low by work done once (the pixel rays, which depend only on the
    intrinsics; the sky, which depends only on a ray's elevation, unchanged by the rig's yaw; the
    ray buffers, refilled in place) and by per-triangle lookup tables (:class:`_SurfaceTables`)
    instead of per-pixel vector arithmetic. Arrays are one per component (contiguous): NumPy is
    several times slower on the columns of (N, 3) arrays."""

    def __init__(
        self,
        calib: KittiCalib | None = None,
        image_size: tuple[int, int] = IMAGE_SIZE,
        sun=(0.4, -0.3, 0.85),
        shadows: bool = True,
        shadow_step: int = 4,
    ):
        self.calib = calib or kitti_calibration(image_size)
        self.image_size = image_size
        self.origin, self.directions = pixel_rays(self.calib, image_size)
        sun = np.asarray(sun, np.float32)
        self.sun = sun / np.linalg.norm(sun)
        self.shadows = shadows
        if shadow_step < 1:
            raise ValueError(f"shadow_step must be at least 1, got {shadow_step}")
        self.shadow_step = int(shadow_step)
        W, H = image_size
        self._samples = (np.arange(H)[:, None] * W + np.arange(0, W, shadow_step)).ravel()
        self._dx, self._dy, self._dz = (np.ascontiguousarray(self.directions[:, k]) for k in range(3))
        self._rays = np.empty((len(self.directions), 6), np.float32)
        self._rays[:, 5] = self._dz
        self._shadow_rays = np.empty((len(self.directions), 6), np.float32)
        self._shadow_rays[:, 3:] = self.sun
        sky = self._sky(self.directions) * np.float32(255.0) + np.float32(0.5)
        self._sky_rgb = tuple(np.ascontiguousarray(sky[:, c]) for c in range(3))

    def render(self, geometry: FrameGeometry, position: np.ndarray, yaw: float) -> np.ndarray:
        """(H, W, 3) uint8 image seen from the LiDAR at world ``position`` heading ``yaw``."""
        eye, dx, dy = self._fill_rays(position, yaw)
        t, tri, paint = geometry.cast_triangles(self._rays)
        tables = _surface_tables(geometry, eye, self.sun)
        np.minimum(t, np.float32(1e4), out=t)  # no inf: misses get the sky below
        p = (dx * t + eye[0], dy * t + eye[1], self._dz * t + eye[2])
        light = tables.light[tri]
        if self.shadows:
            self._cast_shadows(geometry, tables, tri, t, p, light)
        surface = tri.copy()
        surface[paint] = len(tables.kind) - 1
        W, H = self.image_size
        img = np.empty((H * W, 3), np.uint8)
        half = len(tri) // 2  # NumPy releases the GIL in its loops: the two halves use both cores
        other = _shading_pool().submit(self._compose, tables, surface, t, p, light, img, slice(half, None))
        self._compose(tables, surface, t, p, light, img, slice(0, half))
        other.result()
        return img.reshape(H, W, 3)

    def _compose(
        self,
        tables: _SurfaceTables,
        surface: np.ndarray,
        t: np.ndarray,
        p: tuple,
        light: np.ndarray,
        img: np.ndarray,
        part: slice,
    ) -> None:
        """Texture, haze and sky of the pixels ``part``, written into those rows of ``img``."""
        surface, t, light = surface[part], t[part], light[part]
        light *= self._texture(tables.kind[surface], tuple(c[part] for c in p))
        fog = np.minimum(t * np.float32(1 / 300.0), np.float32(1.0))  # linear haze
        light *= 1.0 - fog
        sky = surface == len(tables.light) - 1  # the sentinel: no hit
        for c in range(3):
            v = tables.rgb[c][surface]
            v *= light
            v += fog * (_HORIZON[c] * np.float32(255.0)) + np.float32(0.5)
            np.copyto(v, self._sky_rgb[c][part], where=sky)
            np.minimum(v, np.float32(255.0), out=v)
            img[part, c] = v

    def _fill_rays(self, position: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Write the frame's world-frame pixel rays into the reused (H*W, 6) buffer: the rig turned
        by ``yaw`` about z (z components stay) and moved to ``position``. Returns the camera
        centre and the x and y direction components (contiguous copies)."""
        c, s = np.float32(np.cos(yaw)), np.float32(np.sin(yaw))
        dx = c * self._dx
        dx -= s * self._dy
        dy = s * self._dx
        dy += c * self._dy
        ox, oy, oz = self.origin
        eye = np.array([c * ox - s * oy, s * ox + c * oy, oz], np.float32) + np.asarray(position, np.float32)
        rays = self._rays
        rays[:, 3], rays[:, 4] = dx, dy
        for k in range(3):
            rays[:, k] = eye[k]
        return eye, dx, dy

    def _cast_shadows(
        self,
        geometry: FrameGeometry,
        tables: _SurfaceTables,
        tri: np.ndarray,
        t: np.ndarray,
        p: tuple,
        light: np.ndarray,
    ) -> None:
        """Turn ``light`` to the shade level where a ray from a sunlit surface to the sun is blocked.

        With ``shadow_step`` s > 1, shadow rays go first to every s-th pixel of each row; a pixel
        between two such samples that agree, on a surface at about their distance, takes their
        answer, and only the others (shadow edges, object outlines) get rays of their own: about
        30% of the rays at s = 4. What it can miss is a shadow (or a gap of sun) narrower than s
        pixels across falling between two samples: about ten pixels of an image at s = 4. Rows are
        sampled fully because distant shadows are squeezed into thin horizontal strips."""
        sunlit = tables.sunlit[tri]
        blocked = np.zeros(len(tri), bool)
        if self.shadow_step <= 1:
            lit = np.flatnonzero(sunlit)
            blocked[lit] = self._shadow_test(geometry, tables, tri, p, lit)
        else:
            samples = self._samples[sunlit[self._samples]]
            blocked[samples] = self._shadow_test(geometry, tables, tri, p, samples)
            guess, known = self._guess_between_samples(sunlit, blocked, t)
            rest = np.flatnonzero(sunlit & ~known)
            blocked[rest] = self._shadow_test(geometry, tables, tri, p, rest)
            guess &= sunlit
            blocked |= guess
        light[blocked] = np.float32(0.45)

    def _shadow_test(
        self, geometry: FrameGeometry, tables: _SurfaceTables, tri: np.ndarray, p: tuple, idx: np.ndarray
    ) -> np.ndarray:
        """(len(idx),) bool: is the sun hidden from the surface points of pixels ``idx``?"""
        if not len(idx):
            return np.zeros(0, bool)
        rays = self._shadow_rays[: len(idx)]
        tri_idx = tri[idx]
        for k in range(3):
            np.add(p[k][idx], tables.lift[k][tri_idx], out=rays[:, k])
        return geometry.occluded_packed(rays)

    def _guess_between_samples(
        self, sunlit: np.ndarray, blocked: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(guess, known), (N,) bool each, from the samples' shadow answers in ``blocked``: ``known``
        marks the samples and each pixel between two neighbouring sunlit samples of its row that
        agree, if its distance is within 5% (+ 10 cm) of both samples'; ``guess`` is their answer."""
        W, H = self.image_size
        st = self.shadow_step
        wc = (W - 1) // st + 1  # samples per row
        wr = (wc - 1) * st  # pixels of a row between two samples
        lit_s, blk_s, t_s = (a.reshape(H, W)[:, ::st] for a in (sunlit, blocked, t))
        agree = lit_s[:, :-1] & lit_s[:, 1:] & (blk_s[:, :-1] == blk_s[:, 1:])
        t_lo = np.minimum(t_s[:, :-1], t_s[:, 1:])[..., None]
        t_hi = np.maximum(t_s[:, :-1], t_s[:, 1:])[..., None]
        tp = t.reshape(H, W)[:, :wr].reshape(H, wc - 1, st)
        near = (tp * np.float32(1.05) + np.float32(0.1) > t_hi) & (
            tp * np.float32(0.95) - np.float32(0.1) < t_lo
        )
        near &= agree[..., None]
        known = np.zeros((H, W), bool)
        guess = np.zeros((H, W), bool)
        known[:, :wr] = near.reshape(H, wr)
        guess[:, :wr] = (near & blk_s[:, :-1, None]).reshape(H, wr)
        known[:, ::st] = True
        return guess.ravel(), known.ravel()

    def _sky(self, d: np.ndarray) -> np.ndarray:
        up = np.clip(d[:, 2:3], 0.0, 1.0)
        return _HORIZON + (_ZENITH - _HORIZON) * np.sqrt(up) * 1.5

    @staticmethod
    def _texture(kind: np.ndarray, p: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Brightness factor of procedural textures: grain (also on facades, between their
        windows), asphalt speckle, facade windows."""
        f = np.ones(len(kind), np.float32)
        grain = np.flatnonzero((kind == _NOISE) | (kind == _WINDOWS))
        q = [c[grain] for c in p]
        noise = _hash_noise(*_cells(q, 4.0))
        noise *= np.float32(0.2)
        noise += np.float32(0.9)
        f[grain] = noise
        win = np.flatnonzero(kind[grain] == _WINDOWS)
        if len(win):
            x, y, z = (c[win] for c in q)
            x += y
            along = np.mod(x, np.float32(3.0))
            up = np.mod(z, np.float32(3.2))
            glass = (along > 0.8) & (along < 2.2) & (up > 1.0) & (up < 2.5)
            f[grain[win[glass]]] = 0.35
        road = np.flatnonzero(kind == _ROAD)
        fine = _cells([c[road] for c in p], 12.5)
        speckle = _hash_noise(*(c // 3 for c in fine))
        speckle *= np.float32(0.3)
        speckle += np.float32(0.7)
        speckle *= _hash_noise(*fine)
        speckle *= np.float32(0.3)
        speckle += np.float32(0.85)
        f[road] = speckle
        return f


def _cells(q: list[np.ndarray], per_m: float) -> list[np.ndarray]:
    """Integer (int32) texture-cell coordinates, ``per_m`` cells a metre, of points (x, y, z)."""
    out = []
    for c in q:
        c = c * np.float32(per_m)
        np.floor(c, out=c)
        out.append(c.astype(np.int32))
    return out
