"""One entry point for every export format, shared by `squeezeseg export` and `squeezedet export`."""

from __future__ import annotations

import logging
from pathlib import Path

from squeezeseg.errors import InputError
from squeezeseg.export import FORMATS
from squeezeseg.export.ranges import RANGE_METHODS
from squeezeseg.export.tflite import FLOAT_LAYERS, TFLITE_MODES

log = logging.getLogger(__name__)
SUFFIX = {**{m: ".tflite" for m in TFLITE_MODES}, "onnx": ".onnx", "savedmodel": ""}


def check_output(fmt: str, out: str | Path) -> Path:
    """``out`` if its suffix suits ``fmt``, else InputError (checked before any slow work)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    out = Path(out)
    want = SUFFIX[fmt]
    if want and out.suffix.lower() != want:
        raise InputError(f"format '{fmt}' writes a {want} file; name the output accordingly", out)
    return out


def export_model(
    model_path: str | Path,
    fmt: str,
    out: str | Path,
    calibration: str | Path | list[str | Path] | None = None,
    count: int = 100,
    int8_io: bool = False,
    quantize_all: bool = False,
    ranges: str = "percentile",
) -> Path:
    """Export the ``.keras`` model at ``model_path`` as ``fmt`` to ``out``; returns ``out``.

    ``calibration`` (a folder of range images / scans / camera images, or "synthetic", or a list of
    them, which share the ``count`` frames equally) is needed for "int8" only. INT8 keeps the input
    normalisation and the CRF in float unless ``quantize_all`` (or ``int8_io``, which makes the whole
    model integer).
    ``ranges`` picks the activation ranges ("percentile", "mse", "minmax": see
    :mod:`squeezeseg.export.ranges`).
    """
    from squeezeseg.export.calibration import mixed_inputs, representative
    from squeezeseg.export.meta import keras_model_meta

    out = check_output(fmt, out)
    if fmt == "int8" and calibration is None:
        raise InputError("INT8 export needs calibration data: --calibration DIR (or 'synthetic')")
    model, meta = keras_model_meta(model_path)
    meta = {**meta, "source": Path(model_path).name}
    model = inference_graph(model, meta)
    if fmt in TFLITE_MODES:
        from squeezeseg.export.tflite import export_tflite

        rep = None
        if fmt == "int8":
            inputs = mixed_inputs(calibration, meta, count)
            log.info("calibrating on %d inputs from %s", len(inputs), calibration)
            rep = representative(inputs)
        float_layers = () if quantize_all else FLOAT_LAYERS
        return export_tflite(model, out, meta, fmt, rep, int8_io, float_layers, ranges)
    if fmt == "onnx":
        from squeezeseg.export.onnx import export_onnx

        return export_onnx(model, out, meta)
    from squeezeseg.export.savedmodel import export_savedmodel

    return export_savedmodel(model, out, meta)


def inference_graph(model, meta: dict):
    """The model as deployed: a SqueezeSegV2's batch norm folded into its convolutions (what
    ``load_model`` runs). Converters fold it themselves except after the fire-deconvolutions'
    sub-pixel reshape, where INT8 would otherwise requantize the upsampled tensor twice more."""
    if meta["kind"] != "squeezeseg":
        return model
    from squeezeseg.models.config import ModelConfig
    from squeezeseg.models.fold import fold_batch_norm

    return fold_batch_norm(model, ModelConfig.from_dict(meta["config"]))


def add_export_arguments(p, default_help: str) -> None:
    """The arguments both CLIs' ``export`` commands take."""
    p.add_argument(
        "model", nargs="?", type=Path, default=None, help=f".keras model (default: {default_help})"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="int8",
        help="float32/float16/dynamic/int8 TFLite, onnx, savedmodel (default: int8)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output file (.tflite, .onnx) or SavedModel folder"
    )
    p.add_argument(
        "--calibration",
        nargs="+",
        default=None,
        help="INT8 calibration data: a folder of range images/scans (or images for SqueezeDet), "
        "or 'synthetic'; several folders (e.g. simulated training scans and unlabelled scans of the "
        "target sensor) share --count equally (give MODEL before this option)",
    )
    p.add_argument("--count", type=int, default=100, help="calibration inputs used (default: 100)")
    p.add_argument(
        "--quantize-all",
        action="store_true",
        help="INT8: quantize the input normalisation and the CRF too (default: they stay float)",
    )
    p.add_argument("--int8-io", action="store_true", help="int8 input and output tensors (INT8 only)")
    p.add_argument(
        "--ranges",
        choices=RANGE_METHODS,
        default="percentile",
        help="INT8 activation ranges from the calibration frames: 99.99th percentile (default), "
        "least squared quantization error, or min/max",
    )


def run_export(args, default_model: Path) -> int:
    """Body of both ``export`` commands."""
    model = args.model or default_model
    if args.count < 1:
        raise InputError(f"--count must be at least 1 (got {args.count})")
    out = export_model(
        model,
        args.format,
        args.out,
        args.calibration,
        args.count,
        args.int8_io,
        args.quantize_all,
        args.ranges,
    )
    size = (
        out.stat().st_size if out.is_file() else sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    )
    print(f"{model} -> {out} ({args.format}, {size / 1e6:.2f} MB)")
    return 0
