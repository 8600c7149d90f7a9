"""Surface appearance for the simulated camera: per-triangle albedo (materials, per-instance car
paint and clothing, per-facade plaster colours, per-leaf-clump greens, seasonal dryness) and
per-pixel procedural textures (asphalt speckle with wear patches and darker tyre tracks, worn lane
paint, paving slabs, brick courses, facade windows, grass and leaf grain).

Everything is deterministic: texture patterns come from integer hashes of world positions (so a
surface keeps its pattern as the camera moves) and from the style's seed (so sequences differ).
Albedos are linear (the sRGB-like material colours of ``simulation.classes`` raised to 2.2), the
renderer multiplies them by irradiance, and the camera response turns the result into pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.camera_style import ASPHALT_ALBEDO, CameraStyle, desaturate
from simulation.classes import CLASS_ID, MATERIAL_COLOR, MATERIAL_ID, MATERIALS, PER_INSTANCE_COLOR
from simulation.scene import LANE_WIDTH, Scene

# Car paints and shirt colours, picked by instance id as (instance * 7 + material) % 10; the LiDAR's
# intensity model keeps one reflectivity per entry (simulation.intensity.PALETTE_REFLECTIVITY).
PALETTE = np.array(
    [
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
TROUSERS = np.array(  # denim, black, grey, beige, dark brown
    [[0.16, 0.2, 0.32], [0.08, 0.08, 0.09], [0.35, 0.35, 0.36], [0.6, 0.55, 0.45], [0.25, 0.18, 0.12]],
    np.float32,
)
PLASTER = np.array(  # facade colours: white, cream, pale yellow, light grey, salmon, blue-grey, ochre
    [[0.85, 0.84, 0.8], [0.82, 0.76, 0.62], [0.86, 0.8, 0.55], [0.6, 0.6, 0.6], [0.8, 0.6, 0.52],
     [0.55, 0.62, 0.7], [0.72, 0.58, 0.38]],
    np.float32,
)
PAINT_COLOR = (0.88, 0.88, 0.85)  # road markings
CABIN = (0.12, 0.12, 0.13)  # seats and dashboard seen through a vehicle's windows
_DRY_GREEN = np.array([0.52, 0.47, 0.27], np.float32)

# Texture kinds of the renderer (per triangle; road paint has its own row in the tables).
FLAT, GRAIN, ROAD, WINDOWS, PAVING, BRICK, FOLIAGE, LANE_PAINT = range(8)
_KIND_OF_MATERIAL = {
    "asphalt": ROAD, "concrete": PAVING, "grass": FOLIAGE, "facade": WINDOWS, "brick": BRICK,
    "leaves": FOLIAGE, "bark": GRAIN, "curb": GRAIN,
}
MATERIAL_KIND = np.array([_KIND_OF_MATERIAL.get(m.name, FLAT) for m in MATERIALS], np.uint8)
_M = MATERIAL_ID
_VEHICLES = [CLASS_ID[c] for c in ("car", "van", "truck")]
_TILE = 256  # cells per side of the tiling wear texture
_TILE_RES = 4.0  # its cells per metre (a 64 m tile)


def hash_noise(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray) -> np.ndarray:
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


def cells(q: list[np.ndarray], per_m: float) -> list[np.ndarray]:
    """Integer (int32) texture-cell coordinates, ``per_m`` cells a metre, of points (x, y, z)."""
    out = []
    for c in q:
        c = c * np.float32(per_m)
        np.floor(c, out=c)
        out.append(c.astype(np.int32))
    return out


def _hash_of(values: np.ndarray, seed: int) -> np.ndarray:
    """[0, 1) hash of an int array (one value per element) and a seed."""
    v = values.astype(np.int64).astype(np.int32)
    return hash_noise(v, np.full_like(v, seed & 0x7FFFFFFF), np.full_like(v, 7))


def linear(rgb) -> np.ndarray:
    """Linear albedo of sRGB-like colours in [0, 1]."""
    return np.asarray(rgb, np.float32) ** np.float32(2.2)


def wear_tile(seed: int) -> np.ndarray:
    """(_TILE * _TILE,) float32 tiling smooth noise around 1: blotches of about 2 m (+-12%) with
    finer patches of about 0.4 m (+-5%), made by low-pass filtering white noise with an FFT (so the
    tile wraps without seams)."""
    rng = np.random.default_rng([seed, 0x7E])
    f = np.fft.fftfreq(_TILE)
    k2 = f[:, None] ** 2 + f[None, :] ** 2
    out = np.ones((_TILE, _TILE))
    for sigma_cells, amp in ((8.0, 0.12), (1.6, 0.05)):
        white = np.fft.fft2(rng.standard_normal((_TILE, _TILE)))
        smooth = np.fft.ifft2(white * np.exp(-2 * (np.pi * sigma_cells) ** 2 * k2)).real
        out += amp * smooth / smooth.std()
    return np.clip(out, 0.5, 1.5).astype(np.float32).ravel()


def track_profile(scene: Scene) -> tuple[np.ndarray, float]:
    """(factors, y0): brightness across the road at 5 cm steps from y0: 0.88 in the two wheel
    tracks of every lane (0.55-1.05 m either side of its centre), 1 elsewhere."""
    half = scene.road_half_width
    y = np.arange(-half, half + 0.05, 0.05)
    centres = {round(ly + s * LANE_WIDTH / 2, 3) for ly, _ in scene.lane_lines for s in (-1, 1)}
    f = np.ones(len(y), np.float32)
    for c in centres:
        if abs(c) < half:
            d = np.abs(y - c)
            f[(d > 0.55) & (d < 1.05)] = 0.88
    return f, float(-half)


@dataclass
class TextureContext:
    """What the per-pixel textures of one scene and style need: the wear tile, the tyre-track
    profile across the road, and the style's seed for the hashes."""

    tile: np.ndarray
    tracks: np.ndarray
    tracks_y0: float
    seed: int

    @classmethod
    def of(cls, scene: Scene, style: CameraStyle) -> TextureContext:
        """Built once per scene and style (cached in ``scene.cache``)."""
        key = ("camera_textures", style.seed)
        ctx = scene.cache.get(key)
        if ctx is None:
            tracks, y0 = track_profile(scene)
            ctx = scene.cache[key] = cls(wear_tile(style.seed), tracks, y0, style.seed)
        return ctx


def static_albedo(
    material: np.ndarray, normal: np.ndarray, plane: np.ndarray, style: CameraStyle
) -> np.ndarray:
    """(T, 3) float32 linear albedo of the static mesh's triangles: material colours with
    per-facade plaster colours (hashed from the wall's plane), per-plane brick and concrete shades,
    per-clump leaf shades, the style's dryness, asphalt tone and saturation."""
    rgb = MATERIAL_COLOR[material].copy()
    wall = np.round(plane * 2).astype(np.int64) * 7919 + np.round(normal[:, 0] * 8).astype(np.int64) * 31
    wall += np.round(normal[:, 1] * 8).astype(np.int64)
    h_wall = _hash_of(wall, style.seed)
    facade = material == _M["facade"]
    shade = 0.7 + 0.25 * ((h_wall[facade, None] * 7.0) % 1.0)
    rgb[facade] = PLASTER[(h_wall[facade] * len(PLASTER)).astype(int)] * shade
    for name, tone, spread in (("brick", 1.0, 0.3), ("concrete", 0.82, 0.2), ("curb", 0.82, 0.1)):
        m = material == _M[name]  # concrete: grey paving, darker than its display colour
        rgb[m] *= (tone * (1 - spread / 2 + spread * h_wall[m]))[:, None]
    h_tri = _hash_of(np.arange(len(material)), style.seed + 1)
    green = np.isin(material, (_M["grass"], _M["leaves"]))
    dry = np.float32(style.dryness) * (0.6 + 0.4 * h_tri[green, None])
    rgb[green] = rgb[green] * (1 - dry) + _DRY_GREEN * dry * rgb[green].mean(axis=1, keepdims=True) / 0.3
    leaves = material == _M["leaves"]
    rgb[leaves] *= (0.55 + 0.75 * h_tri[leaves])[:, None]
    out = linear(desaturate(np.clip(rgb, 0, 1), style.saturation))
    asphalt = material == _M["asphalt"]
    out[asphalt] *= np.float32(ASPHALT_ALBEDO / linear(MATERIAL_COLOR[_M["asphalt"]]).mean() * style.asphalt)
    return out


def agent_albedo(
    material: np.ndarray, instance: np.ndarray, height: np.ndarray, style: CameraStyle, cls: np.ndarray
) -> np.ndarray:
    """(T, 3) float32 linear albedo of agents' triangles (fine classes ``cls``): car paint and
    shirts take the palette colour of their instance (the LiDAR's intensity model assumes the same
    pick), trousers (cloth below 47% of the agent's height) one of five trouser colours, a
    vehicle's cabin (cloth seats behind the glass, in the roof's shade) dark grey, the rest their
    material's."""
    rgb = MATERIAL_COLOR[material].copy()
    own = np.isin(material, PER_INSTANCE_COLOR) & (instance > 0)
    rgb[own] = PALETTE[(instance[own].astype(np.int64) * 7 + material[own]) % len(PALETTE)]
    cloth = material == _M["cloth"]
    legs = cloth & (height < 0.47) & (instance > 0)
    rgb[legs] = TROUSERS[(instance[legs].astype(np.int64) * 3 + 1) % len(TROUSERS)]
    rgb[cloth & np.isin(cls, _VEHICLES)] = CABIN
    return linear(desaturate(rgb, style.saturation))


def agent_heights(scene: Scene) -> np.ndarray:
    """(T_agents,) height of each agent triangle's centroid as a share of its agent's height, in
    the order the frame geometry stacks the agents (cached in ``scene.cache``)."""
    out = scene.cache.get("camera_agent_heights")
    if out is None:
        parts = []
        for agent in scene.agents:
            v = agent.mesh.vertices
            z = v[agent.mesh.triangles, 2].mean(axis=1)
            lo, hi = v[:, 2].min(), v[:, 2].max()
            parts.append(((z - lo) / max(hi - lo, 1e-6)).astype(np.float32))
        out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        scene.cache["camera_agent_heights"] = out
    return out


def surface_texture(kind: np.ndarray, p: tuple[np.ndarray, ...], ctx: TextureContext) -> np.ndarray:
    """(N,) float32 brightness factor of the per-pixel textures at world points ``p`` (x, y, z
    arrays) of texture ``kind``."""
    f = np.ones(len(kind), np.float32)
    for k, fn in ((GRAIN, _grain), (ROAD, _road), (WINDOWS, _windows), (PAVING, _paving), (BRICK, _brick),
                  (FOLIAGE, _foliage), (LANE_PAINT, _marking)):
        idx = np.flatnonzero(kind == k)
        if len(idx):
            f[idx] = fn([c[idx] for c in p], ctx)
    return f


def _cell_noise(q: list[np.ndarray], per_metre: float, low: float, span: float) -> np.ndarray:
    """Hash noise of cells ``1 / per_metre`` m wide, scaled to [low, low + span) (float32, in place)."""
    noise = hash_noise(*cells(q, per_metre))
    noise *= np.float32(span)
    noise += np.float32(low)
    return noise


def _grain(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Grain of 25 cm cells, +-10%."""
    return _cell_noise(q, 4.0, 0.9, 0.2)


def _frac(x: np.ndarray, period: float) -> np.ndarray:
    """Position within its period, in [0, 1) (cheaper than np.mod on float32)."""
    f = x * np.float32(1.0 / period)
    f -= np.floor(f)
    return f


def _wear(x: np.ndarray, y: np.ndarray, ctx: TextureContext) -> np.ndarray:
    """The wear tile looked up at (x, y) (nearest 25 cm cell, wrapping every 64 m)."""
    ix = (x * np.float32(_TILE_RES)).astype(np.int32)
    ix &= _TILE - 1
    iy = (y * np.float32(_TILE_RES)).astype(np.int32)
    iy &= _TILE - 1
    iy *= _TILE
    iy += ix
    return ctx.tile[iy]


def _road(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Asphalt: two-scale speckle (8 cm cells), wear blotches, darker tyre tracks."""
    fine = cells(q, 12.5)
    speckle = hash_noise(*(c // 3 for c in fine))
    speckle *= np.float32(0.3)
    speckle += np.float32(0.7)
    speckle *= hash_noise(*fine)
    speckle *= np.float32(0.3)
    speckle += np.float32(0.85)
    speckle *= _wear(q[0], q[1], ctx)
    j = ((q[1] - np.float32(ctx.tracks_y0)) * np.float32(20.0)).astype(np.intp)
    np.clip(j, 0, len(ctx.tracks) - 1, out=j)
    speckle *= ctx.tracks[j]
    return speckle


def _marking(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Lane paint worn in patches: 65-100% of its brightness, in 20 cm cells."""
    return _cell_noise(q, 5.0, 0.65, 0.35)


def _windows(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Facade: grain, grime blotches and a grid of dark windows (3 m apart, 3.2 m storeys)."""
    f = _grain(q, ctx)
    x, y, z = q
    f *= _wear(x + y, z, ctx)
    along = _frac(x + y, 3.0)
    up = _frac(z, 3.2)
    glass = (along > 0.8 / 3.0) & (along < 2.2 / 3.0) & (up > 1.0 / 3.2) & (up < 2.5 / 3.2)
    f[glass] = 0.3
    return f


def _paving(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Paving slabs of 40 cm with dark joints and per-slab shades (+-8%)."""
    x, y, _ = q
    slab = hash_noise(*cells([x, y, np.zeros_like(x)], 2.5))
    slab *= np.float32(0.16)
    slab += np.float32(0.92)
    joint = (_frac(x, 0.4) < 0.0625) | (_frac(y, 0.4) < 0.0625)  # 2.5 cm joints
    slab[joint] *= np.float32(0.7)
    slab *= _wear(x, y, ctx)
    return slab


def _brick(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Brick courses: 7.5 cm rows of 25 cm bricks, every other row offset, light mortar joints."""
    x, y, z = q
    row = np.floor(z * np.float32(1 / 0.075))
    along = x + y + (row % 2) * np.float32(0.125)
    brick = hash_noise(np.floor(along * np.float32(4.0)).astype(np.int32), row.astype(np.int32),
                       np.full(len(x), ctx.seed & 0xFFFF, np.int32))
    brick *= np.float32(0.25)
    brick += np.float32(0.85)
    mortar = (_frac(z, 0.075) < 0.16) | (_frac(along, 0.25) < 0.048)  # 1.2 cm joints
    brick[mortar] = 1.15
    return brick


def _foliage(q: list[np.ndarray], ctx: TextureContext) -> np.ndarray:
    """Grass and leaves: 12 cm grain (+-15%) on patches of the wear tile."""
    noise = hash_noise(*cells(q, 8.0))
    noise *= np.float32(0.3)
    noise += np.float32(0.85)
    noise *= _wear(q[0], q[1], ctx)
    return noise
