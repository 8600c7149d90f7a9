"""Fine-tune the shipped SqueezeDet on simulated images plus LiDAR-guided labels of real images (issue #23).

1. A training folder (KITTI object layout, symlinks) from the simulated training split (`--sim`, split
   train), every labelled frame of further simulated seeds (`--extra-sim`: more scenes) and, unless
   ``--no-real``, the LiDAR-guided labels of unlabelled real images (`scripts/lidar_guided_labels.py`),
   those repeated ``--real-repeat`` times (31 real images against
   192 simulated ones); simulated Vans are kept as the Van class (the detector gets a Van class,
   started from its Car weights).
2. `squeezeseg.detection.train.train` from the shipped weights (`init_from`; `--positive-iou` sets the
   config's anchor assignment, see docs/squeezedet.md), a short run
   (``--steps`` with a wall-clock cap, checkpoints and resume in ``--run-dir``).
3. Per-class score thresholds tuned on the SIMULATED validation split (`squeezedet tune` logic), then
   KITTI AP on the six real labelled images (validation only, never training) and the simulated
   held-out split; all of it in ``RUN_DIR/report.json``.

    nohup .venv/bin/python scripts/finetune_squeezedet.py --run-dir runs/det23/ft_real \
        > runs/det23/ft_real.log 2>&1 &
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLASSES = ["Car", "Van", "Pedestrian", "Cyclist"]


def link_frames(src_root: Path, ids: list[str], dst: Path, prefix: str) -> int:
    """Symlink image and label of each id of ``src_root`` (KITTI object layout) into ``dst``."""
    from squeezeseg.detection.data import layout_dirs

    img_dir, lab_dir = layout_dirs(src_root)
    n = 0
    for i in ids:
        img = next((p for p in img_dir.glob(f"{i}.*")), None)
        if img is None:
            continue
        label = lab_dir / f"{i}.txt"
        pairs = ((img, "image_2", f"{prefix}{i}{img.suffix}"), (label, "label_2", f"{prefix}{i}.txt"))
        for src, sub, name in pairs:
            target = dst / "training" / sub / name
            if target.is_symlink() and target.resolve() != src.resolve():
                target.unlink()  # a rerun of the run folder with another source under this name
            if not target.exists():
                os.symlink(src.resolve(), target)
        n += 1
    return n


def build_mix(
    sim: Path, real: Path | None, repeat: int, out: Path, extra_sim: Sequence[Path] = ()
) -> dict:
    """The training folder; returns how many images came from where. Every labelled frame of an
    ``extra_sim`` folder trains (other simulated seeds: more scenes), while ``sim``'s val split stays
    held out, so an extra folder must be neither ``sim`` nor another extra (InputError)."""
    from squeezeseg.detection.data import read_split, scan_frames
    from squeezeseg.errors import InputError

    seen = {sim.resolve()}
    for extra in extra_sim:
        if extra.resolve() in seen:
            raise InputError("given twice, or the --sim folder whose val split must stay held out", extra)
        seen.add(extra.resolve())
    extra_ids = [[f.name for f in scan_frames(extra, CLASSES)] for extra in extra_sim]  # checks the layout
    for sub in ("image_2", "label_2"):
        (out / "training" / sub).mkdir(parents=True, exist_ok=True)
    counts = {"sim": link_frames(sim, read_split(sim, "train"), out, "sim_")}
    for k, (extra, ids) in enumerate(zip(extra_sim, extra_ids, strict=True)):
        counts[f"extra_sim_{k}"] = link_frames(extra, ids, out, f"x{k}_")
    if real is not None:
        ids = read_split(real, "train")
        counts["real_lidar_guided"] = sum(link_frames(real, ids, out, f"lg{r}_") for r in range(repeat))
    return counts


def ap_table(results: dict) -> dict:
    """{class: {difficulty: {ap11, ap40, n_gt}}} in percent (None without ground truth)."""
    num = lambda v: None if math.isnan(v) else round(100 * v, 2)  # noqa: E731
    return {
        c: {d: {"ap11": num(r.ap11), "ap40": num(r.ap40), "n_gt": r.n_gt} for d, r in by.items()}
        for c, by in results.items()
    }


def evaluate_all(model_path: Path, sim: Path) -> dict:
    """Real-image AP (curve and devkit methods; the curve also at IoU 0.5 for every class, a diagnostic)
    and simulated held-out AP of a model."""
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.evaluate import evaluate_model, real_validation_dirs
    from squeezeseg.detection.kitti_eval import format_results

    det = SqueezeDetector.load(model_path)
    report = {}
    held = evaluate_model(det, sim, split="val")[det.config.nms_threshold]
    print("simulated held-out (devkit AP, %)\n" + format_results(held))
    report["heldout_sim_devkit"] = ap_table(held)
    reals = real_validation_dirs()
    if reals:
        for key, method, iou in (("curve", "curve", None), ("devkit", "devkit", None),
                                 ("curve_iou05", "curve", 0.5)):
            res = evaluate_model(det, reals, method=method, min_overlap=iou)[det.config.nms_threshold]
            what = method if iou is None else f"{method} AP at IoU {iou}"
            print(f"six real KITTI images ({what}, %)\n" + format_results(res))
            report[f"real6_{key}"] = ap_table(res)
    return report


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    v = float(text)
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {v}")
    return v


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sim", default=str(REPO / "runs" / "squeezedet_sim"), help="simulated object data")
    p.add_argument("--real", default=str(REPO / "runs" / "det23" / "lidar_labels"), help="LiDAR labels")
    p.add_argument("--extra-sim", nargs="*", default=[],
                   help="more simulated KITTI object folders (other seeds) whose every frame trains")
    p.add_argument("--no-real", action="store_true", help="simulated images only (the ablation)")
    p.add_argument("--real-repeat", type=int, default=3)
    p.add_argument("--init", default=str(REPO / "squeezeseg" / "weights" / "squeezedet_small.keras"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--epochs", type=int, default=5, help="the steps split into epochs (resume points)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--minutes", type=float, default=16.0, help="wall-clock cap on training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-photometric", dest="photometric", action="store_false",
                   help="no camera-response randomisation (data.photometric) in training")
    p.add_argument("--paste", default=None,
                   help="KITTI object folder (the LiDAR-guided labels) whose object crops are pasted into "
                        "half of the training images (copy-paste augmentation)")
    p.add_argument("--positive-iou", type=unit_interval, default=None,
                   help="anchor assignment: also make every anchor overlapping an object at least this much "
                        "responsible for it (config positive_iou; default: the init model's, 0 = one anchor)")
    p.add_argument("--run-dir", default=str(REPO / "runs" / "det23" / "ft_real"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.detection.detect import SqueezeDetector, read_model_meta
    from squeezeseg.detection.evaluate import tune_model
    from squeezeseg.detection.train import train
    from squeezeseg.errors import InputError

    run, sim = Path(args.run_dir), Path(args.sim)
    real = None if args.no_real else Path(args.real)
    extra = [Path(e) for e in args.extra_sim]
    for folder in [sim, *extra]:
        if not folder.is_dir():
            print(f"error: {folder}: not a folder", file=sys.stderr)
            return 2
    try:
        counts = build_mix(sim, real, args.real_repeat, run / "data", extra)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"training images: {counts}")
    base = SqueezeDetector.load(args.init).config
    positive_iou = base.positive_iou if args.positive_iou is None else args.positive_iou
    config = dataclasses.replace(
        base, classes=CLASSES, class_score_thresholds={}, learning_rate=args.lr, photometric=args.photometric,
        positive_iou=positive_iou,
    )
    command = " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)])
    t0 = time.time()
    result = train(
        config, run / "data", run, epochs=args.epochs, steps_per_epoch=max(1, args.steps // args.epochs),
        batch_size=args.batch_size, seed=args.seed, augment=True, verbose=2,
        time_limit_s=60 * args.minutes, init_from=args.init, paste_from=args.paste,
        extra_meta={"command": command, "images": counts, "simulated_data": str(sim),
                    "extra_simulated_data": [str(e) for e in extra],
                    "lidar_guided_labels": None if real is None else str(real)},
    )
    wall = time.time() - t0
    det = SqueezeDetector.load(result.model_path)
    tuned = tune_model(det, sim, "val")
    meta = read_model_meta(result.model_path)
    meta["config"]["class_score_thresholds"] = {c: round(t.threshold, 4) for c, t in tuned.items()}
    meta["score_thresholds_tuned"] = {"data": str(sim), "split": "val", "beta": 1.0}
    atomic_write_text(result.model_path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    print("tuned thresholds:", meta["config"]["class_score_thresholds"])
    report = {"train_wall_seconds": round(wall, 1), "thresholds": meta["config"]["class_score_thresholds"],
              **evaluate_all(result.model_path, sim)}
    meta["evaluation"] = report
    atomic_write_text(result.model_path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    atomic_write_text(run / "report.json", json.dumps(report, indent=2) + "\n")
    print(f"wrote {result.model_path} and {run / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
