"""PNG rendering of range images (depth, intensity, label colours) and bird's-eye views by class.

Pure NumPy + Pillow so the CLIs and the inference code can render without a GUI or matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_path
from squeezeseg.errors import InputError

# Class colours (RGB): 0 = background/unlabeled, then the SqueezeSeg classes car, pedestrian,
# cyclist, and more distinct colours for larger label sets.
PALETTE = np.array(
    [
        [100, 100, 100], [0, 140, 255], [255, 60, 60], [255, 200, 0], [60, 200, 60], [200, 80, 255],
        [0, 220, 220], [255, 130, 40], [150, 150, 150], [120, 70, 20], [255, 120, 200], [90, 120, 255],
        [180, 255, 120], [255, 255, 255], [100, 0, 160], [0, 100, 60], [220, 180, 140], [255, 0, 120],
        [120, 200, 255], [80, 80, 0],
    ],
    dtype=np.uint8,
)

_TURBO = np.array(  # polynomial fit of Google's Turbo colormap (Mikhailov, 2019)
    [
        [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
        [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
        [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
    ]
)


def turbo(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with the Turbo colormap."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    powers = np.stack([v**k for k in range(6)], axis=-1)
    rgb = np.clip(powers @ _TURBO.T, 0.0, 1.0)
    return (rgb * 255 + 0.5).astype(np.uint8)


def depth_colors(ranges: np.ndarray, max_range: float | None = None) -> np.ndarray:
    """(H, W) ranges -> (H, W, 3): near red, far blue (log scale), empty pixels black."""
    r = np.asarray(ranges, dtype=np.float64)
    valid = r > 0
    top = max_range or (float(np.percentile(r[valid], 99)) if valid.any() else 1.0)
    scaled = np.log1p(np.clip(r, 0, top)) / np.log1p(top)
    out = turbo(1.0 - scaled)
    out[~valid] = 0
    return out


def intensity_colors(intensity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) intensity -> grey (H, W, 3), stretched to its 1-99 percentiles; empty pixels black."""
    i = np.asarray(intensity, dtype=np.float64)
    if valid.any():
        lo, hi = np.percentile(i[valid], [1, 99])
    else:
        lo, hi = 0.0, 1.0
    g = (np.clip((i - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    g[~valid] = 0
    return np.repeat(g[..., None], 3, axis=-1)


def label_colors(labels: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """(...,) integer labels -> (..., 3) uint8 colours (labels beyond the palette wrap around)."""
    pal = PALETTE if palette is None else np.asarray(palette, dtype=np.uint8)
    lab = np.asarray(labels).astype(np.int64)
    if lab.size and lab.min() < 0:
        raise InputError("labels must be non-negative")
    return pal[lab % len(pal)]


def range_image_panel(image: np.ndarray, labels: np.ndarray | None = None, scale: int = 4) -> np.ndarray:
    """Depth, intensity and (if given) labels stacked vertically, rows repeated ``scale`` times."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 5:
        raise InputError(f"range image must be (H, W, >=5), got {img.shape}")
    valid = img[..., 4] > 0
    parts = [depth_colors(img[..., 4]), intensity_colors(img[..., 3], valid)]
    if labels is not None:
        lab = label_colors(labels)
        lab[~valid & (np.asarray(labels) == 0)] = 0
        parts.append(lab)
    sep = np.full((2, img.shape[1], 3), 255, np.uint8)
    rows = []
    for p in parts:
        rows += [np.repeat(p, scale, axis=0), sep]
    return np.concatenate(rows[:-1], axis=0)


def bev_image(
    points: np.ndarray,
    classes: np.ndarray | None = None,
    x_range: tuple[float, float] = (-40.0, 40.0),
    y_range: tuple[float, float] = (-40.0, 40.0),
    resolution: float = 0.1,
    palette: np.ndarray | None = None,
) -> np.ndarray:
    """Bird's-eye view (x forward = up, y left = left): coloured by class, or by height if none.

    Background (class 0) is drawn first so objects are never hidden under ground points.
    """
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise InputError(f"points must be (N, >=3), got {pts.shape}")
    H = int(np.ceil((x_range[1] - x_range[0]) / resolution))
    W = int(np.ceil((y_range[1] - y_range[0]) / resolution))
    out = np.zeros((H, W, 3), np.uint8)
    with np.errstate(invalid="ignore"):
        r = np.floor((x_range[1] - pts[:, 0]) / resolution)
        c = np.floor((y_range[1] - pts[:, 1]) / resolution)
    ok = np.isfinite(r) & np.isfinite(c) & (r >= 0) & (r < H) & (c >= 0) & (c < W)
    if classes is None:
        z = pts[:, 2]
        colors = turbo((z - np.nanmin(z)) / max(float(np.nanmax(z) - np.nanmin(z)), 1e-6))
        order = np.flatnonzero(ok)
    else:
        cls = np.asarray(classes).ravel()
        if len(cls) != len(pts):
            raise InputError(f"{len(pts)} points but {len(cls)} class labels")
        colors = label_colors(cls, palette)
        order = np.flatnonzero(ok)
        order = order[np.argsort(cls[order] != 0, kind="stable")]
    out[r[order].astype(np.int64), c[order].astype(np.int64)] = colors[order]
    return out


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 array as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    arr = np.asarray(rgb, dtype=np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
    return path


def palette_legend(names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """{class name: RGB} for the first ``len(names)`` labels (for docs and GUIs)."""
    return {n: tuple(int(v) for v in PALETTE[i % len(PALETTE)]) for i, n in enumerate(names)}
