"""The one loader of models for every engine: Keras (``.keras``, a compiled ``tf.function``), LiteRT
(``ai-edge-litert``, XNNPACK) for ``.tflite`` and onnxruntime for ``.onnx``. Each exported-model runner maps
a float batch (B, ...) to float outputs, quantizing an int8 input and dequantizing an int8 output itself,
so the segmenter and the detector around it (pre- and post-processing included) are the very ones the
Keras model uses: an exported file is a drop-in. :func:`load_model` gives a segmenter,
:func:`load_detector` a SqueezeDet detector.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.export.meta import META_KEY, decode, read_tflite_metadata
from squeezeseg.models.config import ModelConfig
from squeezeseg.resources import default_model_path
from squeezeseg.segmenter import Segmenter

log = logging.getLogger(__name__)
ENGINE_SUFFIX = {"tflite": ".tflite", "onnx": ".onnx"}
ENGINES = ("keras", *ENGINE_SUFFIX)
#: ``load_model`` engines: ``auto`` runs a .keras model through its checked LiteRT copy when one is
#: cached (squeezeseg.model_cache), else through Keras.
LOAD_ENGINES = ("auto", *ENGINES)


def default_threads() -> int:
    """Threads for an engine: $SQUEEZESEG_THREADS, else every core."""
    env = os.environ.get("SQUEEZESEG_THREADS")
    return int(env) if env and env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def engine_for(path: str | Path) -> str:
    """The engine that runs ``path``, from its suffix (.keras, .tflite, .onnx)."""
    suffix = Path(path).suffix.lower()
    for name, ext in (("keras", ".keras"), *((k, v) for k, v in ENGINE_SUFFIX.items())):
        if suffix == ext:
            return name
    raise InputError("unknown model format (expected .keras, .tflite or .onnx)", path)


def _existing_model(path: str | Path) -> Path:
    """``path`` as a Path; a missing file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", path)
    return path


def _import_runtime(module: str, engine: str, package: str, path: Path):
    """Import the runtime of ``engine``; a missing package is an InputError that says what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"engine '{engine}' needs the {package} package, which is not installed (pip install {package})",
            path,
        ) from None


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hide LiteRT's native start-up lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    while an interpreter is made, when TensorFlow's logging is silenced (TF_CPP_MIN_LOG_LEVEL >= 1,
    as every command sets it without --verbose). Errors still arrive as Python exceptions."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    if not (level.isdigit() and int(level) >= 1):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


#: Threads of the CRF kernel after an exported network. One: on this shared 2-core machine two threads
#: made one window's CRF slower (7.4 against 3.8 ms at load 4-7, scripts/profile_int8_parts.py), the
#: second thread waiting for a core while the first is done.
CRF_THREADS = 1


def crf_of(meta: dict[str, Any], path: Path, threads: int = CRF_THREADS):
    """The CRF an exported segmentation model runs after its graph (``squeezeseg export --crf
    kernel``, :mod:`squeezeseg.crf_kernel`), or None for files with the CRF inside or none at all."""
    desc = meta.get("crf_kernel")  # squeezeseg.crf_kernel.META_CRF (that module imports numba)
    if desc is None:
        return None
    from squeezeseg.crf_kernel import CRFKernel

    kernel = CRFKernel.from_description(desc, path, threads)
    kernel.warm_up()  # numba's import and machine code load beside the first scan's reading
    return kernel


class _Runner:
    """What both runners share: the exported model's description and its CRF, applied to the
    network's output when the file carries the CRF outside its graph."""

    path: Path
    meta: dict[str, Any]
    crf: Any = None

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Network output (1, ...) float32 of one (1, ...) float input (before any CRF)."""
        raise NotImplementedError

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, np.float32)
        y = np.concatenate([self.run_one(batch[i : i + 1]) for i in range(len(batch))], axis=0)
        return y if self.crf is None else self.crf(y, batch)


class TFLiteRunner(_Runner):
    """A LiteRT interpreter (XNNPACK delegate, ``threads`` threads) over one exported model."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = _existing_model(path)
        litert = _import_runtime("ai_edge_litert.interpreter", "tflite", "ai-edge-litert", self.path)
        Interpreter = litert.Interpreter
        self.meta = read_tflite_metadata(self.path)
        self.threads = threads or default_threads()
        self.crf = crf_of(self.meta, self.path)
        self.delegate = "xnnpack"
        try:
            with _quiet_native_stderr():
                self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
                self.interpreter.allocate_tensors()
        except ValueError as exc:
            raise InputError(f"LiteRT cannot load the model: {exc}", self.path) from None
        except RuntimeError as exc:  # XNNPACK refuses some graphs: run them on the builtin kernels
            log.warning(
                "%s: XNNPACK cannot run this model (%s); using the builtin kernels",
                self.path,
                str(exc).splitlines()[0],
            )
            self.interpreter = self._builtin_interpreter()
            self.delegate = "none"
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def _builtin_interpreter(self):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        try:
            it = Interpreter(
                model_path=str(self.path),
                num_threads=self.threads,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"LiteRT cannot load the model: {exc}", self.path) from None
        return it

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Network output of one (1, ...) float input, as float32 (before any CRF)."""
        inp, out = self.input, self.output
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(inp["dtype"])
        self.interpreter.set_tensor(inp["index"], np.ascontiguousarray(x))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y


class OnnxRunner(_Runner):
    """An onnxruntime CPU session (``threads`` intra-op threads) over one exported model."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = _existing_model(path)
        ort = _import_runtime("onnxruntime", "onnx", "onnxruntime", self.path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise InputError(
                f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}", self.path
            ) from None
        props = self.session.get_modelmeta().custom_metadata_map
        self.meta = decode(props.get(META_KEY, "").encode(), self.path) if META_KEY in props else None
        if self.meta is None:
            decode(b"null", self.path)  # raises the "not exported by us" InputError
        self.crf = crf_of(self.meta, self.path)
        self.input_name = self.session.get_inputs()[0].name

    def run_one(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: x})[0]


def open_runner(path: str | Path, engine: str, threads: int | None = None) -> TFLiteRunner | OnnxRunner:
    """The runner of ``engine`` ("tflite" or "onnx") for ``path``; InputError for anything else."""
    if engine == "tflite":
        return TFLiteRunner(path, threads)
    if engine == "onnx":
        return OnnxRunner(path, threads)
    raise InputError(f"engine '{engine}' does not run exported files (choose tflite or onnx)", path)


def _expect_kind(meta: dict[str, Any], kind: str, path: Path) -> None:
    if meta["kind"] != kind:
        tool = "squeezedet detect" if meta["kind"] == "squeezedet" else "squeezeseg infer"
        raise InputError(f"this is an exported {meta['kind']} model, not a {kind} one (use `{tool}`)", path)


def load_engine(path: str | Path, engine: str, threads: int | None = None) -> tuple[Callable, Any]:
    """``(predict_fn, ModelConfig)`` of an exported segmentation model (for the ``Segmenter``)."""
    runner = open_runner(path, engine, threads)
    _expect_kind(runner.meta, "squeezeseg", runner.path)
    cfg = ModelConfig.from_dict(runner.meta["config"], source=runner.path)
    shape = tuple(
        int(v)
        for v in (runner.input["shape"] if engine == "tflite" else runner.session.get_inputs()[0].shape)[1:]
    )
    if shape != (cfg.height, cfg.width, 6):
        raise InputError(
            f"model input {shape} disagrees with its stored config ({cfg.height}, {cfg.width}, 6)",
            runner.path,
        )
    return runner, cfg


class _DetectorModel:
    """Makes a runner look like the Keras model :class:`SqueezeDetector` calls."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, images, training: bool = False) -> np.ndarray:
        return self.runner(np.asarray(images, np.float32))


def load_detector(path: str | Path | None = None, engine: str | None = None, threads: int | None = None):
    """A ``SqueezeDetector`` for a ``.keras``, ``.tflite`` or ``.onnx`` file."""
    from squeezeseg.config import from_dict
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.model import SqueezeDetConfig

    engine = engine or ("keras" if path is None else engine_for(path))
    if engine == "keras":
        return SqueezeDetector.load(path)
    if path is None:
        raise InputError(f"engine '{engine}' needs an exported model file (squeezedet export)")
    runner = open_runner(path, engine, threads)
    _expect_kind(runner.meta, "squeezedet", runner.path)
    return SqueezeDetector(
        _DetectorModel(runner), from_dict(SqueezeDetConfig, runner.meta["config"], source=path)
    )


def keras_predict_fn(model, cfg: ModelConfig) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled ``tf.function`` on the model with batch norm folded into its convolutions (same
    outputs, fewer operations), traced once per batch size (static shapes for XLA and oneDNN)."""
    import tensorflow as tf

    from squeezeseg.models.fold import fold_batch_norm

    model = fold_batch_norm(model, cfg)
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=False)

    def predict(batch: np.ndarray) -> np.ndarray:
        return fn(tf.constant(np.asarray(batch, np.float32))).numpy()

    return predict


def load_model(path: str | Path | None = None, engine: str | None = "keras",
               threads: int | None = None) -> Segmenter:
    """A :class:`Segmenter` for a saved model (the shipped default when ``path`` is None).

    ``engine`` "keras" loads a ``.keras`` file; "tflite" and "onnx" load exported models; None picks
    the engine from the file's suffix; "auto" does too, but runs a ``.keras`` model through its
    float32 LiteRT copy when one has been cached and checked (:mod:`squeezeseg.model_cache`: same
    classes, no TensorFlow import, start-up in a fraction of a second). ``Segmenter.engine`` says
    which engine runs. A missing file, a folder, or a file that is not a model of that engine is an
    InputError naming it.
    """
    if engine is None:
        engine = "keras" if path is None else engine_for(path)
    if engine not in LOAD_ENGINES:
        raise InputError(f"unknown engine '{engine}' (choose from {', '.join(LOAD_ENGINES)})")
    if engine == "auto":
        engine = "keras" if path is None else engine_for(path)
        if engine == "keras":
            seg = _cached_copy(path)
            if seg is not None:
                return seg
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise InputError("the shipped default model is missing: train it with "
                             "scripts/train_default_model.py", path)
    path = Path(path)
    if not path.exists():
        raise InputError("model file not found", path)
    if path.is_dir() and engine == "keras":
        raise InputError("a folder, not a .keras model file", path)
    if engine == "keras":
        import zipfile

        from squeezeseg.models import load_keras_model

        if path.suffix == ".keras" and not zipfile.is_zipfile(path):
            raise InputError("cannot load this model: not a .keras archive (damaged or another format)",
                             path)
        try:
            model, cfg = load_keras_model(path)
        except InputError as exc:
            raise InputError(_first_line(exc.message), path) from None
        except Exception as exc:  # noqa: BLE001  (Keras raises many types for a damaged file)
            raise InputError(f"cannot load this model: {_first_line(exc)}", path) from None
        return Segmenter(keras_predict_fn(model, cfg), cfg, path, keras_model=model, engine="keras")
    predict_fn, cfg = load_engine(path, engine, threads)
    return Segmenter(predict_fn, cfg, path, engine=engine)


def _cached_copy(path: str | Path | None, threads: int | None = None) -> Segmenter | None:
    """A LiteRT segmenter on the cached, checked copy of the .keras model ``path`` (None: the shipped
    one), or None when there is no copy or LiteRT is not installed. Its ``source`` is the .keras file."""
    import importlib.util

    from squeezeseg.model_cache import find_copy

    keras_path = Path(path) if path is not None else default_model_path()
    if not keras_path.is_file() or importlib.util.find_spec("ai_edge_litert") is None:
        return None
    copy = find_copy(keras_path)
    if copy is None:
        return None
    try:
        predict_fn, cfg = load_engine(copy, "tflite", threads)
    except InputError as exc:  # a damaged copy: Keras, as if there were none
        log.warning("cached LiteRT copy unusable (%s); using Keras", exc)
        return None
    log.debug("%s runs through its LiteRT copy %s", keras_path, copy)
    return Segmenter(predict_fn, cfg, keras_path, engine="tflite")


def _first_line(exc: BaseException | str) -> str:
    """A message on one line, at most 160 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
