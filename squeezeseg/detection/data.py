"""KITTI object layout (`image_2/*.png`, `label_2/*.txt`) as SqueezeDet training data and a tf.data pipeline.

Bad input is survivable: label types outside the model's classes are ignored and counted (DontCare
boxes are counted apart: they are ignore regions, see :data:`IGNORE`), images of another size are
resized with their boxes scaled, an empty label file is a frame of negatives, and an image that
cannot be decoded is skipped with its name in the log.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from squeezeseg.datasets.base import IMAGE_SUFFIXES, read_image
from squeezeseg.datasets.kitti_object import object_root
from squeezeseg.detection.box2d import scale_boxes, visible_share
from squeezeseg.detection.labels import Object2D, read_kitti_2d
from squeezeseg.errors import InputError
from squeezeseg.io.squeezeseg_format import read_split as read_ids

log = logging.getLogger("squeezeseg.detection")

#: Class index of a DontCare region in training examples: no positive, no negative (targets.assign).
IGNORE = -1



@dataclass
class Frame:
    """One labelled image: its path, original size (w, h) and all objects of its label file."""

    name: str
    image_path: Path
    size: tuple[int, int]
    objects: list[Object2D] = field(default_factory=list)

    def boxes(self, classes: list[str], dontcare: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(G, 4) corner boxes (original pixels) and (G,) class indices of the objects of ``classes``;
        with ``dontcare`` also the DontCare regions, class index :data:`IGNORE`."""
        keep = [o for o in self.objects if o.label in classes or (dontcare and o.label == "DontCare")]
        boxes = np.array([o.box for o in keep], dtype=np.float64).reshape(-1, 4)
        labels = [classes.index(o.label) if o.label in classes else IGNORE for o in keep]
        return boxes, np.array(labels, dtype=np.int32)


def load_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; InputError naming the file when it cannot be decoded."""
    return read_image(Path(path))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W, 3) uint8 to ``size`` (w, h) bilinearly; returned unchanged when it already fits."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(tuple(size), Image.BILINEAR))


def layout_dirs(root: str | Path) -> tuple[Path, Path]:
    """(image_2, label_2) of a KITTI object folder (``root`` or ``root/training``)."""
    base = object_root(Path(root), data="image_2")
    if base is None:
        raise InputError("not a KITTI object folder (no image_2/ inside it or inside training/)", root)
    return base / "image_2", base / "label_2"


def split_file(root: str | Path, name: str) -> Path | None:
    """The file of split ``name``: ``ImageSets/<name>.txt`` (also ``ImageSet/``) in ``root`` or beside
    its ``training/`` folder, or None."""
    root = Path(root)
    bases = [root, root.parent] if root.name == "training" else [root]
    cands = [b / d / f"{name}.txt" for b in bases for d in ("ImageSets", "ImageSet")]
    return next((c for c in cands if c.is_file()), None)


def read_split(root: str | Path, split: str) -> list[str]:
    """Frame ids of a split: a text file of ids (a path), or a name looked up by :func:`split_file`."""
    p = Path(split)
    if not (p.suffix or len(p.parts) > 1):  # a bare name, never a file that happens to be in the cwd
        p = split_file(root, split)
        if p is None:
            raise InputError(f"split '{split}' not found (looked for ImageSets/{split}.txt)", root)
    return read_ids(p)


def scan_frames(
    root: str | Path, classes: list[str], require_labels: bool = True, ids: list[str] | None = None
) -> list[Frame]:
    """Frames of a KITTI object folder (only ``ids`` when given); undecodable images are skipped and
    logged, object types outside ``classes`` counted and ignored."""
    image_dir, label_dir = layout_dirs(root)
    frames, unknown, skipped = [], Counter(), []
    wanted = None if ids is None else set(ids)
    for img in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        if wanted is not None and img.stem not in wanted:
            continue
        label = label_dir / f"{img.stem}.txt"
        if require_labels and not label.is_file():
            log.warning("%s: no label file %s, skipped", img, label)
            skipped.append(img.name)
            continue
        try:
            with Image.open(img) as im:
                im.load()
                size = im.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            log.warning("%s: corrupt image skipped (%s)", img, exc.__class__.__name__)
            skipped.append(img.name)
            continue
        objects = read_kitti_2d(label) if label.is_file() else []
        unknown.update(o.label if o.label == "DontCare" else f"ignored {o.label}"
                       for o in objects if o.label not in classes)
        frames.append(Frame(img.stem, img, size, objects))
    if unknown:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(unknown.items()))
        log.info("objects of other types (DontCare: ignore regions): %s", counts)
    if not frames:
        raise InputError(f"no usable images (skipped {len(skipped)})", image_dir)
    return frames


def load_frame(
    frame: Frame, classes: list[str], input_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image resized to ``input_size`` (uint8) with its class boxes and DontCare regions (class index
    :data:`IGNORE`) scaled to match, and class indices."""
    image = load_image(frame.image_path)
    h, w = image.shape[:2]
    boxes, labels = frame.boxes(classes, dontcare=True)
    boxes = scale_boxes(boxes, input_size[0] / w, input_size[1] / h)
    return resize_image(image, input_size), boxes, labels


def augment(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    max_shift: float = 0.1,
    flip: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random translation (crop and pad by up to ``max_shift`` of the size, grey fill) and horizontal flip.

    Boxes move with the image, are clipped to it, and dropped when less than 30 % of them stays visible
    (a DontCare region, class :data:`IGNORE`, is kept as long as 2 px of it are).
    """
    H, W = image.shape[:2]
    dx = int(rng.integers(-int(max_shift * W), int(max_shift * W) + 1)) if max_shift > 0 else 0
    dy = int(rng.integers(-int(max_shift * H), int(max_shift * H) + 1)) if max_shift > 0 else 0
    out = np.full_like(image, 128)
    out[max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = image[
        max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)
    ]
    clipped, share = visible_share(boxes + np.array([dx, dy, dx, dy], dtype=np.float64), (W, H))
    ok = (
        ((share >= 0.3) | (labels == IGNORE))  # any visible part of a DontCare region is ignored
        & (clipped[:, 2] - clipped[:, 0] >= 2)
        & (clipped[:, 3] - clipped[:, 1] >= 2)
    )
    clipped, labels = clipped[ok], labels[ok]
    if flip and rng.random() < 0.5:
        out = out[:, ::-1]
        clipped = np.c_[W - clipped[:, 2], clipped[:, 1], W - clipped[:, 0], clipped[:, 3]].clip(0, W - 1)
    return np.ascontiguousarray(out), clipped, labels


#: Training-time camera randomisation on top of the renderer's (ranges of :func:`photometric`). The
#: renderer already draws exposure target, gamma, white balance, saturation, lens blur, vignetting and
#: sensor noise per sequence (simulation.camera_style), so only what it holds fixed within a sequence is
#: left here: auto-exposure that changes from frame to frame, and sensor noise drawn per image. The wider
#: ranges made for the flat renderer (exposure x0.6-1.5, contrast, white balance, gamma 0.7-1.4, box blur,
#: noise up to 8 levels) moved the realistic renders away from the real images (Jensen-Shannon of the
#: saturation histogram 0.006 -> 0.054, colour 0.04-0.05 -> 0.06-0.07); these leave saturation at 0.007
#: and colour at 0.04-0.06 (scripts/camera_vs_real.py, docs/squeezedet.md).
PHOTOMETRIC_EXPOSURE = (0.85, 1.18)
PHOTOMETRIC_NOISE_MAX = 3.0  # grey levels (std), drawn per image from 0 to this


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random camera response per training image: exposure x :data:`PHOTOMETRIC_EXPOSURE` (frame-to-frame
    auto-exposure) and Gaussian sensor noise of std 0-:data:`PHOTOMETRIC_NOISE_MAX` grey levels. Geometry
    is untouched, so the boxes stay valid."""
    x = image.astype(np.float32) * rng.uniform(*PHOTOMETRIC_EXPOSURE)
    x = x + rng.normal(0.0, rng.uniform(0.0, PHOTOMETRIC_NOISE_MAX), size=x.shape).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)


class DetectionData:
    """Frames of one KITTI object folder prepared for a model config: images at the input size, targets."""

    def __init__(self, frames: list[Frame], config, cache: bool | None = None, paste=None,
                 paste_prob: float = 0.5):
        """``paste``: a :class:`squeezeseg.detection.paste.CropBank` whose real object crops are pasted
        into a ``paste_prob`` share of the augmented training images (copy-paste augmentation)."""
        self.frames = frames
        self.config = config
        self.paste, self.paste_prob = paste, paste_prob
        self.anchors = config.anchors()
        self.cache = len(frames) <= 2000 if cache is None else cache
        self._cache: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def example(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image uint8 at the input size, boxes, labels) of frame ``i`` (cached when enabled)."""
        if i in self._cache:
            return self._cache[i]
        ex = load_frame(self.frames[i], self.config.classes, self.config.input_size)
        if self.cache:
            self._cache[i] = ex
        return ex

    def targets(self, boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
        from squeezeseg.detection.targets import assign

        ignore = labels == IGNORE
        return assign(
            self.anchors, boxes[~ignore], labels[~ignore], ignore=boxes[ignore],
            positive_iou=self.config.positive_iou,
        ).packed(len(self.config.classes))

    def generator(self, augment_data: bool, seed: int = 0, shuffle: bool = True):
        """Infinite-per-call generator of (float32 image, packed targets); one pass over the frames."""
        rng = np.random.default_rng(seed)

        def gen():
            order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
            for i in order:
                img, boxes, labels = self.example(int(i))
                if augment_data:
                    img, boxes, labels = augment(img, boxes, labels, rng)
                    if self.paste is not None and rng.random() < self.paste_prob:
                        classes = self.config.classes
                        img, boxes, labels = self.paste.paste_into(img, boxes, labels, classes, rng)
                    if getattr(self.config, "photometric", False):
                        img = photometric(img, rng)
                yield img.astype(np.float32), self.targets(boxes, labels)

        return gen

    def dataset(self, batch_size: int, augment_data: bool = True, seed: int = 0, shuffle: bool = True):
        """tf.data pipeline of batches (images (B, H, W, 3) float 0..255, targets (B, A, 9 + C)), repeated."""
        import tensorflow as tf

        W, H = self.config.input_size
        sig = (
            tf.TensorSpec((H, W, 3), tf.float32),
            tf.TensorSpec((len(self.anchors), 9 + len(self.config.classes)), tf.float32),
        )
        ds = tf.data.Dataset.from_generator(self.generator(augment_data, seed, shuffle), output_signature=sig)
        return ds.repeat().batch(batch_size, drop_remainder=False).prefetch(2)
