"""`squeezeseg adapt train-renderer|render-intensity|pipeline`: training on simulated scans for real
ones (SqueezeSegV2's domain adaptation, :mod:`domain_adapt`).

This package adds the command to `squeezeseg` through the ``squeezeseg.commands`` entry point
(pyproject.toml), so the base package never imports ``domain_adapt``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("squeezeseg.adapt")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "adapt", help="sim-to-real domain adaptation (intensity rendering, ablation pipeline)",
        description="Domain adaptation from simulated to real scans (SqueezeSegV2). "
        "See docs/domain-adaptation.md.")
    sub = p.add_subparsers(dest="adapt_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser("train-renderer", help="train the intensity renderer on unlabelled real scans",
                       description="Self-supervised: the network sees x, y, z, range of real scans and "
                       "learns their intensity (hybrid loss: 10 bins + deviation; --loss l2: plain L2).")
    t.add_argument("--data", required=True,
                   help="folder of real scans (.bin/.pcd/.ply/...) or .npy range images")
    t.add_argument("--out", type=Path, required=True, help="model file to write (.keras)")
    t.add_argument("--loss", choices=("hybrid", "l2"), default="hybrid")
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--views", type=int, default=4, help="range images per raw scan (turned by 360/views deg)")
    t.add_argument("--model-config", default="squeezesegv2_small",
                   help="config giving sensor, image size (default squeezesegv2_small)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train_renderer)

    r = sub.add_parser("render-intensity", help="write a synthetic dataset with rendered intensity",
                       description="Copy a SqueezeSeg-layout dataset (lidar_2d/*.npy) to --out with the "
                       "intensity channel predicted by a rendering network. Reruns resume.")
    r.add_argument("--model", required=True, help="rendering network (.keras from train-renderer)")
    r.add_argument("--data", required=True,
                   help="synthetic SqueezeSeg-layout folder (lidarsim --layout squeezeseg)")
    r.add_argument("--out", type=Path, required=True, help="output folder")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=run_render)

    c = sub.add_parser("calibrate", help="progressive domain calibration of a trained model on real scans",
                       description="Re-estimate every batch-norm layer's statistics on unlabelled real "
                       "scans, "
                       "layer by layer from the input (SqueezeSegV2 Algorithm 2); writes a new model.")
    c.add_argument("--model", required=True, help="trained segmentation model (.keras, with batch norm)")
    c.add_argument("--target", required=True, nargs="+",
                   help="unlabelled real scans or range images (folders or files, one or more)")
    c.add_argument("--out", type=Path, required=True, help="calibrated model to write (.keras)")
    c.add_argument("--views", type=int, default=4, help="target images per raw target scan")
    c.set_defaults(func=run_calibrate)

    m = sub.add_parser("interpolate", help="mix a model with its fine-tuned copy (WiSE-FT)",
                       description="Write (1 - alpha) * base + alpha * tuned for every weight of two models "
                       "of one network (a model and a fine-tune of it). Calibrate the result on the target "
                       "scans afterwards: the batch-norm statistics are mixed too.")
    m.add_argument("--base", required=True, help="the model the fine-tune started from (.keras)")
    m.add_argument("--tuned", required=True, help="the fine-tuned model (.keras)")
    m.add_argument("--alpha", type=float, default=0.5, help="weight of --tuned, 0-1 (default 0.5)")
    m.add_argument("--out", type=Path, required=True, help="mixed model to write (.keras)")
    m.set_defaults(func=run_interpolate)

    q = sub.add_parser("pipeline", help="train and evaluate the ablation: sim-only ... +context aggregation",
                       description="Trains sim-only, +intensity rendering, +correlation alignment, +domain "
                       "calibration, +context aggregation and prints the ablation table (car and pedestrian "
                       "IoU). OUT keeps every stage; a rerun skips finished stages.")
    q.add_argument("--source", required=True, help="labelled synthetic SqueezeSeg-layout folder")
    q.add_argument("--target", required=True, help="unlabelled real scans or range images")
    q.add_argument("--eval", required=True, action="append",
                   help="labelled real frames: KITTI object 'training' folder or SqueezeSeg .npy "
                   "(repeatable)")
    q.add_argument("--out", type=Path, default=Path("runs/adapt"), help="output folder (default runs/adapt)")
    q.add_argument("--budget", type=float, default=1.0,
                   help="scales every step count (1.0: 400 training and 300 renderer steps per stage)")
    q.add_argument("--gca-weight", type=float, default=10.0, help="lambda of the geodesic loss (default 10)")
    q.add_argument("--model-config", default="squeezesegv2_small", help="configs/models name or YAML path")
    q.add_argument("--views", type=int, default=4, help="target images per raw target scan")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--no-progress", action="store_true")
    q.set_defaults(func=run_pipeline)


def run_train_renderer(args: argparse.Namespace) -> int:
    from domain_adapt.frames import load_unlabelled
    from domain_adapt.intensity_rendering import train_renderer
    from squeezeseg.models import keras_output, load_model_config

    keras_output(args.out)
    cfg = load_model_config(args.model_config)
    images = load_unlabelled(cfg, args.data, views=args.views)
    model = train_renderer(images, args.loss, args.steps, progress=not args.no_progress)
    return _save_model(model, args.out)


def _save_model(model, out) -> int:
    """Save a Keras model atomically (an unwritable target is a user error) and print its path."""
    from squeezeseg.models import save_keras_model

    print(save_keras_model(model, out))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from domain_adapt.calibration import calibrate_model_file

    calibrate_model_file(args.model, args.target, args.out, views=args.views)
    print(args.out)
    return 0


def run_interpolate(args: argparse.Namespace) -> int:
    from domain_adapt.interpolation import interpolate_model_files
    from squeezeseg.errors import InputError

    if not 0.0 <= args.alpha <= 1.0:
        raise InputError(f"--alpha must lie in [0, 1], got {args.alpha}")
    interpolate_model_files(args.base, args.tuned, args.alpha, args.out)
    print(args.out)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from domain_adapt.intensity_rendering import render_dataset

    out = render_dataset(args.model, args.data, args.out, progress=not args.no_progress)
    print(out)
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    from domain_adapt.pipeline import PipelineOptions, run_pipeline
    from domain_adapt.report import ablation_markdown

    opts = PipelineOptions(model_config=args.model_config, budget=args.budget, gca_weight=args.gca_weight,
                           target_views=args.views, seed=args.seed)
    report = run_pipeline(args.source, args.target, args.eval, args.out, opts, progress=not args.no_progress)
    print(ablation_markdown(report))
    return 0
