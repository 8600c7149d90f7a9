#!/usr/bin/env python3
"""Real validation of segmentation models (issue #19): one table of car, pedestrian and cyclist IoU,
precision and recall per labelled real set of ../shared/data, plus the share of points called car
inside the camera view of KITTI object frame 000000 (no vehicle there).

Sets (squeezeseg.evaluate.REAL_SETS): SemanticKITTI 00 frames with labels (whole 360-degree scans, per
point; car = car + moving car, pedestrian = person + moving person, cyclist = bicyclist + moving
bicyclist), KITTI object training frames in kitti_object/ and kitti_object_more/ (boxes as point labels,
front 90 degrees), the SqueezeSeg sample range image. Real labels only measure: nothing here trains.

Usage: .venv/bin/python scripts/eval_real.py [MODEL.keras ...] [--name NAME ...] [--json OUT.json]
       [--intensity-scale F] [--ensemble] [--car-bias B ...] [--sim DIR]
(no model: the shipped default). ``--ensemble`` adds a column for the models together: the mean of their
class probabilities, pixel by pixel (a diagnostic: does averaging trainings help on real scans?).
``--intensity-scale`` is a diagnostic: every real point's intensity is
multiplied by F (0: zeroed) before the model sees it, to show how much the model leans on intensity.
``--car-bias`` is a diagnostic too: each value B adds a column for every model with B added to its car
score (after the CRF, before the arg max), to show how thin the car decisions' margins are on real scans.
``--sim DIR`` adds a row "simulated" per model: the labelled scans of a simulated folder (the
simulator's kitti-raw layout, whole scans, its val split when it has one), scored like SemanticKITTI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def car_by_range(full: dict) -> str:
    """Car IoU / precision / recall (%) of each model per range band of the whole-scan sets
    (SemanticKITTI, and the simulated folder of ``--sim``), one line a model and set; empty when
    neither was evaluated."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    lines = []
    for name, res in full.items():
        for set_name in ("semantickitti", "simulated"):
            bands = res["sets"].get(set_name, {}).get("by_range")
            if not bands:
                continue
            cells = [f"{band} {pct(r['class']['car']['iou'])} / {pct(r['class']['car']['precision'])} / "
                     f"{pct(r['class']['car']['recall'])}" for band, r in bands.items()]
            lines.append(f"{set_name} car IoU / P / R by range, {name}: " + "; ".join(cells))
    return "\n".join(lines)


class ScaledIntensity:
    """A segmenter whose input intensity (column 3 of points and range images) is multiplied by
    ``factor`` and clipped to [0, 1] first; everything else is the wrapped segmenter's."""

    def __init__(self, segmenter, factor: float):
        self._seg, self._factor = segmenter, factor

    def __getattr__(self, name):
        return getattr(self._seg, name)

    def _scaled(self, array):
        out = np.array(array, dtype=np.float32, copy=True)
        out[..., 3] = np.clip(out[..., 3] * self._factor, 0.0, 1.0)
        return out

    def predict_points(self, points, **kw):
        return self._seg.predict_points(self._scaled(points), **kw)

    def predict_range_image(self, image, **kw):
        return self._seg.predict_range_image(self._scaled(image), **kw)


def default_names(models: list) -> list[str]:
    """Column names of ``models`` (paths, None = the shipped one): the file's stem, its folder's name for
    ``model.keras``, and folder/stem where two would share a name (two runs' model_calibrated.keras)."""
    names = ["default" if m is None else m.parent.name if m.name == "model.keras" else m.stem for m in models]
    return [f"{m.parent.name}/{m.stem}" if m is not None and names.count(n) > 1 else n
            for n, m in zip(names, models)]


def scored_by(like, predict, engine: str):
    """A segmenter with ``like``'s config, source and shape check whose class scores come from ``predict``."""
    from squeezeseg.segmenter import Segmenter

    out = Segmenter(predict, like.config, like.source, engine=engine)
    out.shape_check = like.shape_check
    return out


def biased(segmenter, class_name: str, bias: float):
    """A segmenter like ``segmenter`` whose ``class_name`` score gets ``bias`` added before the arg max."""
    from squeezeseg.errors import InputError

    if class_name not in segmenter.classes:
        raise InputError(f"the model has no class '{class_name}' (classes: {segmenter.classes})",
                         segmenter.source)
    vec = np.zeros(len(segmenter.classes), np.float32)
    vec[segmenter.classes.index(class_name)] = bias

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.asarray(segmenter.predict_fn(batch)) + vec

    return scored_by(segmenter, predict, f"{segmenter.engine}+bias")


def ensemble(segmenters: list):
    """One segmenter whose class scores are the mean of ``segmenters``' softmax probabilities (same
    classes, input size and field of view, else InputError); its shape check is the first one's."""
    from squeezeseg.detection.postprocess import softmax
    from squeezeseg.errors import InputError

    segmenters = list(segmenters)  # a copy: the caller may append the ensemble to its own list
    first = segmenters[0]
    for seg in segmenters[1:]:
        same = (seg.classes, seg.config.height, seg.config.width, seg.config.fov_deg) == (
            first.classes, first.config.height, first.config.width, first.config.fov_deg)
        if not same:
            raise InputError("cannot average: classes, input size or field of view differ from "
                             f"{first.source}", seg.source)

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.mean([softmax(np.asarray(s.predict_fn(batch), np.float64)) for s in segmenters], 0)

    return scored_by(first, predict, "ensemble")


def simulated_report(segmenter, root: Path) -> dict:
    """Class report (by range band too) of the labelled scans of a simulated kitti-raw folder: its val
    split when it has one, else every labelled scan; whole scans, per point, as SemanticKITTI is."""
    from squeezeseg.data.sources import semantickitti_frames
    from squeezeseg.evaluate import RANGE_BANDS, evaluate_point_labels

    rep = evaluate_point_labels(segmenter, semantickitti_frames(root, "val"), instances=False,
                                range_bands=RANGE_BANDS)
    rep.pop("confusion", None)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help=".keras models (default: the shipped one)")
    ap.add_argument("--name", action="append", default=None, help="column name of each model, in order")
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default ../shared/data)")
    ap.add_argument("--json", type=Path, default=None, help="also write the full results here")
    ap.add_argument("--no-shape-check", action="store_true",
                    help="keep car segments shaped like no vehicle (squeezeseg.plausibility)")
    ap.add_argument("--intensity-scale", type=float, default=None, metavar="F",
                    help="diagnostic: multiply every real point's intensity by F (0 zeroes it) first")
    ap.add_argument("--ensemble", action="store_true",
                    help="also score the models together (mean of their class probabilities)")
    ap.add_argument("--car-bias", type=float, nargs="+", default=[], metavar="B",
                    help="diagnostic: also score each model with B added to its car score")
    ap.add_argument("--sim", type=Path, default=None, metavar="DIR",
                    help="also score the labelled scans of this simulated folder (row 'simulated')")
    args = ap.parse_args(argv)

    from squeezeseg.errors import InputError
    from squeezeseg.evaluate import evaluate_real, format_real_table, real_summary
    from squeezeseg.runtime import load_model

    models = args.models or [None]
    names = args.name or default_names(models)
    if len(names) != len(models):
        raise SystemExit("give one --name per model")
    try:
        if args.sim is not None:
            from squeezeseg.data.sources import semantickitti_frames

            semantickitti_frames(args.sim, "val")  # a missing folder is named before any model runs
        loaded = [load_model(path) for path in models]
        for name, seg in list(zip(names, loaded)):  # not the ensemble: it outputs probabilities
            for b in dict.fromkeys(args.car_bias):
                loaded.append(biased(seg, "car", b))
                names.append(f"{name} car{b:+g}")
        if args.ensemble:
            loaded.append(ensemble(loaded[:len(models)]))
            names.append("ensemble")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    full, summaries = {}, {}
    for name, seg in zip(names, loaded):
        t0 = time.time()
        seg.shape_check = not args.no_shape_check
        if args.intensity_scale is not None:
            seg = ScaledIntensity(seg, args.intensity_scale)
        res = evaluate_real(seg, args.data)
        if not res["sets"]:
            print("error: no real labelled set found under the shared data folder", file=sys.stderr)
            return 2
        if args.sim is not None:
            res["sets"]["simulated"] = simulated_report(seg, args.sim)
        res["model"] = str(seg.source)
        res["seconds"] = round(time.time() - t0, 1)
        full[name], summaries[name] = res, real_summary(res)
    print(format_real_table(summaries))
    print(car_by_range(full))
    frames = {s: r["frames"] for s, r in next(iter(full.values()))["sets"].items()}
    print("frames per set: " + ", ".join(f"{s} {n}" for s, n in frames.items()))
    print("load average (1, 5, 15 min): " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.json:
        from squeezeseg.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps({"results": full, "summary": summaries}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
