"""Point colouring and bird's-eye-view rasterisation for DRAWING only (annotation always uses all points).

Drawing 130k-300k points as individual scatter symbols is far too slow for a 50 ms redraw, so the
bird's-eye view paints the visible points into an RGBA image at screen resolution: one vectorised
NumPy pass per redraw, whose cost grows with the point count but not with the zoom level.
"""

from __future__ import annotations

import numpy as np

# Colour maps as 256-entry RGBA lookup tables (computed once; pyqtgraph's maps are the source).
_LUTS: dict[str, np.ndarray] = {}


def lut(name: str) -> np.ndarray:
    """(256, 4) uint8 lookup table of a pyqtgraph colour map ("turbo", "viridis", "plasma", ...)."""
    if name not in _LUTS:
        import pyqtgraph as pg

        cmap = pg.colormap.get(name)
        table = cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
        _LUTS[name] = np.ascontiguousarray(table, dtype=np.uint8)
    return _LUTS[name]


def scalar_colors(values: np.ndarray, vmin: float, vmax: float, cmap: str = "turbo") -> np.ndarray:
    """(N, 4) uint8 colours of ``values`` mapped linearly from [vmin, vmax] through ``cmap``."""
    v = np.asarray(values, dtype=np.float32)
    span = max(float(vmax) - float(vmin), 1e-6)
    idx = np.clip((v - vmin) * (255.0 / span), 0, 255).astype(np.uint8)
    return lut(cmap)[idx]


def label_colors(labels: np.ndarray, palette: np.ndarray,
                 background: tuple[int, int, int, int]) -> np.ndarray:
    """(N, 4) uint8 colours of integer ``labels``: ``palette[label]``, ``background`` where label < 0."""
    lab = np.asarray(labels, dtype=np.int64)
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 4)
    out = np.empty((len(lab), 4), dtype=np.uint8)
    out[:] = background
    ok = (lab >= 0) & (lab < len(pal))
    out[ok] = pal[lab[ok]]
    return out


HEIGHT_RANGE_M = (-2.5, 1.5)      # z coloured from blue (low) to red (high), LiDAR frame
UNLABELLED_RGBA = (110, 110, 110, 255)


def color_scale(points: np.ndarray, mode: str, labels: np.ndarray | None = None) -> dict:
    """What :func:`point_colors` does in ``mode`` for these points, for the colour legend: the mode
    actually used (``"label"`` without pre-labels and ``"intensity"`` without an intensity channel
    fall back to ``"height"``), and for a scalar mode its colour map, value range and unit."""
    if mode == "label" and labels is not None:
        return {"mode": "label"}
    if mode == "intensity" and points.shape[1] > 3:
        inten = points[:, 3]
        top = 1.0 if len(inten) == 0 or float(np.nanmax(inten)) <= 1.0 else 255.0
        return {"mode": "intensity", "cmap": "viridis", "range": (0.0, top * 0.6), "unit": ""}
    return {"mode": "height", "cmap": "turbo", "range": HEIGHT_RANGE_M, "unit": "m"}


def point_colors(points: np.ndarray, mode: str, labels: np.ndarray | None = None,
                 palette: np.ndarray | None = None) -> np.ndarray:
    """Colours for the views: "height" (z from -2.5 to 1.5 m), "intensity" (0..1 or 0..255
    auto-detected), or "label" (pre-label ids; unlabelled points grey); see :func:`color_scale`."""
    scale = color_scale(points, mode, labels if palette is not None else None)
    if scale["mode"] == "label":
        return label_colors(labels, palette, UNLABELLED_RGBA)
    values = points[:, 3] if scale["mode"] == "intensity" else points[:, 2]
    return scalar_colors(values, *scale["range"], scale["cmap"])


def draw_order(points: np.ndarray) -> np.ndarray:
    """Indices that sort points by height, so the highest point of a pixel is painted last (wins).

    Heights are quantised to centimetres in uint16 so NumPy's stable sort is a linear radix sort
    (several times faster than sorting floats for 100k+ points).
    """
    z = np.nan_to_num(points[:, 2].astype(np.float32), nan=-300.0)
    key = np.clip((z + 300.0) * 100.0, 0, 65535).astype(np.uint16)
    return np.argsort(key, kind="stable")


def rasterize(uv: np.ndarray, colors: np.ndarray, rect: tuple[float, float, float, float],
              shape: tuple[int, int], point_px: int = 1,
              background: tuple[int, int, int, int] = (0, 0, 0, 0)) -> np.ndarray:
    """Paint points into a (rows, cols, 4) uint8 image covering ``rect`` = (u0, v0, width, height).

    Row r covers v in [v0 + r*h/rows, ...) (rows grow with v, as pyqtgraph's ImageItem draws them),
    column c covers u likewise. Later points overwrite earlier ones, so pass them in draw order.
    ``point_px`` > 1 paints each point as a square of that many pixels (for zoomed-in views).
    Pixels are written as packed 32-bit RGBA words: one scattered store per point.
    """
    rows, cols = int(shape[0]), int(shape[1])
    img = np.empty((rows, cols, 4), dtype=np.uint8)
    img[:] = background
    if rows <= 0 or cols <= 0 or len(uv) == 0:
        return img
    u0, v0, w, h = (float(x) for x in rect)
    uv = np.asarray(uv, dtype=np.float32)
    c = ((uv[:, 0] - np.float32(u0)) * np.float32(cols / max(w, 1e-9))).astype(np.int32)
    r = ((uv[:, 1] - np.float32(v0)) * np.float32(rows / max(h, 1e-9))).astype(np.int32)
    # Negative fractions truncate to 0: compare the floats' sign through u >= u0 instead.
    ok = (uv[:, 0] >= u0) & (c < cols) & (uv[:, 1] >= v0) & (r < rows)
    idx = r[ok] * cols + c[ok]
    words = np.ascontiguousarray(colors, dtype=np.uint8).view(np.uint32).reshape(-1)[ok]
    flat = img.view(np.uint32).reshape(-1)
    if point_px <= 1:
        flat[idx] = words
        return img
    rr, cc = r[ok], c[ok]
    for dr in range(point_px):
        for dc in range(point_px):
            keep = (rr + dr < rows) & (cc + dc < cols)
            flat[idx[keep] + dr * cols + dc] = words[keep]
    return img
