"""`squeezeseg export [MODEL] --format F --out FILE`: TFLite (float, INT8), ONNX, SavedModel."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from squeezeseg.cli.common import deferred_arguments

    p = subparsers.add_parser(
        "export",
        help="export a segmentation model to TFLite (float/INT8), ONNX or SavedModel",
        description="Export a SqueezeSeg/SqueezeSegV2 model. INT8 needs --calibration (range images .npy, "
        "scans, or 'synthetic'). The file carries the model config, so `squeezeseg infer --engine "
        "tflite|onnx --model FILE` runs it as a drop-in replacement.",
    )
    deferred_arguments(p, _add_arguments)  # the exporter imports TensorFlow: only for this command
    p.set_defaults(func=run)


def _add_arguments(p) -> None:
    from squeezeseg.export.exporter import add_export_arguments

    add_export_arguments(p, "the shipped model")


def run(args: argparse.Namespace) -> int:
    from squeezeseg.export.exporter import run_export
    from squeezeseg.resources import default_model_path

    return run_export(args, default_model_path())
