"""How tightly SqueezeDet models' car boxes fit, on the six real labelled KITTI images and on a simulated
held-out split (issue #23): share of the cars KITTI scores at moderate difficulty whose best detection
reaches IoU 0.5 / 0.7, and the median centre and size offsets of the matched ones. Real labels measure
only.

    .venv/bin/python scripts/det_localisation.py [MODEL.keras ...] [--sim runs/squeezedet_sim_t]
        [--sim-split val|train] [--by-height] [--json OUT]

``--sim-split train`` measures the training images themselves: against the held-out split it tells
overfitting (tight on the training scenes, loose on new ones) from a limit of the network or the input
resolution (loose on both); ``--by-height`` adds the same summary per box-height band.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS = ("objects", "median_best_iou", "share_iou05", "share_iou07", "matched",
           "median_dx", "median_dy", "median_log_w", "median_log_h")


def report(model_path: str, sim: Path | None, min_score: float, sim_frames: int, sim_split: str = "val",
           by_height: bool = False) -> dict:
    """Localisation summaries of one model: ``{"real6": ..., "sim_<split>": ...}``, each with a
    ``"by_height"`` entry when asked."""
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.evaluate import collect_frames, detections, real_validation_dirs
    from squeezeseg.detection.localisation import localisation

    det = SqueezeDetector.load(model_path)
    sets = {}
    reals = real_validation_dirs()
    if reals:
        sets["real6"] = collect_frames(reals, det.classes)
    if sim is not None:
        sets[f"sim_{sim_split}"] = collect_frames(sim, det.classes, sim_split)[:sim_frames]
    out = {}
    for name, frames in sets.items():
        dets = detections(det, frames, score_threshold=min_score)
        loc = localisation([f.objects for f in frames], dets)
        out[name] = loc.summary()
        if by_height:
            out[name]["by_height"] = loc.by_height()
    return out


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def fmt(v: float | int | None) -> str:
    """A table cell: '-' for None, two decimals for floats."""
    return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="SqueezeDet .keras files (default: the shipped one)")
    p.add_argument("--sim", default=None, help="simulated KITTI object folder with a val split")
    p.add_argument("--sim-frames", type=positive_int, default=150, help="first N frames of its split")
    p.add_argument("--sim-split", default="val", choices=("val", "train"),
                   help="which split of --sim to measure (train: the images a model learnt from)")
    p.add_argument("--by-height", action="store_true", help="also per box-height band (25-35-50-80 px)")
    p.add_argument("--min-score", type=float, default=0.05, help="detections below this score are ignored")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    from squeezeseg.detection.data import read_split
    from squeezeseg.detection.evaluate import real_validation_dirs
    from squeezeseg.errors import InputError
    from squeezeseg.resources import default_model_path

    models = args.models or [str(default_model_path("squeezedet"))]
    sim = Path(args.sim) if args.sim else None
    for path in [*map(Path, models), *([sim] if sim else [])]:
        if not path.exists():
            print(f"error: {path}: not found", file=sys.stderr)
            return 2
    if sim is None and not real_validation_dirs():
        print("error: nothing to measure: no real labelled images (../shared/data missing?) and no --sim",
              file=sys.stderr)
        return 2
    try:
        if sim is not None:
            read_split(sim, args.sim_split)  # a folder without the split is refused before any model loads
        results = {m: report(m, sim, args.min_score, args.sim_frames, args.sim_split, args.by_height)
                   for m in models}
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("model | set | " + " | ".join(COLUMNS))
    for m, sets in results.items():
        for name, s in sets.items():
            cells = " | ".join(fmt(s.get(c)) for c in COLUMNS)
            print(f"{Path(m).parent.name}/{Path(m).name} | {name} | {cells}")
            for band, b in s.get("by_height", {}).items():
                cells = " | ".join(fmt(b.get(c)) for c in COLUMNS)
                print(f"{Path(m).parent.name}/{Path(m).name} | {name}, {band} | {cells}")
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
