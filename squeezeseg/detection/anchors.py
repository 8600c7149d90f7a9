"""SqueezeDet anchors: K shapes per grid cell, from k-means on training box sizes or from the config."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from squeezeseg.errors import InputError


def kmeans_anchor_shapes(sizes: np.ndarray, k: int = 9, seed: int = 0) -> np.ndarray:
    """(k, 2) anchor (width, height) in pixels: k-means cluster centres of the (N, 2) box sizes.

    The paper clusters the training boxes' shapes; scikit-learn's KMeans (k-means++, several starts)
    does exactly that. Returned sorted by area so the order is reproducible.
    """
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    sizes = sizes[np.all(np.isfinite(sizes) & (sizes > 0), axis=1)]
    if len(sizes) < k:
        raise InputError(f"k-means anchors need at least {k} boxes, got {len(sizes)}")
    if len(np.unique(sizes, axis=0)) < k:
        # fewer distinct shapes than anchors: repeat them (KMeans would only warn and do the same)
        uniq = np.unique(sizes, axis=0)
        centres = uniq[np.arange(k) % len(uniq)]
    else:
        centres = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(sizes).cluster_centers_
    return centres[np.argsort(centres[:, 0] * centres[:, 1])]


def anchor_grid(shapes: np.ndarray, image_size: tuple[int, int], grid_size: tuple[int, int]) -> np.ndarray:
    """(H * W * K, 4) anchors (centre x, centre y, width, height) in pixels.

    ``image_size`` is (width, height), ``grid_size`` the ConvDet output (W, H). Order is row-major over
    the grid with the K shapes innermost, the layout of the ConvDet channels.
    """
    shapes = np.asarray(shapes, dtype=np.float64).reshape(-1, 2)
    (iw, ih), (gw, gh) = image_size, grid_size
    cx = (np.arange(gw) + 0.5) * iw / gw
    cy = (np.arange(gh) + 0.5) * ih / gh
    yy, xx = np.meshgrid(cy, cx, indexing="ij")  # (gh, gw)
    k = len(shapes)
    centres = np.stack([xx, yy], -1)[:, :, None, :].repeat(k, axis=2)  # (gh, gw, k, 2)
    wh = np.broadcast_to(shapes, (gh, gw, k, 2))
    return np.concatenate([centres, wh], -1).reshape(-1, 4)


def scale_shapes(shapes: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Anchor shapes given at image size ``from_size`` (w, h) rescaled to ``to_size``."""
    s = np.asarray(shapes, dtype=np.float64).reshape(-1, 2)
    return s * np.array([to_size[0] / from_size[0], to_size[1] / from_size[1]])
