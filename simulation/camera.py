"""Pinhole camera ray casting with KITTI-like intrinsics and extrinsics, and a shaded RGB image,
plus the KITTI calibration that relates camera and LiDAR.

The image is rendered in linear radiance: albedo (``simulation.textures``: materials, car paint,
clothes, facades, foliage, procedural asphalt, paving, brick and paint textures) times irradiance
(sun with cast shadows and sky light, per triangle), clear-coat and glass reflections of the sky,
haze towards the horizon colour and a sky gradient; then the lens (3-tap blur, vignetting) and the
sensor (noise, exposure, white balance, gamma curve with clipped highlights). Lighting and camera
response are drawn per sequence from its seed (``simulation.camera_style``: domain randomisation
inside the renderer), so sequences look different and each renders the same way every time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from simulation.camera_style import (
    LUT_SIZE,
    CameraStyle,
    channel_scales,
    desaturate,
    draw_style,
    tone_curve,
    vignette,
)
from simulation.classes import MATERIAL_ID
from simulation.raycast import FrameGeometry
from simulation.textures import (
    BRICK,
    FLAT,
    GRAIN,
    LANE_PAINT,
    MATERIAL_KIND,
    PAINT_COLOR,
    PAVING,
    WINDOWS,
    TextureContext,
    agent_albedo,
    agent_heights,
    linear,
    static_albedo,
    surface_texture,
)
from squeezeseg.calib import KittiCalib

IMAGE_SIZE = (1242, 375)  # (width, height) of KITTI's colour camera
_FX, _CX, _CY = 721.5377, 609.5593, 172.854
_GLASS, _PAINT = MATERIAL_ID["glass"], MATERIAL_ID["paint"]
_SHADOW_OFFSET = 0.03  # shadow rays start this far (m) off the surface, towards the camera's side
_NOISE_SLACK = 8192  # the noise field is this much longer than an image; frames start it at random


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


_POOL: ThreadPoolExecutor | None = None


def _shading_pool() -> ThreadPoolExecutor:
    """One worker thread, shared by all cameras of the process, that shades half of each image."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camera-shading")
    return _POOL


@dataclass
class _Look:
    """What a style fixes for every frame of a camera, computed once: the sun, the haze colour,
    per-pixel factors from radiance to tone-curve index (vignetting x exposure x white balance x the
    blur's normalisation, one array per channel), the sky in index units, the tone curve and the
    sensor-noise field."""

    style: CameraStyle
    sun: np.ndarray  # (3,) float32 unit vector towards the sun
    horizon: np.ndarray  # (3,) float32 haze radiance
    scale: tuple[np.ndarray, np.ndarray, np.ndarray]  # (H*W,) each
    sky: tuple[np.ndarray, np.ndarray, np.ndarray]  # (H*W,) each, tone-curve index units
    lut: np.ndarray  # (LUT_SIZE,) uint8
    noise: np.ndarray  # (H*W + _NOISE_SLACK,) float32, index units


@dataclass
class _SurfaceTables:
    """Per-triangle shading of one frame seen from one camera position, for lookups by the hit
    triangle's index: T triangles, the sentinel (no hit), and one extra row for road paint.

    The flat shading makes this exact: a triangle's normal, and which side of it the camera sees,
    are the same at every pixel it covers, so its sun (Lambert) and sky-light terms are per triangle."""

    rgb: tuple[np.ndarray, np.ndarray, np.ndarray]  # (T + 2,) linear albedo per channel
    kind: np.ndarray  # (T + 2,) uint8 texture kind (simulation.textures)
    light: np.ndarray  # (T + 1,) irradiance in full sun: sky light + sun x Lambert
    shade: np.ndarray  # (T + 1,) irradiance in shadow: sky light only
    sunlit: np.ndarray  # (T + 1,) bool: faces the sun, so a shadow ray decides
    lift: tuple[np.ndarray, np.ndarray, np.ndarray]  # (T + 1,) x, y, z of the shadow rays' start
    # offset from the surface: the camera-facing normal * 3 cm


@dataclass
class _Surfaces:
    """Per-triangle albedo (one array per channel) and texture kind of a set of triangles, with
    the indices of those that reflect the sky (car paint, glass) and which are glass."""

    rgb: tuple[np.ndarray, np.ndarray, np.ndarray]
    kind: np.ndarray
    paint: np.ndarray
    glass: np.ndarray

    @classmethod
    def of(cls, albedo: np.ndarray, material: np.ndarray, up: np.ndarray) -> _Surfaces:
        """From linear albedo (T, 3), materials (T,) and the normals' |z| (T,)."""
        kind = MATERIAL_KIND[material]
        tilted = up < 0.7
        kind[(kind == PAVING) & tilted] = GRAIN  # slabs on the ground, not on walls
        kind[np.isin(kind, (WINDOWS, BRICK)) & ~tilted] = GRAIN  # windows and bricks on walls
        return cls(tuple(np.ascontiguousarray(albedo[:, c]) for c in range(3)), kind,
                   np.flatnonzero(material == _PAINT), np.flatnonzero(material == _GLASS))


def _static_surfaces(geometry: FrameGeometry, style: CameraStyle) -> _Surfaces:
    """:class:`_Surfaces` of the static mesh, the same in every frame of a scene and style
    (cached in ``scene.cache``)."""
    scene = geometry.scene
    key = ("camera_static_surfaces", style)
    out = scene.cache.get(key)
    if out is None:
        normal, plane = geometry.triangle_planes()
        n_static = int(geometry.offsets[1])
        material = geometry.tri_material[:n_static]
        albedo = static_albedo(material, normal[:n_static], plane[:n_static], style)
        out = scene.cache[key] = _Surfaces.of(albedo, material, np.abs(normal[:n_static, 2]))
    return out


def _surface_tables(geometry: FrameGeometry, eye: np.ndarray, look: _Look) -> _SurfaceTables:
    """Shading tables of ``geometry``'s triangles seen from ``eye`` (world frame) in ``look``."""
    style = look.style
    normal, plane = geometry.triangle_planes()
    facing = np.sign(normal @ eye - plane)  # +1 where the camera sees the front face
    n = normal * facing[:, None]
    lambert = np.clip(n @ look.sun, np.float32(0.0), np.float32(1.0))
    up = n[:, 2]
    shade = np.float32(0.45) * up
    shade += np.float32(0.55)
    shade *= np.float32(style.ambient)  # the share of the sky a surface sees: 1 facing up, 0.1 down
    light = shade + np.float32(style.sun) * lambert
    static = _static_surfaces(geometry, style)
    n_static = len(static.kind)
    material = geometry.tri_material[n_static:-1]
    counts = np.diff(geometry.offsets.astype(np.intp))[1:]
    inst = np.repeat(geometry.instances[1:-1].astype(np.intp), counts)
    cls = geometry.tri_class[n_static:-1]
    albedo = agent_albedo(material, inst, agent_heights(geometry.scene), style, cls)
    agents = _Surfaces.of(albedo, material, np.abs(normal[n_static:-1, 2]))
    paint = linear(desaturate(np.array(PAINT_COLOR, np.float32), style.saturation))
    tail = np.array([[0.0] * 3, paint], np.float32)  # the sentinel, road paint
    rgb = tuple(np.concatenate([static.rgb[c], agents.rgb[c], tail[:, c]]) for c in range(3))
    for group in (static, agents):
        offset = 0 if group is static else n_static
        _reflections(rgb, group.paint + offset, group.glass + offset, up, light, look)
    glass = np.zeros(len(light), bool)
    glass[static.glass] = True
    glass[agents.glass + n_static] = True
    return _SurfaceTables(
        rgb=rgb,
        kind=np.concatenate([static.kind, agents.kind, np.array([FLAT, LANE_PAINT], np.uint8)]),
        light=light,
        shade=shade,
        sunlit=(lambert > 0) & ~glass & (style.sun > 0),
        lift=tuple(np.ascontiguousarray(n[:, k] * np.float32(_SHADOW_OFFSET)) for k in range(3)),
    )


def _reflections(
    rgb: tuple[np.ndarray, ...],
    paint: np.ndarray,
    glass: np.ndarray,
    up: np.ndarray,
    light: np.ndarray,
    look: _Look,
) -> None:
    """Add the sky's reflection to car paint (a clear coat: 1.5% on the sides, which mirror the
    street more than the sky, up to 11.5% on bonnets and roofs) and glass (dark, 3-15% mirror as it
    tilts towards the sky), as extra albedo: reflected radiance / irradiance, so it survives the
    renderer's albedo x light."""
    for idx, base, tilt in ((paint, 0.015, 0.1), (glass, 0.03, 0.12)):
        if len(idx):
            refl = (base + tilt * np.clip(up[idx], 0.0, 1.0)) / np.maximum(light[idx], 0.05)
            for c in range(3):
                rgb[c][idx] += refl * look.horizon[c]


class CameraSimulator:
    """Renders camera 2 of a :func:`kitti_calibration` rig mounted with the LiDAR.

    ``style`` fixes the look (lighting, lens, sensor); None draws it per scene from the scene's
    seed and sequence (:func:`simulation.camera_style.draw_style`), so every sequence of a dataset
    has its own and a frame renders the same way every time. Sensor noise is drawn per frame from
    the style's seed and the camera pose.

    Per-frame work is kept low by work done once (the pixel rays, which depend only on the
    intrinsics; per style the sky, which depends only on a ray's elevation, unchanged by the rig's
    yaw, the vignetting and exposure factors, the tone curve and a noise field; per scene the
    static mesh's albedo; the ray buffers, refilled in place) and by per-triangle lookup tables
    (:class:`_SurfaceTables`) instead of per-pixel vector arithmetic. Arrays are one per component
    (contiguous): NumPy is several times slower on the columns of (N, 3) arrays."""

    def __init__(
        self,
        calib: KittiCalib | None = None,
        image_size: tuple[int, int] = IMAGE_SIZE,
        style: CameraStyle | None = None,
        shadows: bool = True,
        shadow_step: int = 4,
    ):
        self.calib = calib or kitti_calibration(image_size)
        self.image_size = image_size
        self.origin, self.directions = pixel_rays(self.calib, image_size)
        self.style = style
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
        self._look_cache: _Look | None = None

    def style_for(self, geometry: FrameGeometry) -> CameraStyle:
        """The style a frame of ``geometry`` is rendered in: the fixed one, or its scene's."""
        if self.style is not None:
            return self.style
        scene = geometry.scene
        return draw_style(scene.seed, int(scene.meta.get("sequence", 0)))

    def look(self, style: CameraStyle) -> _Look:
        """The per-style buffers (the last style's are kept: a camera renders one sequence)."""
        if self._look_cache is not None and self._look_cache.style == style:
            return self._look_cache
        W, H = self.image_size
        vig = vignette(style, self.image_size, float(self.calib.P2[0, 0]))
        scales = channel_scales(style)
        spread = (1.0 - 2.0 * style.blur) ** 2  # the blur's normalisation, see _blur3
        scale = tuple((vig * np.float32(s * spread)).astype(np.float32) for s in scales)
        up = np.sqrt(np.clip(self._dz, 0.0, 1.0))
        grad = np.minimum(up * np.float32(1.6), np.float32(1.0))
        horizon = np.asarray(style.sky_horizon, np.float32)
        zenith = np.asarray(style.sky_zenith, np.float32)
        sky = tuple((horizon[c] + (zenith[c] - horizon[c]) * grad) * scale[c] for c in range(3))
        rng = np.random.default_rng([style.seed, 0x5E45])
        noise = rng.standard_normal(H * W + _NOISE_SLACK, dtype=np.float32)
        noise *= np.float32(style.noise * (LUT_SIZE - 1))
        sun = np.asarray(style.sun_direction, np.float32)
        sun /= np.linalg.norm(sun)
        self._shadow_rays[:, 3:] = sun
        self._look_cache = _Look(style, sun, horizon, scale,
                                 tuple(s.astype(np.float32) for s in sky), tone_curve(style), noise)
        return self._look_cache

    @property
    def sun(self) -> np.ndarray:
        """(3,) float32 unit vector towards the sun of the fixed style (the default style's if none)."""
        from simulation.camera_style import DEFAULT_STYLE

        sun = np.asarray((self.style or DEFAULT_STYLE).sun_direction, np.float32)
        return sun / np.linalg.norm(sun)

    def render(self, geometry: FrameGeometry, position: np.ndarray, yaw: float) -> np.ndarray:
        """(H, W, 3) uint8 image seen from the LiDAR at world ``position`` heading ``yaw``."""
        look = self.look(self.style_for(geometry))
        eye, dx, dy = self._fill_rays(position, yaw)
        t, tri, paint = geometry.cast_triangles(self._rays)
        tables = _surface_tables(geometry, eye, look)
        np.minimum(t, np.float32(1e4), out=t)  # no inf: misses get the sky below
        p = (dx * t + eye[0], dy * t + eye[1], self._dz * t + eye[2])
        light = tables.light[tri]
        if self.shadows and not look.style.overcast:
            self._cast_shadows(geometry, tables, tri, t, p, light)
        surface = tri.copy()
        surface[paint] = len(tables.kind) - 1
        ctx = TextureContext.of(geometry.scene, look.style)
        pose = np.asarray([*np.asarray(position, np.float32), yaw], np.float32)
        rng = np.random.default_rng([look.style.seed, *pose.view(np.uint32).tolist()])
        starts = rng.integers(0, _NOISE_SLACK, 3)
        W, H = self.image_size
        img = np.empty((H * W, 3), np.uint8)
        half = (H // 2) * W  # whole rows each, for the blur; NumPy releases the GIL: both cores work
        args = (look, ctx, tables, surface, t, p, light, starts, img)
        other = _shading_pool().submit(self._compose, *args, slice(half, H * W))
        self._compose(*args, slice(0, half))
        other.result()
        return img.reshape(H, W, 3)

    def _compose(
        self,
        look: _Look,
        ctx: TextureContext,
        tables: _SurfaceTables,
        surface: np.ndarray,
        t: np.ndarray,
        p: tuple,
        light: np.ndarray,
        starts: np.ndarray,
        img: np.ndarray,
        part: slice,
    ) -> None:
        """Pixels ``part`` (whole rows) of ``img``: texture, haze and sky in radiance, then lens
        blur, vignetting, exposure, white balance, noise and the tone curve."""
        W = self.image_size[0]
        surface, t, light = surface[part], t[part], light[part]
        light *= surface_texture(tables.kind[surface], tuple(c[part] for c in p), ctx)
        fog = t + np.float32(look.style.haze)
        np.divide(t, fog, out=fog)  # share of haze: 1/2 at the style's haze distance
        light *= np.float32(1.0) - fog
        sky = surface == len(tables.light) - 1  # the sentinel: no hit
        top = np.float32(LUT_SIZE - 1)
        blur = np.float32(look.style.blur / (1.0 - 2.0 * look.style.blur))
        for c in range(3):
            v = tables.rgb[c][surface]
            v *= light
            v += fog * look.horizon[c]
            v *= look.scale[c][part]
            np.copyto(v, look.sky[c][part], where=sky)
            _blur3(v.reshape(-1, W), blur)
            s = int(starts[c]) + part.start
            v += look.noise[s : s + len(v)]
            np.clip(v, np.float32(0.0), top, out=v)
            img[part, c] = look.lut[v.astype(np.intp)]

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
        b = np.flatnonzero(blocked)
        light[b] = tables.shade[tri[b]]

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


def _blur3(v: np.ndarray, k: np.float32) -> None:
    """In place, a separable 3-tap blur of the rows and columns of ``v`` (R, W): each value plus
    ``k`` times each neighbour (edges repeat), without normalising (the caller's scale has
    1 / (1 + 2k)^2 folded in). A cheap stand-in for a lens' point spread of about a pixel."""
    if k <= 0:
        return
    side = v * k
    v[:, 1:] += side[:, :-1]
    v[:, :-1] += side[:, 1:]
    v[:, 0] += side[:, 0]
    v[:, -1] += side[:, -1]
    np.multiply(v, k, out=side)
    v[1:] += side[:-1]
    v[:-1] += side[1:]
    v[0] += side[0]
    v[-1] += side[-1]
