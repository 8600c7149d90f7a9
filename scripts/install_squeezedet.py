"""Install a fine-tuned SqueezeDet as the shipped default when it beats the shipped one on the real
validation (issue #23).

Both models are scored the same way, in one run: car AP|R40 on the six real labelled KITTI images (curve
method, IoU 0.7, easy / moderate / hard: the issue's figure; IoU 0.5 recorded as a diagnostic), the
simulated held-out split of ``--sim`` (devkit AP) and the pre-labels of the simulated demo drive
(`bench_prelabel_squeezedet.demo_report`). The candidate replaces the shipped weights when its real car
AP at IoU 0.7 is lower at no difficulty and higher at moderate (:func:`real_better`); real labels decide
that and nothing else. The shipped ``squeezedet_small.json`` then holds the candidate's own record
(config with tuned thresholds, training command, data), the record of the model it was fine-tuned from,
both models' scores and the previous model's record; model and record are written atomically.

    .venv/bin/python scripts/install_squeezedet.py runs/det/ft_P2/model.keras --sim runs/squeezedet_sim_t \\
        --demo-cache runs/det/demo_cache [--install if-better|never|always]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

DIFFICULTIES = ("easy", "moderate", "hard")


def real_car_ap(report: dict, key: str = "real6_curve") -> dict[str, float]:
    """Car AP|R40 (%) per difficulty of an ``evaluate_all`` report (0 where no value)."""
    car = report.get(key, {}).get("Car", {})
    return {d: float(car.get(d, {}).get("ap40") or 0.0) for d in DIFFICULTIES}


def real_better(new: dict, old: dict) -> tuple[bool, str]:
    """Whether ``new``'s real car AP at IoU 0.7 is lower at no difficulty and higher at moderate, and why."""
    a, b = real_car_ap(new), real_car_ap(old)
    text = "; ".join(f"{d} {a[d]:.2f} vs {b[d]:.2f}" for d in DIFFICULTIES)
    lower = [d for d in DIFFICULTIES if a[d] < b[d]]
    if lower:
        return False, f"lower at {', '.join(lower)} ({text})"
    if a["moderate"] <= b["moderate"]:
        return False, f"not higher at moderate ({text})"
    return True, f"higher at moderate, lower nowhere ({text})"


def brief(meta: dict) -> dict:
    """The parts of a model record that say how it was made."""
    keys = ("command", "init_from", "steps_run", "train_seconds", "train_images", "images", "data",
            "simulated_data", "lidar_guided_labels", "made_by", "seed")
    return {k: meta[k] for k in keys if k in meta}


def scores(model: Path, sim: Path, demo: dict) -> dict:
    """Real, simulated held-out and demo-drive scores of one model (``demo``: its demo_report entry)."""
    from finetune_squeezedet import evaluate_all

    out = evaluate_all(model, sim)
    out["prelabel_demo_drive"] = demo["camera"]["all_classes"] | {"boxes": demo["boxes"]}
    return out


def install(candidate: Path, record: dict, weights: Path) -> Path:
    """Copy ``candidate`` to ``weights``/squeezedet_small.keras and ``record`` beside it, atomically."""
    from squeezeseg.atomic import atomic_write_bytes, atomic_write_text
    from squeezeseg.resources import SHIPPED_MODELS

    weights.mkdir(parents=True, exist_ok=True)
    dest = weights / SHIPPED_MODELS["squeezedet"]
    atomic_write_bytes(dest, candidate.read_bytes())
    atomic_write_text(dest.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return dest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidate", type=Path, help="fine-tuned model (.keras with its .json)")
    p.add_argument("--sim", type=Path, default=REPO / "runs" / "squeezedet_sim_t",
                   help="simulated object data whose val split is the held-out set")
    p.add_argument("--demo-cache", type=Path, default=REPO / "runs" / "det" / "demo_cache")
    p.add_argument("--weights", type=Path, default=None, help="weights folder (default: the package's)")
    p.add_argument("--install", choices=("if-better", "never", "always"), default="if-better")
    p.add_argument("--json", type=Path, default=None, help="also write both models' scores here")
    args = p.parse_args(argv)

    from bench_prelabel_squeezedet import demo_report

    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.detection.detect import read_model_meta
    from squeezeseg.errors import InputError
    from squeezeseg.resources import default_model_path, weights_dir

    weights = args.weights or weights_dir()
    shipped = weights / default_model_path("squeezedet").name
    try:
        meta, old_meta = read_model_meta(args.candidate), read_model_meta(shipped)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = demo_report([str(shipped), str(args.candidate)], args.demo_cache)["models"]
    new = scores(args.candidate, args.sim, demo[str(args.candidate)])
    old = scores(shipped, args.sim, demo[str(shipped)])
    better, why = real_better(new, old)
    print(f"candidate vs shipped, real car AP|R40 at IoU 0.7: {why}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"candidate": new, "shipped": old, "better": better,
                                                 "why": why}, indent=2) + "\n")
    if args.install == "never" or (args.install == "if-better" and not better):
        print(f"kept {shipped}")
        return 0
    init = Path(meta.get("init_from", ""))
    record = dict(meta)
    record["evaluation"] = new
    record["init_record"] = brief(read_model_meta(init)) if init.suffix == ".keras" and init != shipped \
        and init.with_suffix(".json").is_file() else None
    record["made_by"] = ("scripts/lidar_guided_labels.py, scripts/finetune_squeezedet.py (the commands of "
                         "init_record and command), then scripts/install_squeezedet.py (issue #23)")
    record["replaced"] = {"why": why, "previous_model": brief(old_meta), "previous_scores": old}
    dest = install(args.candidate, record, weights)
    print(f"wrote {dest} and {dest.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
