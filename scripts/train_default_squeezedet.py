"""Train the shipped default SqueezeDet (squeezeseg/weights/squeezedet_small.keras) on simulator images.

Reproducible end to end: simulates the KITTI-object-layout dataset with camera images (skipped when
already there), picks anchors by k-means on the training split, trains the small config for a fixed
number of steps (with a wall-clock cap on a busy machine), then reports KITTI AP on the held-out
simulated sequences and on the six real labelled KITTI images. Everything is recorded in the JSON
beside the weights. The shipped model is this one fine-tuned on LiDAR-guided real labels
(scripts/lidar_guided_labels.py, then scripts/finetune_squeezedet.py): run alone, this script brings
back the simulated-only model.

    .venv/bin/python scripts/train_default_squeezedet.py            # ~20 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def ap_table(results: dict) -> dict:
    """{class: {difficulty: {ap11, ap40, n_gt}}} in percent (None without ground truth)."""
    num = lambda v: None if math.isnan(v) else round(100 * v, 2)  # noqa: E731
    return {
        c: {d: {"ap11": num(r.ap11), "ap40": num(r.ap40), "n_gt": r.n_gt} for d, r in by.items()}
        for c, by in results.items()
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "runs" / "squeezedet_sim"), help="simulated dataset folder")
    p.add_argument("--sequences", type=int, default=60)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--sim-seed", type=int, default=7)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--config", default="squeezedet_small")
    p.add_argument("--steps", type=int, default=900, help="training steps (cosine LR decay over them)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--minutes", type=float, default=20.0, help="wall-clock cap on training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default=str(REPO / "runs" / "squeezedet_default"))
    p.add_argument("--out", default=str(REPO / "squeezeseg" / "weights" / "squeezedet_small.keras"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from simulation import generate_dataset
    from squeezeseg.atomic import atomic_write_bytes, atomic_write_text
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.evaluate import evaluate_model, real_validation_dirs
    from squeezeseg.detection.kitti_eval import format_results
    from squeezeseg.detection.model import load_squeezedet_config
    from squeezeseg.detection.train import kmeans_config, train

    t0 = time.time()
    data = generate_dataset(
        args.data,
        frames=args.frames,
        sequences=args.sequences,
        seed=args.sim_seed,
        layout="kitti-object",
        camera=True,
        workers=args.workers,
        progress=False,
    )
    sim_seconds = time.time() - t0
    config = kmeans_config(load_squeezedet_config(args.config), data, seed=args.seed, split="train")
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    sim = {
        "generator": "simulation.generate_dataset",
        "sequences": args.sequences,
        "frames": args.frames,
        "seed": args.sim_seed,
        "layout": "kitti-object",
        "camera": True,
        "train_split": "train",
        "heldout_split": "val (last 20% of the sequences)",
    }
    result = train(
        config,
        data,
        args.run_dir,
        epochs=1,
        steps_per_epoch=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        augment=True,
        verbose=2,
        split="train",
        time_limit_s=60 * args.minutes,
        extra_meta={"command": command, "simulated_data": sim},
    )
    detector = SqueezeDetector.load(result.model_path)
    report = {}
    held = evaluate_model(detector, data, split="val")[config.nms_threshold]
    print("held-out simulated sequences (devkit AP, %)\n" + format_results(held))
    report["heldout_sim_devkit"] = ap_table(held)
    reals = real_validation_dirs()
    if reals:
        for method in ("devkit", "curve"):
            real = evaluate_model(detector, reals, method=method)[config.nms_threshold]
            print(f"six real KITTI images ({method} AP, %)\n" + format_results(real))
            report[f"real6_{method}"] = ap_table(real)
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    meta.update({"evaluation": report, "simulation_seconds": round(sim_seconds, 1)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, result.model_path.read_bytes())
    atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
