#!/usr/bin/env python3
"""Train the shipped default segmenter (squeezeseg/weights/default.keras) from scratch.

1. Simulate labelled scans with the simulator (SqueezeSeg layout, HDL-64E, front 90 degrees) and
   the dropout-noise model: per-pixel missing probabilities estimated from the real KITTI scans in
   ../shared/data when present (never copied anywhere), else a uniform rate.
2. Train configs/models/squeezesegv2_small.yaml for --steps steps or --minutes of wall time.
3. Evaluate on the simulated validation split and, when present, the real labelled frames.
4. Write the model and a JSON record (config, seed, data, steps, command, scores) next to it.

Usage: .venv/bin/python scripts/train_default_model.py [--minutes 22] [--sequences 40 --frames 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

log = logging.getLogger("train_default_model")


def dropout_map(width: int = 512, fov: float = 90.0):
    """Dropout map from the real scans in the shared data (smoothed along columns), or None."""
    import numpy as np
    from scipy.ndimage import uniform_filter1d

    from simulation import DropoutMap, estimate_dropout_map
    from squeezeseg.resources import shared_data_dir

    maps = []
    for sub in ("kitti_object/training/velodyne", "squeezeseg_sample"):
        d = shared_data_dir() / sub
        if d.is_dir():
            maps.append(estimate_dropout_map(d, "hdl64e", width, fov))
    if not maps:
        return None
    frames = sum(m.frames for m in maps)
    prob = sum(m.prob * m.frames for m in maps) / frames
    prob = uniform_filter1d(prob, size=16, axis=1, mode="nearest")
    prob = np.clip(prob, 0.0, 0.95).astype(np.float32)
    return DropoutMap(prob, fov, frames, "estimated from the real KITTI samples, smoothed over 16 columns")


class StopAfter:
    """Keras callback that ends training after ``seconds`` of wall time (checked every step)."""

    def __new__(cls, seconds: float):
        import keras

        class _Stop(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0 = time.time()

            def on_train_batch_end(self, batch, logs=None):
                if time.time() - self.t0 > seconds:
                    self.model.stop_training = True

        return _Stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="squeezesegv2_small")
    ap.add_argument("--sequences", type=int, default=40)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    ap.add_argument("--minutes", type=float, default=22.0, help="wall-time budget for training")
    ap.add_argument("--workers", type=int, default=2, help="simulator processes")
    ap.add_argument("--data", type=Path, default=REPO / "runs" / "default_sim")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "default_model")
    ap.add_argument("--weights", type=Path, default=REPO / "squeezeseg" / "weights")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from simulation import generate_dataset
    from squeezeseg.atomic import atomic_write_bytes, atomic_write_text
    from squeezeseg.models import load_model_config
    from squeezeseg.train import train

    t0 = time.time()
    dmap = dropout_map()
    log.info("dropout model: %s", dmap.source if dmap is not None else "uniform 0.05 (no real data found)")
    generate_dataset(args.data, sensor="hdl64e", frames=args.frames, sequences=args.sequences, seed=args.seed,
                     layout="squeezeseg", camera=False, dropout=dmap if dmap is not None else 0.05,
                     workers=args.workers, progress=True)
    sim_s = time.time() - t0
    cfg = load_model_config(args.config)
    cfg.name = "default"
    cfg.data.kind, cfg.data.root = "simulator", str(args.data)
    cfg.train.seed = args.seed
    command = "python scripts/train_default_model.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    t1 = time.time()
    model_path = train(cfg, args.out, steps=args.steps, resume=args.resume,
                       extra_callbacks=[StopAfter(args.minutes * 60)], command=command)
    train_s = time.time() - t1
    record = json.loads((args.out / "train.json").read_text())
    scores = evaluate(model_path)
    args.weights.mkdir(parents=True, exist_ok=True)
    dest = args.weights / "default.keras"
    atomic_write_bytes(dest, model_path.read_bytes())
    meta = {
        "model": dest.name,
        "config": record["config"],
        "seed": args.seed,
        "data": {"simulator": {"layout": "squeezeseg", "sensor": "hdl64e", "sequences": args.sequences,
                               "frames_per_sequence": args.frames, "seed": args.seed,
                               "dropout": dmap.source if dmap is not None else "uniform 0.05"}},
        "steps": record["optimizer_iterations"],
        "final_loss": record["final_loss"],
        "simulate_seconds": round(sim_s, 1),
        "train_seconds": round(train_s, 1),
        "command": command,
        "scores": scores,
    }
    atomic_write_text(args.weights / "default.json", json.dumps(meta, indent=1) + "\n")
    log.info("wrote %s (%.1f MB) and default.json", dest, dest.stat().st_size / 1e6)
    print(json.dumps(scores, indent=1))
    return 0


def evaluate(model_path: Path) -> dict:
    """IoU on the simulated validation split and on the real labelled frames (when present)."""
    from squeezeseg.data.sources import frames_and_loader
    from squeezeseg.evaluate import evaluate_kitti_object, evaluate_range_images
    from squeezeseg.resources import shared_data_dir
    from squeezeseg.segmenter import load_model

    seg = load_model(model_path)
    out = {}
    frames, load = frames_and_loader(seg.config, seg.config.data.val_split)
    out["simulated_val"] = _brief(evaluate_range_images(seg, (load(f) for f in frames)))
    real = shared_data_dir()
    if (real / "kitti_object" / "training").is_dir():
        out["kitti_object_boxes"] = _brief(evaluate_kitti_object(seg, real / "kitti_object" / "training"))
    if (real / "squeezeseg_sample").is_dir():
        cfg = seg.config
        cfg.data.kind = "squeezeseg"
        frames, load = frames_and_loader(cfg, "all", real / "squeezeseg_sample")
        out["squeezeseg_sample"] = _brief(evaluate_range_images(seg, (load(f) for f in frames)))
    return out


def _brief(report: dict) -> dict:
    return {"frames": report["frames"], "points": report["points"], "miou": report["miou"],
            "class_iou": {k: v["iou"] for k, v in report["class"].items()},
            "instance_iou": {k: v["iou"] for k, v in report["instance"].items()}}


if __name__ == "__main__":
    sys.exit(main())
