"""The one rule that turns a range image into the network input: x, y, z, intensity, range and a mask
channel (1 where a pixel holds a point, i.e. its range is positive), with empty pixels all zero and
their labels -1 so that losses and metrics skip them."""

from __future__ import annotations

import numpy as np


def network_input(image: np.ndarray) -> np.ndarray:
    """(H, W, >=5) range image -> (H, W, 6) float32 x, y, z, intensity, range, mask (NaN/inf -> 0)."""
    feats = np.nan_to_num(np.asarray(image, np.float32)[..., :5], nan=0.0, posinf=0.0, neginf=0.0)
    mask = feats[..., 4] > 0
    feats[~mask] = 0.0
    return np.concatenate([feats, mask[..., None].astype(np.float32)], axis=-1)


def with_mask(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(network input (H, W, 6), labels (H, W) int32 with -1 on empty pixels)."""
    img = network_input(image)
    return img, np.where(img[..., 5] > 0, labels, -1).astype(np.int32)


def rotate_z(points: np.ndarray, angle: float) -> np.ndarray:
    """Points turned by ``angle`` radians about the sensor's z axis (other channels unchanged)."""
    c, s = np.cos(angle), np.sin(angle)
    out = points.copy()
    out[:, 0] = c * points[:, 0] - s * points[:, 1]
    out[:, 1] = s * points[:, 0] + c * points[:, 1]
    return out


def tilt(points: np.ndarray, pitch: float, roll: float) -> np.ndarray:
    """Points turned by ``pitch`` radians about the sensor's y axis (a positive pitch lowers the
    points ahead: the road falling away) and then ``roll`` radians about its x axis (a positive
    roll raises the points on the left): a sloping road, a car pitching on its springs (other
    channels unchanged)."""
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    x, y, z = (points[:, k].astype(np.float64) for k in range(3))
    x, z = cp * x + sp * z, -sp * x + cp * z
    y, z = cr * y - sr * z, sr * y + cr * z
    out = points.copy()
    out[:, 0], out[:, 1], out[:, 2] = x, y, z
    return out


def pixel_labels(index: np.ndarray, point_classes: np.ndarray) -> np.ndarray:
    """(H, W) int32: the class of the point each pixel shows (``index`` from a projection), -1 when empty."""
    return np.where(index >= 0, point_classes[np.maximum(index, 0)], -1).astype(np.int32)
