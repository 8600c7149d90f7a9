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
               "use_intensity", "crf")


def mix_weights(base: list[np.ndarray], tuned: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """``(1 - alpha) * base + alpha * tuned`` per array (integer arrays, e.g. counters, from ``tuned``)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if len(base) != len(tuned) or any(a.shape != b.shape for a, b in zip(base, tuned)):
        raise ValueError("the two models' weights differ in number or shape")
    return [(1.0 - alpha) * a + alpha * b if np.issubdtype(b.dtype, np.floating) else b.copy()
            for a, b in zip(base, tuned)]


def check_same_network(base, base_cfg, tuned, tuned_cfg, tuned_path: str | Path) -> None:
    """Refuse (InputError naming ``tuned_path``) models whose configs or weight lists differ: mixing
    gamma with beta of two batch-norm layers of equal shape would raise no error otherwise."""
    for field in SAME_FIELDS:
        a, b = getattr(base_cfg, field), getattr(tuned_cfg, field)
        if a != b:
            raise InputError(f"not the same network as the base model: {field} {b} against {a}", tuned_path)
    if [v.path for v in base.weights] != [v.path for v in tuned.weights]:
        raise InputError("not the same network as the base model: its weights are named differently",
                         tuned_path)


def interpolate_model_files(base_path: str | Path, tuned_path: str | Path, alpha: float,
                            out: str | Path) -> dict:
    """Save the mix of two ``.keras`` models of one network to ``out`` (atomically); returns a record.
    Other networks, another normalisation or an unwritable ``out`` are InputErrors naming the file."""
    from squeezeseg.models import keras_output, load_keras_model, save_keras_model

    keras_output(out)
    base, base_cfg = load_keras_model(base_path)
    tuned, tuned_cfg = load_keras_model(tuned_path)
    check_same_network(base, base_cfg, tuned, tuned_cfg, tuned_path)
    tuned.set_weights(mix_weights(base.get_weights(), tuned.get_weights(), alpha))
    save_keras_model(tuned, out)
    return {"base": str(base_path), "tuned": str(tuned_path), "alpha": alpha, "out": str(out)}
