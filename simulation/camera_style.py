"""The look of a simulated camera sequence (domain randomisation in the renderer): sun, sky, haze,
exposure, tone curve, white balance, saturation, lens blur and vignetting, sensor noise and the
tints of asphalt, greenery and facades, drawn once per sequence from its seed.

Why per sequence: a real drive keeps its weather, time of day and camera settings for minutes,
while different drives differ in all of them; a detector trained on one clean look learns that look.
The renderer works in linear radiance (albedo x irradiance); the camera response here turns that
into 8-bit values through exposure, per-channel gains and a gamma curve with clipped highlights, as
KITTI's cameras do (their skies are often burnt out at 255, their shadows near black).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

LUT_SIZE = 4096  # entries of the tone curve; radiance is scaled so that LUT_SIZE - 1 is white
ASPHALT_ALBEDO = 0.085  # linear albedo of the asphalt (worn road surfaces: 0.05-0.12), exposure's reference


@dataclass(frozen=True)
class CameraStyle:
    """Lighting and camera response of one sequence. Radiance units: an albedo-1 surface facing
    straight up under an overcast sky of ``ambient`` 1 has radiance 1."""

    sun_direction: tuple[float, float, float]  # unit vector towards the sun, world frame (z up)
    sun: float  # direct irradiance on a surface facing the sun; 0 = overcast, no cast shadows
    ambient: float  # sky irradiance on an up-facing surface
    sky_horizon: tuple[float, float, float]  # linear radiance of the sky at the horizon
    sky_zenith: tuple[float, float, float]  # ... and straight up
    haze: float  # distance (m) at which haze has replaced half of a surface's light
    exposure: float  # radiance that maps to white (before the channel gains)
    gamma: float  # display value = (radiance / white) ** (1 / gamma)
    white_balance: tuple[float, float, float]  # per-channel gains
    saturation: float  # 1 = the materials' colours, 0 = grey
    blur: float  # weight of each neighbour in the 3-tap lens blur (rows and columns)
    vignetting: float  # share of light lost in the image corners
    noise: float  # sensor noise std, as a share of white
    asphalt: float  # brightness factor of the asphalt
    dryness: float  # 0 = lush green grass and leaves, 1 = dry, yellowish
    seed: int = 0  # varies the texture patterns (facade colours, road wear) between sequences

    @property
    def overcast(self) -> bool:
        """No direct sun: no cast shadows (and no shadow rays)."""
        return self.sun <= 0.0


# A clear midday look: the renderer's default when no scene seed is given.
DEFAULT_STYLE = CameraStyle(
    sun_direction=tuple(np.array([0.4, -0.3, 0.85]) / np.linalg.norm([0.4, -0.3, 0.85])),
    sun=4.0,
    ambient=1.0,
    sky_horizon=(1.6, 1.75, 1.9),
    sky_zenith=(0.45, 0.75, 1.5),
    haze=2000.0,
    exposure=0.55,
    gamma=1.6,
    white_balance=(1.0, 1.0, 1.0),
    saturation=0.8,
    blur=0.12,
    vignetting=0.2,
    noise=0.004,
    asphalt=1.0,
    dryness=0.3,
)


def draw_style(seed: int, sequence: int) -> CameraStyle:
    """The style of sequence ``sequence`` of simulator seed ``seed`` (same arguments, same style).
    About one sequence in five is overcast (soft light, grey sky, no cast shadows)."""
    rng = np.random.default_rng([int(seed), int(sequence), 0xCA3E7A])
    overcast = rng.random() < 0.2
    az, el = rng.uniform(0.0, 2 * np.pi), np.radians(rng.uniform(18.0, 65.0))
    sun_dir = (float(np.cos(el) * np.cos(az)), float(np.cos(el) * np.sin(az)), float(np.sin(el)))
    if overcast:
        sun, ambient = 0.0, float(rng.uniform(1.6, 2.6))
        grey = rng.uniform(1.1, 1.6)
        horizon = grey * np.array([1.0, 1.0, 1.02])
        zenith = horizon * rng.uniform(0.85, 1.1) * np.array([0.97, 1.0, 1.05])
    else:
        sun, ambient = float(rng.uniform(3.0, 6.0)), float(rng.uniform(0.6, 1.1))
        horizon = rng.uniform(1.2, 2.0) * np.array([0.92, 0.97, 1.0]) * ambient
        blue = rng.uniform(0.25, 0.8)  # 0.25: hazy white-blue, 0.8: deep blue
        zenith = horizon * np.array([1.0 - blue * 0.75, 1.0 - blue * 0.45, 1.0]) * rng.uniform(0.7, 1.1)
    reference = ASPHALT_ALBEDO * (sun * max(sun_dir[2], 0.0) + ambient)  # sunlit asphalt's radiance
    target = rng.uniform(0.16, 0.34)  # its display value (share of white), auto-exposure's aim
    gamma = float(rng.uniform(1.0, 1.8))
    return CameraStyle(
        sun_direction=sun_dir,
        sun=sun,
        ambient=ambient,
        sky_horizon=tuple(float(v) for v in horizon),
        sky_zenith=tuple(float(v) for v in zenith),
        haze=float(rng.uniform(1000.0, 4000.0) if not overcast else rng.uniform(400.0, 1500.0)),
        exposure=float(reference / target**gamma),
        gamma=gamma,
        white_balance=tuple(float(v) for v in rng.uniform(0.9, 1.1, size=3)),
        saturation=float(rng.uniform(0.45, 0.95)),
        blur=float(rng.uniform(0.08, 0.22)),
        vignetting=float(rng.uniform(0.05, 0.35)),
        noise=float(rng.uniform(0.001, 0.008)),
        asphalt=float(rng.uniform(0.7, 1.35)),
        dryness=float(rng.uniform(0.0, 1.0)),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def with_sun(style: CameraStyle, direction) -> CameraStyle:
    """``style`` with the sun moved to ``direction`` (any length, z up)."""
    d = np.asarray(direction, np.float64)
    return replace(style, sun_direction=tuple(float(v) for v in d / np.linalg.norm(d)))


def tone_curve(style: CameraStyle) -> np.ndarray:
    """(LUT_SIZE,) uint8 display values of radiance indices 0..LUT_SIZE-1 (LUT_SIZE-1 = white):
    the gamma curve, rounded; everything brighter than white clips to 255."""
    u = np.arange(LUT_SIZE, dtype=np.float64) / (LUT_SIZE - 1)
    return np.clip(255.0 * u ** (1.0 / style.gamma) + 0.5, 0, 255).astype(np.uint8)


def channel_scales(style: CameraStyle) -> np.ndarray:
    """(3,) factors from radiance to tone-curve index per channel: exposure and white balance."""
    return np.asarray(style.white_balance, np.float64) * ((LUT_SIZE - 1) / style.exposure)


def vignette(style: CameraStyle, image_size: tuple[int, int], focal: float) -> np.ndarray:
    """(H * W,) float32 light falloff of the lens: cos^4 of the angle off the axis, scaled so that
    the image corners lose ``style.vignetting`` of their light."""
    W, H = image_size
    u = (np.arange(W) - (W - 1) / 2) / focal
    v = (np.arange(H) - (H - 1) / 2) / focal
    r2 = u[None, :] ** 2 + v[:, None] ** 2
    cos4 = 1.0 / (1.0 + r2) ** 2
    corner = cos4.min()
    fall = 1.0 - style.vignetting * (1.0 - cos4) / max(1.0 - corner, 1e-9)
    return fall.astype(np.float32).ravel()


def desaturate(rgb: np.ndarray, saturation: float) -> np.ndarray:
    """Colours (..., 3) moved towards their own luminance: ``saturation`` 1 keeps them, 0 greys."""
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722], rgb.dtype)
    return (lum[..., None] + (rgb - lum[..., None]) * saturation).astype(rgb.dtype)
