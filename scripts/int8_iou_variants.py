"""Class IoU of INT8 exports of a segmentation model against its float Keras model on the real
validation (``squeezeseg.evaluate.evaluate_real``), for several calibration settings: which one keeps
every real set and class within a point of float (issue #21 item 4)?

    .venv/bin/python scripts/int8_iou_variants.py [--model squeezeseg/weights/default.keras]
        [--variant NAME:RANGES:COUNT[:all][:float=LAYER+LAYER...] ...] [--json FILE]

A variant is a name, the activation-range method (percentile, mse, minmax), the number of calibration
frames (equal shares of ``bench_int8.calibration_sources``: simulated training scans of
``runs/sim2_kr200`` and the unlabelled real scans ``kitti_object/testing`` and ``kitti_pcd``) and
optionally ``all`` for ``--quantize-all`` and ``float=fire6+fire7`` for layers kept in float
(``--keep-float``). Every export runs its CRF after the network (the default). Prints one table row
per variant: each set's class IoU, the largest difference to float in points, and how many points of
the labelled real scans change between car and not car against float (in % of float's car points).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

DEFAULT_VARIANTS = ["percentile32:percentile:32", "percentile96:percentile:96", "mse32:mse:32",
                    "minmax32:minmax:32"]


def scores(seg) -> dict[str, dict[str, float]]:
    """{set: {class: IoU %}} of the real validation (NaN where a class is in neither labels nor
    prediction)."""
    from squeezeseg.evaluate import evaluate_real, real_summary

    summary = real_summary(evaluate_real(seg))
    return {name: {c: float("nan") if v["iou"] is None else 100 * v["iou"] for c, v in per.items()}
            for name, per in summary.items() if isinstance(per, dict)}


def real_scans() -> list[Path]:
    """The whole labelled real scans of the validation sets (``evaluate.REAL_SETS``: SemanticKITTI frames
    with labels, labelled KITTI object frames), for counting changed car labels."""
    from squeezeseg.data.sources import semantickitti_frames
    from squeezeseg.datasets import open_dataset
    from squeezeseg.evaluate import REAL_SETS
    from squeezeseg.resources import shared_data_dir

    scans: list[Path] = []
    for sub, kind in REAL_SETS.values():
        path = shared_data_dir() / sub
        if not path.is_dir():
            continue
        if kind == "semantickitti":
            scans += [scan for scan, _ in semantickitti_frames(path, "all")]
        elif kind == "kitti-object":
            scans += [f.scan for f in open_dataset(path, kind="kitti_object").frames if f.labels is not None]
    return scans


def car_labels(seg, scans: list[Path]) -> list:
    """Per scan, the boolean car mask of ``seg``'s labels over the whole circle."""
    from squeezeseg.io import read_points

    car = seg.classes.index("car")
    return [seg.predict_points(read_points(p)) == car for p in scans]


def changed_car_share(ref: list, other: list) -> float:
    """Points whose car / not-car label differs between two label lists, in % of ``ref``'s car points."""
    changed = sum(int((a ^ b).sum()) for a, b in zip(ref, other))
    return 100.0 * changed / max(1, sum(int(a.sum()) for a in ref))


def largest_gap(a: dict, b: dict) -> float:
    """Largest |IoU difference| in points over the sets and classes both have a figure for."""
    gaps = [abs(a[s][c] - b[s][c]) for s in a for c in a[s] if s in b and c in b[s]
            and a[s][c] == a[s][c] and b[s][c] == b[s][c]]
    return max(gaps, default=0.0)


def main() -> int:
    from bench_int8 import calibration_sources

    from squeezeseg.errors import InputError
    from squeezeseg.export.exporter import export_model
    from squeezeseg.resources import default_model_path
    from squeezeseg.runtime import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--variant", nargs="+", default=DEFAULT_VARIANTS)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cal = [c for c in calibration_sources() if c != "synthetic"]
    keras_seg = load_model(args.model, "keras")
    scans = real_scans()
    ref = car_labels(keras_seg, scans)
    res: dict = {"model": str(args.model), "calibration": cal, "keras": scores(keras_seg), "changed": {}}
    with tempfile.TemporaryDirectory() as d:
        for spec in args.variant:
            name, ranges, count, *flags = spec.split(":")
            keep = [f.split("=", 1)[1] for f in flags if f.startswith("float=")]
            try:
                out = export_model(args.model, "int8", Path(d) / f"{name}.tflite", cal, int(count),
                                   quantize_all="all" in flags, ranges=ranges,
                                   keep_float=keep[0].split("+") if keep else ())
            except InputError as exc:
                print(f"error: variant {name}: {exc}", file=sys.stderr)
                return 2
            seg = load_model(out, "tflite")
            res[name] = scores(seg)
            res["changed"][name] = changed_car_share(ref, car_labels(seg, scans))
            print(f"{name}: largest gap {largest_gap(res['keras'], res[name]):.1f} points, "
                  f"{res['changed'][name]:.1f} % of float's car points changed", flush=True)
    sets = list(res["keras"])
    print(f"\nchanged car labels: over {len(scans)} labelled real scans")
    print("\n| variant | " + " | ".join(f"{s} car / ped / cyc" for s in sets) + " | largest gap | changed |")
    print("| --- |" + " --- |" * (len(sets) + 2))
    for name in ["keras", *[v.split(":")[0] for v in args.variant]]:
        cells = [" / ".join(f"{res[name][s].get(c, float('nan')):.1f}"
                            for c in ("car", "pedestrian", "cyclist")) for s in sets]
        gap = "" if name == "keras" else f"{largest_gap(res['keras'], res[name]):.1f}"
        changed = "" if name == "keras" else f"{res['changed'][name]:.1f} %"
        print(f"| {name} | " + " | ".join(cells) + f" | {gap} | {changed} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
