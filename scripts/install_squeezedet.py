"""Install a fine-tuned SqueezeDet as the shipped default when it beats the shipped one on the real
validation (issue #23).

Both models are scored the same way, in one run: car AP|R40 on the six real labelled KITTI images (curve
method, IoU 0.7, easy / moderate / hard: the issue's figure; IoU 0.5 recorded as a diagnostic), the
simulated held-out split of ``--sim`` (devkit AP) and the pre-labels of the simulated demo drive
(`bench_prelabel_squeezedet.demo_report`). The candidate replaces the shipped weights when its real car
AP at IoU 0.7 is lower at no difficulty and higher at moderate (:func:`real_better`), and it does not
regress on the simulated checks (:func:`no_regression`: simulated held-out car AP at moderate not lower,
demo-drive recall not lower unless the issue's pre-label target, precision >= 0.6 at recall >= 0.5, is
met). The shipped ``squeezedet_small.json`` then holds the candidate's own record (config with tuned
thresholds, training command, data), the record of the model it was fine-tuned from, both models'
scores and the previous model's record; the model file and the record are each written atomically
(the record second, so an interrupted install leaves the old record, never a half-written one).

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


def car_ap(report: dict, key: str = "real6_curve") -> dict[str, float]:
    """Car AP|R40 (%) per difficulty of one table of an ``evaluate_all`` report (default: the real images
    at IoU 0.7; ``heldout_sim_devkit``: the simulated held-out split), 0 where no value."""
    car = report.get(key, {}).get("Car", {})
    return {d: float(car.get(d, {}).get("ap40") or 0.0) for d in DIFFICULTIES}


def real_better(new: dict, old: dict) -> tuple[bool, str]:
    """Whether ``new``'s real car AP at IoU 0.7 is lower at no difficulty and higher at moderate, and why."""
    a, b = car_ap(new), car_ap(old)
    text = "; ".join(f"{d} {a[d]:.2f} vs {b[d]:.2f}" for d in DIFFICULTIES)
    lower = [d for d in DIFFICULTIES if a[d] < b[d]]
    if lower:
        return False, f"lower at {', '.join(lower)} ({text})"
    if a["moderate"] <= b["moderate"]:
        return False, f"not higher at moderate ({text})"
    return True, f"higher at moderate, lower nowhere ({text})"


def no_regression(new: dict, old: dict) -> tuple[bool, str]:
    """Whether ``new`` keeps the simulated checks: held-out car AP|R40 at moderate not lower, and demo-drive
    pre-label recall not lower unless the issue's target (precision >= 0.6 at recall >= 0.5) is met."""
    def sim(r: dict) -> float:
        return car_ap(r, "heldout_sim_devkit")["moderate"]

    demo_new, demo_old = new["prelabel_demo_drive"], old["prelabel_demo_drive"]
    target = demo_new["precision"] >= 0.6 and demo_new["recall"] >= 0.5
    text = (f"simulated car moderate {sim(new):.2f} vs {sim(old):.2f}; demo drive precision "
            f"{demo_new['precision']:.3f} recall {demo_new['recall']:.3f} vs {demo_old['precision']:.3f} "
            f"{demo_old['recall']:.3f}")
    if sim(new) < sim(old):
        return False, f"simulated held-out car AP lower ({text})"
    if demo_new["recall"] < demo_old["recall"] and not target:
        return False, f"demo-drive recall lower and the target not met ({text})"
    return True, text


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

    from squeezeseg.errors import InputError
    from squeezeseg.resources import default_model_path, weights_dir

    weights = args.weights or weights_dir()
    shipped = weights / default_model_path("squeezedet").name
    try:
        return run(args, shipped, weights)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args, shipped: Path, weights: Path) -> int:
    """Score both models, decide, install; InputError for a missing or malformed input."""
    from bench_prelabel_squeezedet import demo_report

    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.detection.detect import read_model_meta
    from squeezeseg.detection.evaluate import real_validation_dirs
    from squeezeseg.errors import InputError

    for model in (args.candidate, shipped):
        if not model.is_file():
            raise InputError("model file not found", model)
    if not args.sim.is_dir():
        raise InputError("simulated data folder not found", args.sim)
    if not real_validation_dirs():
        raise InputError("no real labelled KITTI object folder: the decision needs the real validation",
                         "../shared/data")
    meta, old_meta = read_model_meta(args.candidate), read_model_meta(shipped)
    for m, path in ((meta, args.candidate), (old_meta, shipped)):
        if not isinstance(m, dict):
            raise InputError("the model record is not a JSON object", path.with_suffix(".json"))
    demo = demo_report([str(shipped), str(args.candidate)], args.demo_cache)["models"]
    new = scores(args.candidate, args.sim, demo[str(args.candidate)])
    old = scores(shipped, args.sim, demo[str(shipped)])
    better, why = real_better(new, old)
    kept, why_sim = no_regression(new, old)
    print(f"candidate vs shipped, real car AP|R40 at IoU 0.7: {why}")
    print(f"candidate vs shipped, simulated checks: {why_sim}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"candidate": new, "shipped": old, "better": better,
                                                 "why": why, "no_regression": kept, "why_sim": why_sim},
                                                indent=2) + "\n")
    if args.install == "never" or (args.install == "if-better" and not (better and kept)):
        print(f"kept {shipped}")
        return 0
    record = dict(meta)
    record["evaluation"] = new
    record["init_record"] = init_record(meta, shipped)
    record["made_by"] = ("scripts/lidar_guided_labels.py, scripts/finetune_squeezedet.py (the commands of "
                         "init_record, when there is one, and of command), then "
                         "scripts/install_squeezedet.py (issue #23)")
    record["replaced"] = {"why": why, "simulated_checks": why_sim, "previous_model": brief(old_meta),
                          "previous_scores": old}
    dest = install(args.candidate, record, weights)
    print(f"wrote {dest} and {dest.with_suffix('.json').name}")
    return 0


def init_record(meta: dict, shipped: Path) -> dict | None:
    """How the model ``meta`` was fine-tuned from was made, when that was a run's model (not the shipped
    one, not from scratch) whose record is at hand; else None."""
    from squeezeseg.detection.detect import read_model_meta

    init = Path(meta.get("init_from") or "")
    if init.suffix != ".keras" or not init.with_suffix(".json").is_file():
        return None
    if shipped.is_file() and init.resolve() == shipped.resolve():
        return None
    return brief(read_model_meta(init))


if __name__ == "__main__":
    sys.exit(main())
