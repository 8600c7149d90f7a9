"""Camera fusion on the real KITTI object frames (../shared/data/kitti_object).

1. Projection: the 2D box of each projected ground-truth 3D box against the KITTI 2D box (IoU),
   for objects not truncated by the image border.
2. Frustum proposals: the KITTI 2D boxes read by the file detector give 3D proposals from the points
   in their frustums; each is compared with the ground-truth 3D box (BEV IoU).

Usage: .venv/bin/python scripts/bench_latte_fusion.py [--data DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from latte.core.detector import FileDetector
from latte.core.fusion import box_image_box, check_calib_image, frustum_proposals, iou_2d
from latte.core.oneclick import OneClickAnnotator
from latte.core.sequence import open_sequence
from squeezeseg.io import read_kitti_labels
from squeezeseg.resources import shared_data_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_data_dir() / "kitti_object")
    args = ap.parse_args()
    seq = open_sequence(args.data)
    detector = FileDetector(seq.labels_path)
    ann = OneClickAnnotator()
    ious2d, bev = [], []
    for i in range(len(seq)):
        calib, image = seq.calib(i), seq.image(i)
        check_calib_image(calib, image.shape)
        gt = read_kitti_labels(seq.frames[i].labels, calib)
        for box in gt:
            if box.truncated is None or box.truncated > 0 or box.box2d is None:
                continue
            proj = box_image_box(box, calib)
            iou = 0.0 if proj is None else iou_2d(proj, np.asarray(box.box2d))
            ious2d.append(iou)
            print(f"frame {seq.frame_id(i)} {box.label:<10} projected-box IoU {iou:.3f}")
        ann.set_frame(seq.points(i))
        for prop in frustum_proposals(ann, calib, detector.detect(image, seq.frame_id(i))):
            best = max((prop.bev_iou(g) for g in gt if g.label == prop.label), default=0.0)
            bev.append(best)
            print(
                f"frame {seq.frame_id(i)} {prop.label:<10} frustum proposal BEV IoU {best:.3f} "
                f"({len(prop.point_indices)} points)"
            )
    ious2d = np.asarray(ious2d)
    print(
        f"projected 3D box vs KITTI 2D box: {len(ious2d)} untruncated objects, min IoU {ious2d.min():.3f}, "
        f"median {np.median(ious2d):.3f}, {np.mean(ious2d >= 0.7) * 100:.0f}% >= 0.7"
    )
    if bev:
        print(f"frustum proposals: {len(bev)}, median BEV IoU {np.median(bev):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
