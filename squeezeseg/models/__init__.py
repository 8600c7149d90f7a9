"""Segmentation models (SqueezeSeg, SqueezeSegV2) built from a :class:`ModelConfig`, and loading of
saved ``.keras`` files together with the config stored inside them."""

from __future__ import annotations

from pathlib import Path

from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig, load_model_config

__all__ = ["ModelConfig", "load_model_config", "build_model", "load_keras_model", "config_of",
           "keras_output", "save_keras_model"]


def build_model(cfg: ModelConfig):
    """A fresh, untrained Keras model for ``cfg.architecture``."""
    if cfg.architecture == "squeezeseg":
        from squeezeseg.models.squeezeseg import build_squeezeseg

        return build_squeezeseg(cfg)
    from squeezeseg.models.squeezesegv2 import build_squeezesegv2

    return build_squeezesegv2(cfg)


def config_of(model, source: str | Path = "<model>") -> ModelConfig:
    """The :class:`ModelConfig` stored in a model built by :func:`build_model`."""
    try:
        data = model.get_layer("normalize").model_config
    except ValueError:
        raise InputError("not a SqueezeSeg segmentation model (no 'normalize' input layer)", source) from None
    return ModelConfig.from_dict(data, source=source)


def load_keras_file(path: str | Path, what: str = "a Keras model file (.keras)"):
    """Load any ``.keras`` file of the toolkit (custom layers registered), without compiling.

    A missing file, another suffix, or a file Keras cannot read is one InputError naming the file.
    """
    import keras

    import squeezeseg.nn  # noqa: F401  (registers the custom layers)

    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", path)
    if path.suffix != ".keras":
        raise InputError(f"expected {what}", path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for corrupt/incompatible files
        raise InputError(f"cannot load model: {exc}", path) from None


def load_keras_model(path: str | Path):
    """Load a saved ``.keras`` segmentation model; returns ``(model, config)``.

    A missing or unreadable file, or a model whose stored config disagrees with its layers
    (input size, channels, classes), is one InputError naming the file.
    """
    path = Path(path)
    model = load_keras_file(path)
    cfg = config_of(model, path)
    check_model_matches_config(model, cfg, path)
    return model, cfg


def check_model_matches_config(model, cfg: ModelConfig, source: str | Path = "<model>") -> None:
    """Input size and number of classes of ``model`` must be those of ``cfg``."""
    _, h, w, c = model.input_shape
    n = model.output_shape[-1]
    want = (cfg.height, cfg.width, 6, cfg.num_classes)
    if (h, w, c, n) != want:
        raise InputError(
            f"model/config mismatch: model takes {h}x{w}x{c} and predicts {n} classes, config says "
            f"{cfg.height}x{cfg.width}x6 and {cfg.num_classes} classes {cfg.classes}", source)


def keras_output(out: str | Path) -> Path:
    """``out`` as a Path if it names a ``.keras`` file (checked before any work, as Keras refuses others)."""
    if Path(out).suffix != ".keras":
        raise InputError("the model file must end in .keras", out)
    return Path(out)


def save_keras_model(model, out: str | Path) -> Path:
    """Save ``model`` to the ``.keras`` file ``out`` atomically (no half-written model is ever left);
    a wrong suffix or an unwritable ``out`` is an InputError naming it."""
    from squeezeseg.atomic import atomic_path

    out = keras_output(out)
    try:
        with atomic_path(out) as tmp:
            model.save(tmp)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", out) from None
    return out
