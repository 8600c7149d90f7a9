"""`squeezeseg profile MODEL`: parameters, multiply-accumulates and activation memory per layer."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile",
        help="parameters, MACs and activation memory per layer of a model",
        description="MODEL is a .keras file, a configs/models name or a model YAML (built untrained). "
        "Counts are for batch 1 at the model's input size.",
    )
    p.add_argument("model", nargs="?", default=None, help="model (default: the shipped model)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.models import build_model, load_keras_model, load_model_config
    from squeezeseg.profile import format_table, profile_model
    from squeezeseg.resources import default_model_path

    src = args.model or str(default_model_path())
    if Path(src).suffix == ".keras":
        model, cfg = load_keras_model(src)
    else:
        cfg = load_model_config(src)
        model = build_model(cfg)
    crf = "on" if cfg.crf.enabled else "off"
    print(f"{cfg.name} ({cfg.architecture}, {cfg.height}x{cfg.width}, CRF {crf})")
    print(format_table(profile_model(model)))
    return 0
