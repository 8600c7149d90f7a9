"""Class IoU of INT8 exports of a segmentation model against its float Keras model on the real
validation (``squeezeseg.evaluate.evaluate_real``), for several calibration settings: which one keeps
every real set and class within a point of float (issue #21 item 4)?

    .venv/bin/python scripts/int8_iou_variants.py [--model squeezeseg/weights/default.keras]
        [--variant NAME:RANGES:COUNT[:all] ...] [--json FILE]

A variant is a name, the activation-range method (percentile, mse, minmax), the number of calibration
frames (equal shares of ``bench_int8.calibration_sources``: simulated training scans of
``runs/sim2_kr200`` and the unlabelled real scans ``kitti_object/testing`` and ``kitti_pcd``) and
optionally ``all`` for ``--quantize-all``. Every export runs its CRF after the network
(the default). Prints one table row per variant: each set's class IoU and the largest difference to
float in points.
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


def largest_gap(a: dict, b: dict) -> float:
    """Largest |IoU difference| in points over the sets and classes both have a figure for."""
    gaps = [abs(a[s][c] - b[s][c]) for s in a for c in a[s] if s in b and c in b[s]
            and a[s][c] == a[s][c] and b[s][c] == b[s][c]]
    return max(gaps, default=0.0)


def main() -> int:
    from bench_int8 import calibration_sources

    from squeezeseg.export.exporter import export_model
    from squeezeseg.resources import default_model_path
    from squeezeseg.runtime import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--variant", nargs="+", default=DEFAULT_VARIANTS)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cal = [c for c in calibration_sources() if c != "synthetic"]
    res: dict = {"model": str(args.model), "calibration": cal,
                 "keras": scores(load_model(args.model, "keras"))}
    with tempfile.TemporaryDirectory() as d:
        for spec in args.variant:
            name, ranges, count, *flags = spec.split(":")
            out = export_model(args.model, "int8", Path(d) / f"{name}.tflite", cal, int(count),
                               quantize_all="all" in flags, ranges=ranges)
            res[name] = scores(load_model(out, "tflite"))
            print(f"{name}: largest gap {largest_gap(res['keras'], res[name]):.1f} points", flush=True)
    sets = list(res["keras"])
    print("\n| variant | " + " | ".join(f"{s} car / ped / cyc" for s in sets) + " | largest gap |")
    print("| --- |" + " --- |" * (len(sets) + 1))
    for name in ["keras", *[v.split(":")[0] for v in args.variant]]:
        cells = [" / ".join(f"{res[name][s].get(c, float('nan')):.1f}"
                            for c in ("car", "pedestrian", "cyclist")) for s in sets]
        gap = "" if name == "keras" else f"{largest_gap(res['keras'], res[name]):.1f}"
        print(f"| {name} | " + " | ".join(cells) + f" | {gap} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
