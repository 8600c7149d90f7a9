"""Domain-adaptation figures on the real samples in ../shared/data (skips without them):

* ``pipeline``: simulated source (``lidarsim generate --layout squeezeseg --no-intensity`` with the
  dropout model of the real KITTI scans) -> ``squeezeseg adapt pipeline`` ablation, target = the 3
  KITTI object scans (4 views each, unlabelled), evaluation = the same 3 frames' front view with boxes
  turned into point labels + the SqueezeSeg sample frame. Target and evaluation overlap: with 3 real
  frames there is nothing to hold out, and the report says so.
* ``renderer``: intensity rendering MSE, hybrid loss vs plain L2 regression, trained on KITTI frames
  000000-000001 (4 views each), tested on the held-out 000002 (4 views) and the SqueezeSeg sample.

Usage: ``python scripts/run_domain_adaptation.py [pipeline|renderer|all] [--budget 1.0] [--out runs/da]``
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from squeezeseg.atomic import atomic_write_text  # noqa: E402
from squeezeseg.resources import shared_data_dir  # noqa: E402

log = logging.getLogger("run_domain_adaptation")


def simulate(out: Path, frames: int, sequences: int) -> Path:
    """The synthetic source: zero intensity (like the papers' GTA-V scans), real-scan dropout model."""
    kitti = shared_data_dir() / "kitti_object" / "training" / "velodyne"
    dropout = out / "dropout.npz"
    bin_dir = Path(sys.executable).parent
    if not dropout.is_file():
        subprocess.run([str(bin_dir / "lidarsim"), "dropout-model", "--from", str(kitti),
                        "--out", str(dropout)], check=True)
    sim = out / "sim"
    subprocess.run([str(bin_dir / "lidarsim"), "generate", "--sensor", "hdl64e", "--frames", str(frames),
                    "--sequences", str(sequences), "--seed", "7", "--out", str(sim), "--layout", "squeezeseg",
                    "--dropout", str(dropout), "--no-intensity", "--no-progress"], check=True)
    return sim


def run_pipeline_part(out: Path, budget: float) -> dict:
    from domain_adapt.pipeline import PipelineOptions, run_pipeline

    data = shared_data_dir()
    sim = simulate(out, frames=5, sequences=12)
    return run_pipeline(sim, data / "kitti_object" / "training" / "velodyne",
                        [data / "kitti_object" / "training", data / "squeezeseg_sample"],
                        out / f"pipeline_b{budget:g}", PipelineOptions(budget=budget))


def run_renderer_part(out: Path, steps: int) -> dict:
    from domain_adapt.frames import load_unlabelled_files
    from domain_adapt.intensity_rendering import intensity_mse, train_renderer
    from squeezeseg.models import load_model_config

    data = shared_data_dir()
    cfg = load_model_config("squeezesegv2_small")
    velo = data / "kitti_object" / "training" / "velodyne"
    train = load_unlabelled_files(cfg, [velo / "000000.bin", velo / "000001.bin"], views=4)
    sample = sorted((data / "squeezeseg_sample").glob("*.npy"))
    test = load_unlabelled_files(cfg, [velo / "000002.bin", *sample], views=4)
    result = {"train_images": len(train), "test_images": len(test), "steps": steps, "mse": {}, "seconds": {}}
    for kind in ("hybrid", "l2"):
        t0 = time.time()
        model = train_renderer(train, kind, steps)
        result["mse"][kind] = intensity_mse(model, test)
        result["seconds"][kind] = round(time.time() - t0, 1)
    valid = test[..., 5] > 0
    result["mse"]["constant (train mean)"] = float(
        ((test[..., 3][valid] - train[..., 3][train[..., 5] > 0].mean()) ** 2).mean())
    atomic_write_text(out / "renderer_mse.json", json.dumps(result, indent=1) + "\n")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", nargs="?", choices=("pipeline", "renderer", "all"), default="all")
    ap.add_argument("--budget", type=float, default=1.0, help="pipeline step scale")
    ap.add_argument("--renderer-steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "da")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not shared_data_dir().is_dir():
        print(f"skipped: real sample data not found at {shared_data_dir()}")
        return 0
    if args.part in ("renderer", "all"):
        r = run_renderer_part(args.out, args.renderer_steps)
        print(json.dumps(r, indent=1))
    if args.part in ("pipeline", "all"):
        from domain_adapt.report import ablation_markdown

        print(ablation_markdown(run_pipeline_part(args.out, args.budget)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
