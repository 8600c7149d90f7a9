"""Progressive domain calibration (SqueezeSegV2, Algorithm 2): after training, re-estimate the moving
mean and variance of every batch-norm layer on unlabelled target data, one layer at a time from the
input, so each layer's statistics are measured on what actually reaches it once the layers before it
have been calibrated (recalibrating all layers at once from the uncalibrated network would measure
later layers on inputs that change afterwards).

Batch-norm layers nested inside Fire/FireDeconv modules are reached by temporarily wrapping each
layer's ``call`` to record its input; the forward pass stops right after the layer being measured.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError

log = logging.getLogger(__name__)


class _StopForwardError(Exception):
    """Raised by a hook to end a forward pass once the wanted input has been seen."""


@dataclass
class InputStats:
    """Per-channel mean and (biased) variance of a layer's input over all pixels of all images."""

    mean: np.ndarray
    var: np.ndarray
    count: int


class _Recorder:
    """Accumulates float64 sums of a layer's inputs; optionally stops the forward pass."""

    def __init__(self, stop: bool):
        self.stop = stop
        self.s = self.s2 = None
        self.n = 0

    def add(self, x) -> None:
        a = np.asarray(x, dtype=np.float64)
        a = a.reshape(-1, a.shape[-1])
        s, s2 = a.sum(0), (a * a).sum(0)
        self.s = s if self.s is None else self.s + s
        self.s2 = s2 if self.s2 is None else self.s2 + s2
        self.n += len(a)
        if self.stop:
            raise _StopForwardError

    def stats(self) -> InputStats:
        mean = self.s / self.n
        return InputStats(mean, np.maximum(self.s2 / self.n - mean * mean, 0.0), self.n)


def _hooked(layers, recorders: dict) -> list:
    """Wrap ``call`` of each layer so it reports its input to its recorder (or just its order)."""
    order: list = []

    def wrap(layer, original):
        def call(x, *args, **kwargs):
            order.append(layer)
            if layer in recorders:
                recorders[layer].add(x)
            return original(x, *args, **kwargs)
        return call

    for layer in layers:
        object.__setattr__(layer, "call", wrap(layer, layer.call))
    return order


def _unhook(layers) -> None:
    for layer in layers:
        if "call" in vars(layer):
            object.__delattr__(layer, "call")


def batch_norm_layers(model) -> list:
    """Every BatchNormalization layer of ``model`` (nested ones included), in the order a forward
    pass reaches them. A model without any is an InputError (nothing to calibrate)."""
    import keras

    found = [la for la in model._flatten_layers(include_self=False, recursive=True)
             if isinstance(la, keras.layers.BatchNormalization)]
    if not found:
        raise InputError(f"model '{model.name}' has no batch-norm layers: progressive domain calibration "
                         "needs one (SqueezeSegV2, not SqueezeSeg)")
    order = _hooked(found, {})
    try:
        model(np.zeros((1, *model.input_shape[1:]), np.float32), training=False)
    finally:
        _unhook(found)
    seen = list(dict.fromkeys(order))
    return seen + [la for la in found if la not in seen]


def input_stats(model, images: np.ndarray, layers: Sequence, batch_size: int = 4,
                stop_early: bool = False, all_bn: Sequence | None = None) -> list[InputStats]:
    """Input statistics of ``layers`` over (N, H, W, C) ``images`` in inference mode.

    ``stop_early`` (one layer only) ends each forward pass at that layer.
    """
    if stop_early and len(layers) != 1:
        raise ValueError("stop_early needs exactly one layer")
    if len(images) == 0:
        raise InputError("no target images to calibrate on (the target folder is empty)")
    recorders = {la: _Recorder(stop_early) for la in layers}
    all_bn = list(all_bn) if all_bn is not None else batch_norm_layers(model)
    _hooked(all_bn, recorders)
    try:
        for i in range(0, len(images), batch_size):
            with contextlib.suppress(_StopForwardError):
                model(np.asarray(images[i:i + batch_size], np.float32), training=False)
    finally:
        _unhook(all_bn)
    return [recorders[la].stats() for la in layers]


class _CalibrateInFlight(_Recorder):
    """Sets a layer's moving statistics from the input it is handed, before the layer runs."""

    def __init__(self, layer, used: list):
        super().__init__(stop=False)
        self.layer, self.used = layer, used

    def add(self, x) -> None:
        super().add(x)
        st = self.stats()
        self.layer.moving_mean.assign(st.mean.astype(np.float32))
        self.layer.moving_variance.assign(st.var.astype(np.float32))
        self.used.append(st)


def calibrate(model, images: np.ndarray, batch_size: int | None = None,
              progress: bool = True) -> list[InputStats]:
    """Progressive domain calibration of ``model`` in place on unlabelled target ``images``.

    For each batch-norm layer in forward order: measure its input mean/variance on the target data
    through the already calibrated earlier layers, and store them as its moving mean/variance.
    With ``batch_size`` None (or >= the number of images) all images go through in one forward pass
    that calibrates each layer just before it runs (the same result, one pass instead of one per
    layer); otherwise one pass over all batches per layer, stopping at that layer.
    Returns the statistics used, layer by layer.
    """
    from tqdm import tqdm

    if len(images) == 0:
        raise InputError("no target images to calibrate on (the target folder is empty)")
    layers = batch_norm_layers(model)
    used: list[InputStats] = []
    if batch_size is None or batch_size >= len(images):
        _hooked(layers, {la: _CalibrateInFlight(la, used) for la in layers})
        try:
            model(np.asarray(images, np.float32), training=False)
        finally:
            _unhook(layers)
    else:
        for layer in tqdm(layers, desc="calibrate", unit="layer", disable=not progress, file=sys.stderr):
            (st,) = input_stats(model, images, [layer], batch_size, stop_early=True, all_bn=layers)
            layer.moving_mean.assign(st.mean.astype(np.float32))
            layer.moving_variance.assign(st.var.astype(np.float32))
            used.append(st)
    log.info("calibrated %d batch-norm layers on %d target images", len(layers), len(images))
    return used


def standardised_stats(model, images: np.ndarray,
                       batch_size: int = 4) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """For every batch-norm layer: (name, mean, variance) of its input standardised with its own
    moving statistics, over ``images``; after :func:`calibrate` these are 0 and 1."""
    layers = batch_norm_layers(model)
    stats = input_stats(model, images, layers, batch_size, all_bn=layers)
    out = []
    for layer, st in zip(layers, stats):
        mm = np.asarray(layer.moving_mean.numpy(), np.float64)
        sd = np.sqrt(np.asarray(layer.moving_variance.numpy(), np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append((layer.path, (st.mean - mm) / sd, st.var / sd**2))
    return out


def calibrate_model_file(model_path: str | Path, targets: Sequence[str | Path], out: str | Path,
                         views: int = 4, progress: bool = True) -> int:
    """Calibrate the ``.keras`` model at ``model_path`` on the unlabelled scans or range images of
    ``targets`` (folders or files; ``views`` windows a raw scan) and save it atomically to ``out``.
    Returns the number of target images. Missing targets, an ``out`` that is not ``.keras``, a model
    without batch norm and an unwritable ``out`` are InputErrors naming the file."""
    from domain_adapt.frames import load_unlabelled_files
    from squeezeseg.models import keras_output, load_keras_model, save_keras_model

    for target in targets:
        if not Path(target).exists():
            raise InputError("target folder or file not found", target)
    keras_output(out)
    model, cfg = load_keras_model(model_path)
    try:
        batch_norm_layers(model)
    except InputError as exc:
        raise InputError(exc.message, model_path) from None
    images = load_unlabelled_files(cfg, list(targets), views=views)
    calibrate(model, images, progress=progress)
    save_keras_model(model, out)
    return len(images)
