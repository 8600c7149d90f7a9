#!/usr/bin/env python3
"""Where a segmentation model's false car points lie on the labelled KITTI object frames: outside
camera 2's image (the 90-degree window is wider than the camera's ~81 degrees, and nothing there is
boxed), inside a DontCare region (objects the labellers could not box), or inside the image with no
box at all (the model's own mistakes, e.g. fences and hedges). Also the car IoU with the first two
kinds left out, as KITTI's devkit leaves detections in DontCare regions out. Real labels only measure.

    .venv/bin/python scripts/false_cars_where.py [MODEL.keras ...] [--data ../shared/data]

Prints one row per model, set and frame (false car points by place, missed car points) and one per
model and set (sums, car IoU as evaluate_real scores it and with the two kinds ignored).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETS = ("kitti_object/training", "kitti_object_more/training")
KINDS = ("outside_image", "dontcare", "in_image")


def frame_places(seg, ds, i: int) -> dict[str, int]:
    """Counts of one frame's front-window car points: true, false by place, missed."""
    from squeezeseg.calib import project_points
    from squeezeseg.detection.labels import read_kitti_2d

    points = ds.points(i)
    truth, _ = ds.point_classes(i, seg.classes, points=points)
    calib = ds.calib(i)  # its image size bounds the camera view
    car = list(seg.classes).index("car")
    window = seg.projection.project(points[:, :4]).rows >= 0
    pred = (seg.predict_points(points, full_circle=False) == car) & window
    gt = (truth == car) & window
    uv, image = project_points(points, calib)
    dc = np.zeros(len(points), bool)
    for o in read_kitti_2d(ds.frames[i].labels):
        if o.label == "DontCare":
            left, top, right, bottom = o.box
            dc |= image & (uv[:, 0] >= left) & (uv[:, 0] <= right) & (uv[:, 1] >= top) & (uv[:, 1] <= bottom)
    false = pred & ~gt
    return {"true": int((pred & gt).sum()), "outside_image": int((false & ~image).sum()),
            "dontcare": int((false & dc).sum()), "in_image": int((false & image & ~dc).sum()),
            "missed": int((gt & ~pred).sum()), "missed_ignored": int((gt & ~pred & (~image | dc)).sum())}


def ious(c: dict[str, int]) -> tuple[float, float]:
    """(car IoU of all front-window points, car IoU with points outside the image or in DontCare left out)."""
    all_false = sum(c[k] for k in KINDS)
    plain = c["true"] / max(1, c["true"] + all_false + c["missed"])
    kept = c["true"] / max(1, c["true"] + c["in_image"] + c["missed"] - c["missed_ignored"])
    return plain, kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, help="segmentation models (default: the shipped one)")
    ap.add_argument("--data", type=Path, default=None, help="the real data (default ../shared/data)")
    args = ap.parse_args(argv)
    from squeezeseg.datasets import open_dataset
    from squeezeseg.errors import InputError
    from squeezeseg.resources import shared_data_dir
    from squeezeseg.runtime import load_model

    data = args.data or shared_data_dir()
    roots = [data / s for s in SETS if (data / s / "label_2").is_dir()]
    if not roots:
        print(f"error: {data}: no labelled KITTI object folder ({', '.join(SETS)})", file=sys.stderr)
        return 2
    try:
        models = [load_model(m) for m in args.models] or [load_model()]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| model | set | frame | true car | false: outside image | false: DontCare | false: in image "
          "| missed |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, seg in zip(args.models or ["shipped"], models):
        for root in roots:
            ds = open_dataset(root, kind="kitti_object")
            total = dict.fromkeys(("true", *KINDS, "missed", "missed_ignored"), 0)
            for i in range(len(ds)):
                if ds.frames[i].labels is None:
                    continue
                c = frame_places(seg, ds, i)
                total = {k: total[k] + c[k] for k in total}
                print(f"| {name} | {root.parent.name} | {ds.frame_id(i)} | {c['true']} | "
                      f"{c['outside_image']} | {c['dontcare']} | {c['in_image']} | {c['missed']} |")
            plain, kept = ious(total)
            print(f"| {name} | {root.parent.name} | all: car IoU {100 * plain:.1f}, {100 * kept:.1f} with "
                  f"outside-image and DontCare points ignored | {total['true']} | {total['outside_image']} | "
                  f"{total['dontcare']} | {total['in_image']} | {total['missed']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
