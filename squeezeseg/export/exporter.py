"""One entry point for every export format, shared by `squeezeseg export` and `squeezedet export`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from squeezeseg.errors import InputError
from squeezeseg.export import FORMATS
from squeezeseg.export.ranges import RANGE_METHODS
from squeezeseg.export.tflite import FLOAT_LAYERS, TFLITE_MODES

log = logging.getLogger(__name__)
SUFFIX = {**{m: ".tflite" for m in TFLITE_MODES}, "onnx": ".onnx", "savedmodel": ""}
#: Where an exported segmentation model's recurrent CRF runs: "kernel" (default): outside the graph, as
#: the compiled mean field of :mod:`squeezeseg.crf_kernel` that the LiteRT/ONNX runners apply to the
#: network's logits; "graph": inside it, as plain ops (the form of files exported before; a SavedModel
#: always keeps it inside).
CRF_PLACES = ("kernel", "graph")


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
    crf: str = "kernel",
    keep_float: Sequence[str] = (),
) -> Path:
    """Export the ``.keras`` model at ``model_path`` as ``fmt`` to ``out``; returns ``out``.

    ``calibration`` (a folder of range images / scans / camera images, or "synthetic", or a list of
    them, which share the ``count`` frames equally) is needed for "int8" only. INT8 keeps the input
    normalisation and the CRF in float unless ``quantize_all`` (or ``int8_io``, which makes the whole
    model integer).
    ``ranges`` picks the activation ranges ("percentile", "mse", "minmax": see
    :mod:`squeezeseg.export.ranges`). ``keep_float`` names more Keras layers an INT8 export runs in
    float (mixed precision; an unknown name is an InputError listing the layers). ``crf`` places a
    segmentation model's CRF (``CRF_PLACES``):
    "kernel" exports the network up to the CRF's input logits and stores the CRF's parameters in the
    file's description; "graph" keeps it in the graph, which INT8 cannot quantize (``quantize_all``
    and ``int8_io`` are refused there).
    """
    from squeezeseg.export.calibration import mixed_inputs, representative
    from squeezeseg.export.meta import keras_model_meta

    out = check_output(fmt, out)
    if fmt == "int8" and calibration is None:
        raise InputError("INT8 export needs calibration data: --calibration DIR (or 'synthetic')")
    if crf not in CRF_PLACES:
        raise InputError(f"unknown CRF placement '{crf}' (choose from {', '.join(CRF_PLACES)})")
    model, meta = keras_model_meta(model_path)
    meta = {**meta, "source": Path(model_path).name}
    model = inference_graph(model, meta)
    if fmt != "savedmodel":
        integer_crf = fmt == "int8" and (quantize_all or int8_io)
        model, meta = place_crf(model, meta, crf, integer_crf, model_path)
    extra_float = checked_layers(model, keep_float, fmt)
    if extra_float and int8_io:
        raise InputError("--keep-float and --int8-io exclude each other: an integer-only model has no "
                         "float layer")
    if fmt in TFLITE_MODES:
        from squeezeseg.export.tflite import export_tflite

        rep = None
        if fmt == "int8":
            inputs = mixed_inputs(calibration, meta, count)
            log.info("calibrating on %d inputs from %s", len(inputs), calibration)
            rep = representative(inputs)
        float_layers = (() if quantize_all else FLOAT_LAYERS) + extra_float
        return export_tflite(model, out, meta, fmt, rep, int8_io, float_layers, ranges)
    if fmt == "onnx":
        from squeezeseg.export.onnx import export_onnx

        return export_onnx(model, out, meta)
    from squeezeseg.export.savedmodel import export_savedmodel

    return export_savedmodel(model, out, meta)


def checked_layers(model, names: Sequence[str], fmt: str) -> tuple[str, ...]:
    """``names`` as a tuple, after checking that each is a layer of ``model`` and that the export is
    INT8 (the only format with layers to keep in float)."""
    if not names:
        return ()
    if fmt != "int8":
        raise InputError(f"--keep-float applies to INT8 exports only, not {fmt}")
    known = [layer.name for layer in model.layers]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"no layer named {', '.join(unknown)} in the model (its layers: {', '.join(known)})")
    return tuple(names)


def inference_graph(model, meta: dict):
    """The model as deployed: a SqueezeSegV2's batch norm folded into its convolutions (what
    ``load_model`` runs). Converters fold it themselves except after the fire-deconvolutions'
    sub-pixel reshape, where INT8 would otherwise requantize the upsampled tensor twice more."""
    if meta["kind"] != "squeezeseg":
        return model
    from squeezeseg.models.config import ModelConfig
    from squeezeseg.models.fold import fold_batch_norm

    return fold_batch_norm(model, ModelConfig.from_dict(meta["config"]))


def place_crf(model, meta: dict, crf: str, integer: bool, source: str | Path):
    """``(model, meta)`` with a segmentation model's CRF where ``crf`` says (see ``CRF_PLACES``).

    "kernel": the model up to the CRF's input logits (the output layer keeps its name, "logits") and
    ``meta`` with the CRF's description (:func:`squeezeseg.crf_kernel.crf_description`). "graph": as
    given; with ``integer`` (``--quantize-all``/``--int8-io``) an InputError, since LiteRT cannot run
    the CRF's softmax in int8 (its DIV divisor reaches the zero point: ``div.cc data[i] !=
    zero_point``). Models without a CRF (and SqueezeDet) pass unchanged.
    """
    names = {layer.name for layer in model.layers}
    if meta["kind"] != "squeezeseg" or "crf" not in names:
        return model, meta
    if crf == "graph":
        if integer:
            raise InputError("--quantize-all/--int8-io cannot quantize a CRF inside the graph (LiteRT "
                             "fails on its int8 softmax at run time); export with --crf kernel (the "
                             "default), which quantizes the network and runs the CRF after it", source)
        return model, meta
    import keras

    from squeezeseg.crf_kernel import META_CRF, crf_description

    layer = model.get_layer("crf")
    unary = layer.input[0]
    bare = keras.Model(model.input, keras.layers.Activation("linear", dtype="float32", name="logits")(unary),
                       name=f"{model.name}_without_crf")
    cfg = meta["config"]
    desc = crf_description(cfg["crf"], keras.ops.convert_to_numpy(layer.ang_compat),
                           keras.ops.convert_to_numpy(layer.bi_compat), cfg["mean"], cfg["std"])
    return bare, {**meta, META_CRF: desc}


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
        "--keep-float",
        nargs="+",
        default=[],
        metavar="LAYER",
        help="INT8: also run these Keras layers in float (mixed precision), e.g. fire6 fire7",
    )
    p.add_argument(
        "--crf",
        choices=CRF_PLACES,
        default="kernel",
        help="segmentation models: run the recurrent CRF after the exported network as a compiled "
        "kernel (default; faster, and INT8 can quantize the whole network) or keep it in the graph as "
        "plain ops (the older form, any runtime)",
    )
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
        getattr(args, "crf", "kernel"),
        args.keep_float,
    )
    size = (
        out.stat().st_size if out.is_file() else sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    )
    print(f"{model} -> {out} ({args.format}, {size / 1e6:.2f} MB)")
    return 0
