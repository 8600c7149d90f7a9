"""LiDAR-guided 2D labels for real camera images (issue #23 item 2): training data without real labels.

For each unlabelled real scan with its camera image and calibration:
1. the shipped segmenter (`squeezeseg.load_model`, `predict_points`) labels every point car /
   pedestrian / cyclist / background;
2. LATTE's one-click annotator (`OneClickAnnotator.set_frame`: ground removal) gives the non-ground
   points in front of the camera, which DBSCAN groups into objects (`squeezeseg.instances`);
3. an object whose points the segmenter mostly calls one class (at least ``--vote`` of them) is fitted
   with the one-click rectangle fit and size prior (`OneClickAnnotator.fit`) and kept when the fitted
   box is plausible for the class; a "car" at least VAN_HEIGHT tall is a Van (KITTI's types: the
   detector has a Van class of its own); its points are projected through the calibration into a
   2D box (bottom lowered to the ground, see :func:`points_box`).

The output is a KITTI object folder (`training/image_2`, `training/label_2`, `ImageSets/train.txt`)
that `squeezedet train` reads. Frames whose calibration may not be their own (KITTI object testing
000000-000005, see ../shared/data/README.md) are skipped. Real LABELLED images are never read here.

    .venv/bin/python scripts/lidar_guided_labels.py --out runs/det23/lidar_labels
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

log = logging.getLogger("lidar_guided_labels")

#: Plausible fitted sizes (length, width, height ranges in metres) of each class kept as a label.
PLAUSIBLE = {
    "Car": ((2.8, 5.5), (1.3, 2.2), (1.0, 1.8)),
    "Van": ((3.8, 6.5), (1.6, 2.4), (1.8, 2.8)),
    "Pedestrian": ((0.2, 1.3), (0.2, 1.3), (1.0, 2.1)),
    "Cyclist": ((1.2, 2.3), (0.3, 1.2), (1.0, 2.1)),
}
#: A vehicle at least this tall (m) is a Van: KITTI cars average 1.53 m (std 0.14), vans 2.2 m.
VAN_HEIGHT = 1.8
#: Segmenter class names (squeezeseg.classes coarse names) to detector classes.
SEG_TO_DET = {"car": "Car", "pedestrian": "Pedestrian", "cyclist": "Cyclist"}
#: Object-testing frames whose calibration file is a shared copy (README): skipped.
UNTRUSTED_CALIB = {f"{i:06d}" for i in range(6)}


def sources(data: Path) -> list[tuple[str, object]]:
    """(name, dataset) of the unlabelled real scans with camera: the KITTI raw drive and the KITTI
    object testing frames."""
    from squeezeseg.datasets import open_dataset

    out = []
    for name, sub in (("kitti_raw", "kitti_raw"), ("object_testing", "kitti_object/testing")):
        if (data / sub).is_dir():
            out.append((name, open_dataset(data / sub)))
        else:
            log.warning("%s not found: skipped", data / sub)
    return out


def camera_points(points: np.ndarray, calib, image_shape: tuple, max_range: float) -> np.ndarray:
    """Indices of the points in front of the camera that land in the image, within ``max_range``."""
    from latte.core.fusion import project_points

    _, inside = project_points(points, calib, (image_shape[1], image_shape[0]))
    inside &= np.hypot(points[:, 0], points[:, 1]) < max_range
    return np.flatnonzero(inside)


def plausible(box, label: str) -> bool:
    """The fitted box's size lies in the class's plausible range."""
    return all(lo <= s <= hi for s, (lo, hi) in zip(box.size, PLAUSIBLE[label]))


def points_box(xyz: np.ndarray, calib, ann) -> np.ndarray:
    """The 2D box of an object's visible points, its bottom lowered to where the lowest of them meet
    the ground (ground removal takes the wheels' last 0.2 m). The projected 3D box would be looser:
    the size prior grows a partial view away from the sensor and its near corners project wide."""
    gz = ann.ground.ground_z(float(xyz[:, 0].mean()), float(xyz[:, 1].mean())) if ann.ground else None
    low = xyz[xyz[:, 2] < xyz[:, 2].min() + 0.5].copy()
    if gz is not None and xyz[:, 2].min() - gz < 1.0:
        low[:, 2] = gz
    uv, _ = calib.velo_to_image(np.r_[xyz, low])
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def frame_labels(points, image, calib, segmenter, ann, args) -> list:
    """The 2D labels (Object2D) of one frame: the objects kept, and a DontCare region over every other
    cluster of which one class holds ``--dontcare-vote`` of the points (too far, too few points, an
    implausible fit, cut by the image border...), boxed around that class's points, so that training
    neither learns it as an object nor as background; clusters larger than any van stay background."""
    from squeezeseg.detection.box2d import visible_share
    from squeezeseg.detection.labels import Object2D
    from squeezeseg.instances import dbscan_instances

    seg = np.asarray(segmenter.predict_points(points))
    names = [n.lower() for n in segmenter.classes]
    ann.set_frame(points)
    cand = np.intersect1d(camera_points(points, calib, image.shape, args.dontcare_range), ann._obj_idx)
    fg = np.zeros(len(points), np.int32)
    fg[cand] = 1
    inst = dbscan_instances(points[:, :3], fg, eps=args.eps, min_points=5, max_points=10**6)
    out, unsure = [], []
    for k in np.unique(inst[inst > 0]):
        idx = np.flatnonzero(inst == k)
        votes = np.bincount(seg[idx], minlength=len(names))
        votes[[i for i, n in enumerate(names) if n not in SEG_TO_DET]] = 0
        best = int(np.argmax(votes))
        if votes[best] < args.dontcare_vote * len(idx):
            continue  # background
        obj = None
        if votes[best] >= args.vote * len(idx) and len(idx) >= args.min_points:
            obj = object_label(points, idx, SEG_TO_DET[names[best]], image.shape, calib, ann, args)
        if obj is not None:
            out.append(obj)
        elif not larger_than_a_van(ann.fit(idx, "Van")):  # a truck, bus or tram stays a negative
            unsure.append(idx[seg[idx] == best])  # the points that vote: a car merged with a hedge
    h, w = image.shape[:2]
    for idx in unsure:
        box = visible_share(points_box(points[idx, :3], calib, ann), (w, h))[0][0]
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            out.append(Object2D("DontCare", tuple(float(v) for v in box), -1.0, -1))
    return out


def larger_than_a_van(box) -> bool:
    """The fitted box exceeds the largest plausible Van in some dimension (KITTI scores a car
    detection on a truck as a false positive, so such objects must stay negatives)."""
    return any(s > hi for s, (_, hi) in zip(box.size, PLAUSIBLE["Van"]))


def object_label(points, idx, label, image_shape, calib, ann, args):
    """The 2D label of one cluster the segmenter calls ``label``, or None when its fit is implausible,
    it is beyond ``--max-range``, too small in the image or more than half outside it."""
    from squeezeseg.detection.labels import Object2D

    if np.hypot(*points[idx, :2].mean(axis=0)) > args.max_range:
        return None
    box = ann.fit(idx, label)
    if label == "Car" and box.size[2] >= VAN_HEIGHT:  # the segmenter's car holds vans: KITTI's Van
        label, box = "Van", ann.fit(idx, "Van")
    if not plausible(box, label):
        return None
    from squeezeseg.detection.box2d import visible_share

    size = (image_shape[1], image_shape[0])
    full = box.image_box(calib, None)  # the whole 3D box: how much of the object leaves the image
    clipped = visible_share(points_box(points[idx, :3], calib, ann), size)[0][0]
    if full is None or clipped[3] - clipped[1] < args.min_height:
        return None
    trunc = float(np.clip(1.0 - visible_share(full, size)[1][0], 0, 1))
    if trunc > 0.5:
        return None
    return Object2D(label, tuple(float(v) for v in clipped), round(trunc, 2), 0)


def parser() -> argparse.ArgumentParser:
    """The command line (its defaults are the labeller's settings, shared with lidar_labels_vs_real.py)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    p.add_argument("--out", default=str(REPO / "runs" / "det23" / "lidar_labels"))
    p.add_argument("--vote", type=float, default=0.5, help="share of a cluster's points of its class")
    p.add_argument("--min-points", type=int, default=30, help="fewest points of an object")
    p.add_argument("--eps", type=float, default=0.6, help="DBSCAN neighbour distance (m)")
    p.add_argument("--max-range", type=float, default=45.0)
    p.add_argument("--min-height", type=float, default=20.0, help="smallest 2D box height (px)")
    p.add_argument("--dontcare-vote", type=float, default=0.2,
                   help="share of object points that makes an unlabelled cluster a DontCare region")
    p.add_argument("--dontcare-range", type=float, default=80.0, help="DontCare regions up to this range (m)")
    p.add_argument("--draw", action="store_true", help="also write the images with the labels drawn")
    return p


def main() -> int:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    import squeezeseg
    from latte.core.oneclick import OneClickAnnotator
    from squeezeseg.detection.detect import draw_detections
    from squeezeseg.detection.labels import write_kitti_2d

    data, out = Path(args.data), Path(args.out)
    img_dir, lab_dir = out / "training" / "image_2", out / "training" / "label_2"
    for d in (img_dir, lab_dir, out / "ImageSets"):
        d.mkdir(parents=True, exist_ok=True)
    segmenter = squeezeseg.load_model()
    ann = OneClickAnnotator()
    ids, counts, t0 = [], {}, time.time()
    for name, ds in sources(data):
        for i in range(len(ds)):
            fr = ds[i]
            fid = str(getattr(fr, "frame_id", i))
            if name == "object_testing" and fid in UNTRUSTED_CALIB:
                continue
            if fr.image is None or fr.calib is None:
                log.warning("%s %s: no image or calibration, skipped", name, fid)
                continue
            objs = frame_labels(np.asarray(fr.points), fr.image, fr.calib, segmenter, ann, args)
            stem = f"{name}_{fid}"
            from PIL import Image

            Image.fromarray(fr.image).save(img_dir / f"{stem}.png")
            write_kitti_2d(lab_dir / f"{stem}.txt", objs)
            if args.draw:
                (out / "drawn").mkdir(exist_ok=True)
                draw_detections(fr.image, objs).save(out / "drawn" / f"{stem}.png")
            ids.append(stem)
            for o in objs:
                counts[o.label] = counts.get(o.label, 0) + 1
            log.info("%s: %d labels", stem, len(objs))
    (out / "ImageSets" / "train.txt").write_text("\n".join(ids) + "\n")
    shutil.copy(Path(__file__), out / "made_by.py")
    print(f"{len(ids)} images, labels {counts}, {time.time() - t0:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
