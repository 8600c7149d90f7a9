"""Weight-space interpolation of a model and its fine-tuned copy (WiSE-FT, Wortsman et al. 2022):
``(1 - alpha) * base + alpha * tuned`` for every weight. Fine-tuning from one start keeps both ends in
one basin, so the mix keeps much of what each end does well out of its training domain. Batch-norm
statistics are mixed too; calibrate the result on the target scans afterwards (``calibration``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError

#: Config fields two models must share for their weights to be mixed: the layers and what they read.
SAME_FIELDS = ("architecture", "height", "width", "channels", "classes", "width_multiplier", "mean", "std",
               "use_intensity")


def mix_weights(base: list[np.ndarray], tuned: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """``(1 - alpha) * base + alpha * tuned`` per array (integer arrays, e.g. counters, from ``tuned``)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if len(base) != len(tuned) or any(a.shape != b.shape for a, b in zip(base, tuned)):
        raise ValueError("the two models' weights differ in number or shape")
    return [(1.0 - alpha) * a + alpha * b if np.issubdtype(b.dtype, np.floating) else b.copy()
            for a, b in zip(base, tuned)]


def interpolate_model_files(base_path: str | Path, tuned_path: str | Path, alpha: float,
                            out: str | Path) -> dict:
    """Save the mix of two ``.keras`` segmentation models of one network to ``out`` (atomically) and
    return a record of it. Models of different networks or normalisation, an ``alpha`` outside [0, 1]
    and an unwritable ``out`` are InputErrors naming the file."""
    from squeezeseg.atomic import atomic_path
    from squeezeseg.models import load_keras_model

    if Path(out).suffix != ".keras":
        raise InputError("the model file must end in .keras", out)
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"--alpha must lie in [0, 1], got {alpha}", out)
    base, base_cfg = load_keras_model(base_path)
    tuned, tuned_cfg = load_keras_model(tuned_path)
    for field in SAME_FIELDS:
        a, b = getattr(base_cfg, field), getattr(tuned_cfg, field)
        if list(np.ravel(a)) != list(np.ravel(b)):
            raise InputError(f"not the same network as {base_path}: {field} {b} against {a}", tuned_path)
    try:
        tuned.set_weights(mix_weights(base.get_weights(), tuned.get_weights(), alpha))
    except ValueError as exc:
        raise InputError(f"cannot be mixed with {base_path}: {exc}", tuned_path) from None
    try:
        with atomic_path(out) as tmp:
            tuned.save(tmp)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", out) from None
    return {"base": str(base_path), "tuned": str(tuned_path), "alpha": alpha, "out": str(out)}
