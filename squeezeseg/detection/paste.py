"""Copy-paste augmentation: real object crops pasted into training images where the camera's geometry
puts an object of their size (Dwibedi et al. 2017, "Cut, Paste and Learn").

The crops come from the LiDAR-guided labels of unlabelled real images (scripts/lidar_guided_labels.py),
so the detector sees real cars at every range and position, not only the near cars of one drive. A
pasted object's box is exact by construction, which is what localisation at IoU 0.7 needs. Each
object lands on the road plane of a KITTI-like camera: its image height is a fixed share of the
distance between its bottom edge and the horizon (a car 1.5 m tall seen by a camera 1.65 m above the
road: 0.91), so a crop is never pasted at a size the scene could not show. Background patches of
the same images are pasted the same way, so a pasted rectangle's edge does not itself say "car".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.detection.box2d import iou_matrix, visible_share

log = logging.getLogger("squeezeseg.detection")

#: Image height of an object over the height of its bottom edge below the horizon, per class: object
#: height over camera height (KITTI: 1.65 m; cars 1.53 m, vans 2.2 m tall on average).
HEIGHT_PER_DROP = {"Car": 0.91, "Van": 1.33, "Pedestrian": 1.05, "Cyclist": 1.05}
#: The horizon's row as a share of the image height (KITTI's rectified P2: c_y 173 of 375 rows).
HORIZON = 0.46
#: Smallest and largest crop height (original pixels) the bank keeps: smaller crops are mostly blur.
CROP_HEIGHTS = (24, 400)


@dataclass
class CropBank:
    """Object crops (uint8 RGB at their own resolution) with their class names, and background
    images to cut distractor patches from."""

    crops: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    backgrounds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (image, its boxes)

    def __len__(self) -> int:
        return len(self.crops)

    def paste_into(self, image, boxes, labels, classes: list[str], rng: np.random.Generator):
        """:func:`paste_objects` with this bank (what `DetectionData` calls)."""
        return paste_objects(image, boxes, labels, self, classes, rng)

    @classmethod
    def from_folder(cls, root: str | Path, classes: list[str], max_truncation: float = 0.1) -> CropBank:
        """The crops of every labelled object of ``classes`` (not truncated, not occluded, touching no
        other box of its frame, within :data:`CROP_HEIGHTS`) of a KITTI object folder, and the lower
        halves of its images as backgrounds."""
        from squeezeseg.detection.data import load_image, scan_frames

        bank = cls()
        for frame in scan_frames(root, classes):
            image = load_image(frame.image_path)
            labelled = np.array([o.box for o in frame.objects], dtype=np.float64).reshape(-1, 4)
            lower = image.shape[0] // 2  # distractor patches come from the lower half only
            bank.backgrounds.append((image[lower:].copy(), labelled - [0, lower, 0, lower]))
            overlap = iou_matrix(labelled, labelled) > 0
            np.fill_diagonal(overlap, False)
            for k, o in enumerate(frame.objects):
                l, t, r, b = (int(round(v)) for v in o.box)
                ok = o.label in classes and (o.truncated or 0) <= max_truncation and (o.occluded or 0) <= 0
                ok &= not overlap[k].any()  # another box (DontCare too) on it: maybe not whole
                if ok and CROP_HEIGHTS[0] <= b - t <= CROP_HEIGHTS[1] and r - l >= 8:
                    bank.crops.append(image[t:b, l:r].copy())
                    bank.labels.append(o.label)
        log.info("crop bank %s: %d crops (%s) from %d images", root, len(bank),
                 ", ".join(f"{c} {bank.labels.count(c)}" for c in classes), len(bank.backgrounds))
        return bank


def place(label: str, aspect: float, size: tuple[int, int], rng: np.random.Generator,
          min_height: float = 8.0) -> np.ndarray | None:
    """A corner box (x0, y0, x1, y1) for an object of ``label`` and width/height ``aspect`` standing
    on the road of an image of ``size`` (w, h), or None when no height fits."""
    w, h = size
    horizon = HORIZON * h
    ratio = HEIGHT_PER_DROP.get(label, 1.0) * rng.uniform(0.9, 1.1)
    low = horizon + min_height / ratio  # the bottom row that gives the smallest object
    if low >= h:
        return None
    bottom = rng.uniform(low, h + 0.15 * (h - horizon))  # partly below the frame now and then
    height = ratio * (bottom - horizon)
    width = aspect * height
    if width >= w:
        return None
    x0 = rng.uniform(-0.1 * width, w - 0.9 * width)
    return np.array([x0, bottom - height, x0 + width, bottom])


def blend(image: np.ndarray, patch: np.ndarray, box: np.ndarray, feather: float = 1.5) -> np.ndarray:
    """``image`` with ``patch`` resized into the corner ``box`` (clipped to the image), its edges
    faded over ``feather`` pixels so the seam is not a hard step."""
    from squeezeseg.detection.data import resize_image

    H, W = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    pw, ph = max(x1 - x0, 1), max(y1 - y0, 1)
    resized = resize_image(patch, (pw, ph)).astype(np.float32)
    yy, xx = np.mgrid[0:ph, 0:pw]
    edge = np.minimum(np.minimum(xx + 0.5, pw - xx - 0.5), np.minimum(yy + 0.5, ph - yy - 0.5))
    alpha = np.clip(edge / feather, 0.0, 1.0)[..., None]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return image
    sub = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    out = image.astype(np.float32)
    region = out[cy0:cy1, cx0:cx1]
    out[cy0:cy1, cx0:cx1] = alpha[sub] * resized[sub] + (1.0 - alpha[sub]) * region
    return np.clip(out, 0, 255).astype(np.uint8)


def _free(box: np.ndarray, taken: np.ndarray) -> bool:
    """``box`` overlaps none of the ``taken`` corner boxes."""
    return len(taken) == 0 or not (iou_matrix(box, taken) > 0).any()


def _visible(box: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """``box`` clipped to the image, or None when less than 70 % of it stays inside."""
    clipped, share = visible_share(box, size)
    return clipped[0] if share[0] >= 0.7 else None


def paste_objects(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    bank: CropBank,
    classes: list[str],
    rng: np.random.Generator,
    objects: int = 3,
    distractors: int = 2,
    tries: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``objects`` crops of ``bank`` and ``distractors`` background patches pasted where no
    labelled box (nor DontCare region) lies; returns the image, its boxes and labels with the pasted
    objects appended (boxes clipped to the image)."""
    if len(bank) == 0:
        return image, boxes, labels
    size = (image.shape[1], image.shape[0])
    taken = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    new_boxes, new_labels = [], []
    for k in range(objects + distractors):
        is_object = k < objects
        i = int(rng.integers(len(bank)))
        label, crop = bank.labels[i], bank.crops[i]
        for _ in range(tries):
            box = place(label, crop.shape[1] / crop.shape[0], size, rng)
            if box is not None and _free(box, taken):
                break
        else:
            continue
        if is_object:
            seen = _visible(box, size)
            if seen is None:
                continue
            patch = crop[:, ::-1] if rng.random() < 0.5 else crop
            new_boxes.append(seen)
            new_labels.append(classes.index(label))
        else:
            patch = _background_patch(bank, crop.shape[:2], rng)
            if patch is None:
                continue
        image = blend(image, patch, box)
        taken = np.r_[taken, box[None]]
    if new_boxes:
        boxes = np.r_[np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.array(new_boxes)]
        labels = np.r_[np.asarray(labels, dtype=np.int32), np.array(new_labels, dtype=np.int32)]
    return image, boxes, labels


def _background_patch(
    bank: CropBank, shape: tuple[int, int], rng: np.random.Generator, tries: int = 10
) -> np.ndarray | None:
    """A patch of ``shape`` (h, w) cut from one of the bank's backgrounds (lower image halves: the road
    and what stands on it) where none of its labelled boxes lies, or None when none is found."""
    if not bank.backgrounds:
        return None
    image, labelled = bank.backgrounds[int(rng.integers(len(bank.backgrounds)))]
    H, W = image.shape[:2]
    h, w = min(shape[0], H), min(shape[1], W)
    for _ in range(tries):
        y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        if _free(np.array([x, y, x + w, y + h], dtype=np.float64), labelled):
            return image[y : y + h, x : x + w]
    return None
