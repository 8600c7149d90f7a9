"""`squeezeseg quantize-study MODEL --data DIR --out DIR`: accuracy versus bits of simulated fixed point."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from squeezeseg.cli.common import deferred_arguments

    p = subparsers.add_parser(
        "quantize-study",
        help="simulated fixed-point quantization: accuracy versus bits, fine-tuning, QAT",
        description="Kernels, inputs and outputs of every layer rounded to 16/8/6/4-bit fixed point with "
        "power-of-two ranges from weight and activation percentiles; optional progressive layer-by-layer "
        "fine-tuning and quantization-aware training (exported as full-integer TFLite). Writes "
        "OUT/study.json and OUT/study.md.",
    )
    deferred_arguments(p, _add_arguments)
    p.set_defaults(func=run)


def _add_arguments(p) -> None:
    from squeezeseg.export.study import BITS, PERCENTILES

    p.add_argument(
        "model", type=Path, nargs="?", default=None, help=".keras model (default: the shipped one)"
    )
    p.add_argument(
        "--data",
        required=True,
        help="SqueezeSeg-layout folder (train split for ranges/fine-tuning, val split for scores) "
        "or 'synthetic'",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--bits", type=int, nargs="+", default=list(BITS), help="bit widths (default 16 8 6 4)")
    p.add_argument(
        "--percentiles",
        type=float,
        nargs="+",
        default=list(PERCENTILES),
        help="clipping percentiles (default 95 98 99.9 99.99)",
    )
    p.add_argument("--eval-frames", type=int, default=20, help="evaluation frames (default 20)")
    p.add_argument("--calib-frames", type=int, default=8, help="frames for the activation ranges (default 8)")
    p.add_argument(
        "--finetune-bits",
        type=int,
        nargs="*",
        default=[],
        help="bit widths to fine-tune progressively, layer by layer (e.g. 8 6 4)",
    )
    p.add_argument("--steps-per-layer", type=int, default=5, help="fine-tuning steps after each layer")
    p.add_argument(
        "--qat-steps", type=int, default=0, help="8-bit quantization-aware training steps (0: none)"
    )
    p.add_argument("--qat-out", type=Path, default=None, help="full-integer .tflite of the QAT model")


def run(args: argparse.Namespace) -> int:
    import json

    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.errors import InputError
    from squeezeseg.export.study import format_markdown, run_study
    from squeezeseg.resources import default_model_path

    if args.qat_out is not None and args.qat_out.suffix != ".tflite":
        raise InputError("--qat-out must name a .tflite file", args.qat_out)
    if min(args.eval_frames, args.calib_frames) < 1 or args.steps_per_layer < 0 or args.qat_steps < 0:
        raise InputError("--eval-frames/--calib-frames must be >= 1, step counts >= 0")
    res = run_study(
        args.model or default_model_path(),
        args.data,
        args.bits,
        args.percentiles,
        args.calib_frames,
        args.eval_frames,
        args.finetune_bits,
        args.steps_per_layer,
        args.qat_steps,
        args.qat_out,
    )
    md = format_markdown(res)
    atomic_write_text(args.out / "study.json", json.dumps(res, indent=1) + "\n")
    atomic_write_text(args.out / "study.md", md)
    print(md)
    return 0
