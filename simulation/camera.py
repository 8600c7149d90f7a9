"""Pinhole camera ray casting with KITTI-like intrinsics and extrinsics, and a shaded RGB image
(per-material colours and procedural textures, road markings, sun lighting with cast shadows,
sky and haze), plus the KITTI calibration that relates camera and LiDAR."""

from __future__ import annotations

import numpy as np

from simulation.classes import MATERIAL_COLOR, MATERIAL_ID, MATERIALS, PER_INSTANCE_COLOR
from simulation.raycast import MARKING, FrameGeometry, rotate_z
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
_TEXTURE_CODE = np.array([_TEXTURE_KINDS.index(m.texture) for m in MATERIALS], np.uint8)
_PER_INSTANCE = np.isin(np.arange(len(MATERIALS)), PER_INSTANCE_COLOR)
_GLASS = MATERIAL_ID["glass"]
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
    """Deterministic value noise in [0, 1) from integer cell coordinates (wrapping uint32 hash)."""
    h = (ix.astype(np.uint32) * np.uint32(73856093)) ^ (iy.astype(np.uint32) * np.uint32(19349663))
    h ^= iz.astype(np.uint32) * np.uint32(83492791)
    h *= np.uint32(2654435761)
    return (h >> np.uint32(20)).astype(np.float32) * np.float32(1.0 / 4096.0)


class CameraSimulator:
    """Renders camera 2 of a :func:`kitti_calibration` rig mounted with the LiDAR."""

    def __init__(
        self,
        calib: KittiCalib | None = None,
        image_size: tuple[int, int] = IMAGE_SIZE,
        sun=(0.4, -0.3, 0.85),
        shadows: bool = True,
    ):
        self.calib = calib or kitti_calibration(image_size)
        self.image_size = image_size
        self.origin, self.directions = pixel_rays(self.calib, image_size)
        sun = np.asarray(sun, np.float32)
        self.sun = sun / np.linalg.norm(sun)
        self.shadows = shadows

    def render(self, geometry: FrameGeometry, position: np.ndarray, yaw: float) -> np.ndarray:
        """(H, W, 3) uint8 image seen from the LiDAR at world ``position`` heading ``yaw``."""
        d = rotate_z(self.directions, yaw)
        o = rotate_z(self.origin[None], yaw)[0] + np.asarray(position, np.float32)
        hits = geometry.cast(o, d)
        W, H = self.image_size
        rgb = self._shade(geometry, hits, o, d)
        rgb[~hits.hit] = self._sky(d[~hits.hit])
        np.clip(rgb, 0.0, 1.0, out=rgb)
        rgb *= 255.0
        rgb += 0.5
        return rgb.astype(np.uint8).reshape(H, W, 3)

    def _sky(self, d: np.ndarray) -> np.ndarray:
        up = np.clip(d[:, 2:3], 0.0, 1.0)
        return _HORIZON + (_ZENITH - _HORIZON) * np.sqrt(up) * 1.5

    def _shade(self, geometry: FrameGeometry, hits, o: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Colour of every pixel's hit (values where nothing was hit are overwritten by the sky)."""
        t = np.where(hits.hit, hits.t, np.float32(0.0))
        p = o + d * t[:, None]
        is_mark = hits.material == MARKING
        m = np.where(is_mark, 0, hits.material)
        base = MATERIAL_COLOR[m]
        per_inst = _PER_INSTANCE[m] & (hits.instance > 0)
        pi = np.flatnonzero(per_inst)
        base[pi] = _PALETTE[(hits.instance[pi].astype(np.int32) * 7 + m[pi]) % len(_PALETTE)]
        base[is_mark] = (0.88, 0.88, 0.85)
        base *= self._texture(_TEXTURE_CODE[m], p, is_mark)[:, None]
        n = hits.normal
        n *= -np.sign(np.einsum("ij,ij->i", n, d))[:, None]  # face the camera
        diffuse = np.einsum("ij,j->i", n, self.sun)
        np.clip(diffuse, 0.0, 1.0, out=diffuse)
        if self.shadows:
            lit = np.flatnonzero(diffuse > 0)
            if len(lit):
                shaded = geometry.occluded(p[lit] + n[lit] * np.float32(0.03), self.sun)
                diffuse[lit[shaded]] = 0.0
        light = 0.45 + 0.75 * diffuse
        glass = np.flatnonzero(m == _GLASS)
        light[glass] = 0.6 + 0.4 * np.abs(n[glass, 2])  # sky reflection on glass
        base *= light[:, None]
        fog = np.minimum(t * np.float32(1 / 300.0), np.float32(1.0))[:, None]  # linear haze
        base += (_HORIZON - base) * fog
        return base

    @staticmethod
    def _texture(kind: np.ndarray, p: np.ndarray, is_mark: np.ndarray) -> np.ndarray:
        """Brightness factor of procedural textures: grain, asphalt speckle, facade windows."""
        f = np.ones(len(p), np.float32)
        grain = np.flatnonzero(kind == _NOISE)
        cell = np.floor(p[grain] * np.float32(4.0)).astype(np.int32)
        f[grain] = 0.9 + 0.2 * _hash_noise(cell[:, 0], cell[:, 1], cell[:, 2])
        road = np.flatnonzero((kind == _ROAD) & ~is_mark)
        fine = np.floor(p[road] * np.float32(12.5)).astype(np.int32)
        coarse = fine // 3
        f[road] = 0.85 + 0.3 * _hash_noise(fine[:, 0], fine[:, 1], fine[:, 2]) * (
            0.7 + 0.3 * _hash_noise(coarse[:, 0], coarse[:, 1], coarse[:, 2])
        )
        win = np.flatnonzero(kind == _WINDOWS)
        if len(win):
            q = p[win]
            along = np.mod(q[:, 0] + q[:, 1], 3.0)
            up = np.mod(q[:, 2], 3.2)
            glass = (along > 0.8) & (along < 2.2) & (up > 1.0) & (up < 2.5)
            cell = np.floor(q * np.float32(4.0)).astype(np.int32)
            f[win] = np.where(glass, 0.35, 0.9 + 0.2 * _hash_noise(cell[:, 0], cell[:, 1], cell[:, 2]))
        return f
