"""Tiny synthetic range images (ground plane plus a few labelled boxes, ray cast analytically) for
tests and smoke runs that must not depend on the simulator or on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (class id, (length, width, height)) of the objects dropped into a synthetic scene
OBJECTS = ((1, (4.0, 1.8, 1.5)), (2, (0.6, 0.6, 1.8)), (3, (1.8, 0.6, 1.7)))


def synthetic_frame(height: int = 16, width: int = 64, seed: int = 0, fov_deg: float = 90.0):
    """(image (H, W, 5) x, y, z, intensity, range; labels (H, W)) of a random scene.

    Rows span elevations +2 to -24.8 degrees (an HDL-64E), columns azimuth +fov/2 (left) to -fov/2.
    """
    rng = np.random.default_rng(seed)
    elev = np.deg2rad(np.linspace(2.0, -24.8, height))[:, None]
    az = np.deg2rad(fov_deg / 2 - (np.arange(width) + 0.5) * fov_deg / width)[None, :]
    d = np.stack(np.broadcast_arrays(np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az),
                                     np.sin(elev) + 0 * az), -1)
    t = np.where(d[..., 2] < -1e-3, -1.73 / np.minimum(d[..., 2], -1e-3), np.inf)
    t = np.where(t < 60.0, t, np.inf)
    labels = np.zeros((height, width), np.int32)
    for _ in range(rng.integers(2, 5)):
        cls, (length, w, h) = OBJECTS[rng.integers(len(OBJECTS))]
        cx = rng.uniform(5, 25)
        cy = rng.uniform(-0.8, 0.8) * cx
        lo = np.array([cx - length / 2, cy - w / 2, -1.73])
        hi = np.array([cx + length / 2, cy + w / 2, -1.73 + h])
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = lo / d, hi / d
        tn = np.nanmax(np.minimum(t1, t2), -1)
        tf_ = np.nanmin(np.maximum(t1, t2), -1)
        hit = (tn <= tf_) & (tn > 0) & (tn < t)
        t = np.where(hit, tn, t)
        labels[hit] = cls
    valid = np.isfinite(t)
    xyz = np.where(valid[..., None], d * np.where(valid, t, 0)[..., None], 0.0)
    intensity = np.where(valid, np.where(labels > 0, 0.6, 0.2) + rng.normal(0, 0.02, labels.shape), 0.0)
    image = np.concatenate([xyz, intensity[..., None], np.where(valid, t, 0)[..., None]], -1)
    return image.astype(np.float32), np.where(valid, labels, 0).astype(np.int32)


def write_synthetic_dataset(root: str | Path, frames: int = 4, height: int = 16, width: int = 64,
                            val: int = 1, seed: int = 0) -> Path:
    """A SqueezeSeg-layout folder (``lidar_2d/*.npy``, ``ImageSet/{train,val}.txt``) of synthetic frames."""
    from squeezeseg.io import write_split, write_squeezeseg_npy

    root = Path(root)
    ids = [f"{i:06d}" for i in range(frames)]
    for i, fid in enumerate(ids):
        write_squeezeseg_npy(root / "lidar_2d" / f"{fid}.npy", *synthetic_frame(height, width, seed + i))
    write_split(root / "ImageSet" / "train.txt", ids[: frames - val] if val < frames else ids)
    write_split(root / "ImageSet" / "val.txt", ids[frames - val:] if val else ids)
    return root
