"""`squeezeseg quantize-report FLOAT EXPORTED [--data DIR] --out DIR`: float vs exported parity report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize-report",
        help="parity of an exported (INT8/float TFLite, ONNX) model with its float original",
        description="Every op of the exported model and its precision, per-layer agreement (cosine, RMSE, "
        "SQNR) of activations, end-task metrics side by side (class IoU for SqueezeSeg, AP for SqueezeDet), "
        "size and latency of each engine. Writes OUT/parity.json and OUT/parity.md.",
    )
    p.add_argument("float_model", type=Path, help="the float .keras model")
    p.add_argument("exported", type=Path, help="the exported .tflite or .onnx file")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="evaluation data: SqueezeSeg .npy folder or KITTI object training folder "
        "(default: synthetic inputs, no end-task metrics)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--frames", type=int, default=4, help="frames for the per-layer comparison (default 4)")
    p.add_argument("--runs", type=int, default=10, help="timed runs per engine (median, default 10)")
    p.add_argument("--threads", type=int, default=None, help="engine threads (default: all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from squeezeseg.export.report import format_markdown, parity_report, write_parity_report

    rep = parity_report(args.float_model, args.exported, args.data, args.frames, args.runs, args.threads)
    j, m = write_parity_report(rep, args.out)
    print(format_markdown(rep).split("\n## ")[0])
    print(f"wrote {j} and {m}")
    return 0
