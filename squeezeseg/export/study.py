"""Low-precision study of the segmentation networks (SqueezeSeg papers' fixed-point experiments).

* Simulated fixed-point quantization: each quantized unit (a top-level layer with a kernel: conv,
  fire, fire-deconv, context aggregation) rounds its kernels, its input and its output to a signed
  ``bits``-bit grid whose clipping range is a power of two, ``2^ceil(log2(percentile(|v|, p)))``,
  chosen per unit from weight and activation percentiles (95, 98, 99.9, 99.99). Rounding is to
  nearest; gradients are straight-through (TensorFlow's ``fake_quant_with_min_max_args`` for
  activations; float shadow weights for kernels). The input normalisation and the CRF stay float,
  as in the INT8 export.
* Progressive fine-tuning ("quantize while training"): units are quantized one at a time from input
  to output, with a few fine-tuning steps after each.
* Quantization-aware training: 8-bit fake quantization everywhere while fine-tuning, then a
  full-integer TFLite export of the fine-tuned weights (:mod:`squeezeseg.export.tflite`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from squeezeseg.errors import InputError

log = logging.getLogger(__name__)
PERCENTILES = (95.0, 98.0, 99.9, 99.99)
BITS = (16, 8, 6, 4)
FLOAT_UNITS = ("normalize", "crf", "crf_points", "logits")
_SAMPLE = 200_000  # activation values kept per unit and frame for the percentiles


def pow2_range(values: np.ndarray, percentile: float) -> float:
    """Smallest power of two at or above the ``percentile`` of ``|values|`` (at least 2^-16)."""
    v = float(np.percentile(np.abs(values), percentile)) if values.size else 0.0
    return float(2.0 ** math.ceil(math.log2(max(v, 2.0**-16))))


def quantize_np(x: np.ndarray, bits: int, r: float) -> np.ndarray:
    """Round ``x`` to the signed fixed-point grid of ``bits`` bits over [-r, r) (step r / 2^(bits-1))."""
    step = r / 2 ** (bits - 1)
    return (np.clip(np.round(x / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) * step).astype(x.dtype)


def fake_quant(x, bits: int, r: float):
    """TensorFlow's fake-quant op on the same grid (straight-through gradient inside the range)."""
    import tensorflow as tf

    step = r / 2 ** (bits - 1)
    return tf.quantization.fake_quant_with_min_max_args(x, min=-r, max=r - step, num_bits=bits)


def kernels(layer) -> list:
    """Kernel variables of a layer and its sub-layers (biases and batch-norm statistics stay float)."""
    return [w for w in layer.weights if w.path.split("/")[-1] in ("kernel", "depthwise_kernel")]


def quant_units(model) -> list[str]:
    """Names of the layers the study quantizes, in execution order (input to output)."""
    return [layer.name for layer in model.layers if layer.name not in FLOAT_UNITS and kernels(layer)]


@dataclass
class Ranges:
    """Power-of-two clipping ranges of one unit: kernels (by variable path), input, output."""

    weights: dict[str, float]
    inp: float
    out: float


def _sample(a: np.ndarray, rng) -> np.ndarray:
    a = a.ravel()
    return a if a.size <= _SAMPLE else rng.choice(a, _SAMPLE, replace=False)


def activation_samples(model, units: Sequence[str], inputs: np.ndarray) -> dict[str, tuple]:
    """Samples of every unit's input and output activations over ``inputs`` (B, H, W, 6)."""
    import keras

    probe = keras.Model(
        model.inputs, [t for n in units for t in (model.get_layer(n).input, model.get_layer(n).output)]
    )
    rng = np.random.default_rng(0)
    ins: dict[str, list] = {n: [] for n in units}
    outs: dict[str, list] = {n: [] for n in units}
    for x in inputs:
        acts = probe(x[None], training=False)
        for i, n in enumerate(units):
            ins[n].append(_sample(np.asarray(acts[2 * i]), rng))
            outs[n].append(_sample(np.asarray(acts[2 * i + 1]), rng))
    return {n: (np.concatenate(ins[n]), np.concatenate(outs[n])) for n in units}


def choose_ranges(
    model, units: Sequence[str], samples: dict[str, tuple], percentile: float
) -> dict[str, Ranges]:
    """Per-unit power-of-two ranges at ``percentile`` of the weights and activation samples."""
    out = {}
    for n in units:
        w = {v.path: pow2_range(np.asarray(v.numpy()), percentile) for v in kernels(model.get_layer(n))}
        out[n] = Ranges(w, pow2_range(samples[n][0], percentile), pow2_range(samples[n][1], percentile))
    return out


def fake_quant_layer(bits: int, r: float):
    """A Keras layer applying :func:`fake_quant` (functional graphs take TF ops only inside layers)."""
    import keras

    class FakeQuant(keras.layers.Layer):
        def call(self, x):
            return fake_quant(x, bits, r)

    return FakeQuant()


def quantized_clone(model, ranges: dict[str, Ranges], act_bits: int | None):
    """The model with fake-quantized inputs and outputs at every unit in ``ranges`` (weights shared)."""
    import keras

    def call(layer, *args, **kwargs):
        r = ranges.get(layer.name)
        if r is None or act_bits is None:
            return layer(*args, **kwargs)
        x = fake_quant_layer(act_bits, r.inp)(args[0])
        return fake_quant_layer(act_bits, r.out)(layer(x, *args[1:], **kwargs))

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


@contextlib.contextmanager
def quantized_weights(model, ranges: dict[str, Ranges], kernel_bits: int | None) -> Iterator[list]:
    """Kernels of the units in ``ranges`` rounded to ``kernel_bits`` inside the block, float after it.

    Yields ``[(variable, float value)]``: a training step reads gradients at the rounded weights and
    applies them to the float values (straight-through estimator for weights).
    """
    saved = []
    if kernel_bits is not None:
        for n, r in ranges.items():
            for v in kernels(model.get_layer(n)):
                w = np.asarray(v.numpy())
                saved.append((v, w))
                v.assign(quantize_np(w, kernel_bits, r.weights[v.path]))
    try:
        yield saved
    finally:
        for v, w in saved:
            v.assign(w)


def segmentation_scores(predict, frames: Sequence[tuple[np.ndarray, np.ndarray]], num_classes: int) -> dict:
    """Class IoU (valid pixels) and mIoU over the object classes of ``predict(x (1, H, W, 6)) -> logits``."""
    from squeezeseg.metrics import confusion_matrix, scores_from_confusion

    conf = np.zeros((num_classes, num_classes), np.int64)
    for img, lab in frames:
        pred = np.asarray(predict(img[None]))[0].argmax(-1)
        valid = lab >= 0
        conf += confusion_matrix(lab[valid], pred[valid], num_classes)
    iou = scores_from_confusion(conf).iou
    objects = [c for c in range(1, num_classes) if not np.isnan(iou[c])]
    return {
        "iou": [None if np.isnan(v) else float(v) for v in iou],
        "miou": float(np.mean(iou[objects])) if objects else None,
    }


def evaluate_quantized(model, frames, ranges, kernel_bits, act_bits, num_classes) -> dict:
    """Scores of the model with simulated fixed point (``None`` bits: that part stays float)."""
    qmodel = quantized_clone(model, ranges, act_bits)
    with quantized_weights(model, ranges, kernel_bits):
        return segmentation_scores(lambda x: qmodel(x, training=False), frames, num_classes)


def finetune(
    model, qmodel, ranges, kernel_bits, frames, steps: int, loss_fn, lr: float, seed: int
) -> list[float]:
    """``steps`` SGD steps of ``qmodel`` on ``frames`` with straight-through quantized kernels."""
    import keras
    import tensorflow as tf

    opt = keras.optimizers.SGD(lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    variables = model.trainable_variables

    @tf.function
    def loss_and_grads(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(y, qmodel(x, training=True)))
        return loss, tape.gradient(loss, [v.value for v in variables])

    losses = []
    for _ in range(steps):
        img, lab = frames[rng.integers(len(frames))]
        with quantized_weights(model, ranges, kernel_bits):  # gradients at the rounded kernels
            loss, grads = loss_and_grads(tf.constant(img[None]), tf.constant(lab[None]))
        opt.apply(grads, variables)  # the float shadow weights take the update
        losses.append(float(loss))
    return losses


def progressive_finetune(
    model, units, ranges, bits: int, frames, steps_per_unit: int, loss_fn, lr: float = 1e-3, seed: int = 0
) -> list[float]:
    """Quantize units one at a time from input to output, fine-tuning ``steps_per_unit`` after each."""
    losses = []
    for i, n in enumerate(units):
        active = {u: ranges[u] for u in units[: i + 1]}
        qmodel = quantized_clone(model, active, bits)
        losses += finetune(model, qmodel, active, bits, frames, steps_per_unit, loss_fn, lr, seed + i)
        log.info(
            "progressive %d-bit: %s quantized, loss %.4f", bits, n, losses[-1] if losses else float("nan")
        )
    return losses


def study_frames(data: str | Path, cfg, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image (H, W, 6), labels) of a SqueezeSeg-format folder's ``split`` ("all" without split files)."""
    from squeezeseg.data.sources import load_squeezeseg, squeezeseg_frames

    root = Path(data)
    if str(data) == "synthetic":
        from squeezeseg.data.synthetic import synthetic_frame
        from squeezeseg.datasets import with_mask

        seed = 0 if split == "train" else 1000
        return [with_mask(*synthetic_frame(cfg.height, cfg.width, seed + i, cfg.fov_deg)) for i in range(8)]
    has_split = (root / "ImageSet" / f"{split}.txt").is_file()
    return [load_squeezeseg(f, cfg) for f in squeezeseg_frames(root, split if has_split else "all")]


def run_study(
    model_path: str | Path,
    data: str | Path,
    bits: Sequence[int] = BITS,
    percentiles: Sequence[float] = PERCENTILES,
    calib_frames: int = 8,
    eval_frames: int = 20,
    finetune_bits: Sequence[int] = (),
    steps_per_unit: int = 0,
    qat_steps: int = 0,
    qat_out: str | Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The whole study as a dict: float scores, the accuracy-versus-bits table (weights and
    activations together, weights only, activations only, for every percentile), progressive
    fine-tuning results and QAT. The model file is never modified."""
    import keras

    from squeezeseg.losses import segmentation_loss
    from squeezeseg.models import load_keras_model

    for b in (*bits, *finetune_bits):
        if not 2 <= b <= 16:
            raise InputError(f"bit width {b} is outside 2..16")
    for p in percentiles:
        if not 50 <= p <= 100:
            raise InputError(f"percentile {p} is outside 50..100")
    keras.utils.set_random_seed(seed)
    model, cfg = load_keras_model(model_path)
    train = study_frames(data, cfg, "train")
    evalf = study_frames(data, cfg, "val")[:eval_frames]
    calib = np.stack([img for img, _ in train[:calib_frames]])
    units = quant_units(model)
    samples = activation_samples(model, units, calib)
    n = cfg.num_classes
    res: dict[str, Any] = {
        "model": str(model_path),
        "data": str(data),
        "units": units,
        "classes": cfg.classes,
        "eval_frames": len(evalf),
        "float": segmentation_scores(lambda x: model(x, training=False), evalf, n),
        "table": [],
    }
    all_ranges = {p: choose_ranges(model, units, samples, p) for p in percentiles}
    for b in bits:
        for variant, kb, ab in (
            ("weights+activations", b, b),
            ("weights", b, None),
            ("activations", None, b),
        ):
            row = {"bits": b, "quantized": variant, "miou": {}}
            for p in percentiles:
                row["miou"][str(p)] = evaluate_quantized(model, evalf, all_ranges[p], kb, ab, n)["miou"]
            res["table"].append(row)
            log.info("%2d bits %-20s %s", b, variant, row["miou"])
    best_p = _best_percentile(res["table"], percentiles)
    res["best_percentile"] = best_p
    loss_fn = segmentation_loss(cfg)
    res["progressive"] = []
    weights0 = model.get_weights()
    for b in finetune_bits:
        model.set_weights(weights0)
        ranges = all_ranges[best_p]
        before = evaluate_quantized(model, evalf, ranges, b, b, n)["miou"]
        losses = progressive_finetune(model, units, ranges, b, train, steps_per_unit, loss_fn, seed=seed)
        after = evaluate_quantized(model, evalf, choose_ranges(model, units, samples, best_p), b, b, n)[
            "miou"
        ]
        res["progressive"].append(
            {
                "bits": b,
                "percentile": best_p,
                "steps_per_unit": steps_per_unit,
                "miou_before": before,
                "miou_after": after,
                "loss_first": losses[0] if losses else None,
                "loss_last": losses[-1] if losses else None,
            }
        )
    if qat_steps:
        model.set_weights(weights0)
        res["qat"] = quantization_aware_training(
            model, cfg, units, all_ranges[best_p], train, evalf, qat_steps, loss_fn, qat_out, seed
        )
    model.set_weights(weights0)
    return res


def _best_percentile(table: list[dict], percentiles: Sequence[float]) -> float:
    """The percentile with the best mean mIoU over the fully quantized rows."""
    rows = [r for r in table if r["quantized"] == "weights+activations"]

    def score(p):
        vals = [r["miou"][str(p)] for r in rows if r["miou"][str(p)] is not None]
        return float(np.mean(vals)) if vals else -1.0

    return max(percentiles, key=score)


def quantization_aware_training(model, cfg, units, ranges, train, evalf, steps, loss_fn, out, seed) -> dict:
    """8-bit fake-quant fine-tuning of all units; the fine-tuned model exported as full-integer INT8."""
    qmodel = quantized_clone(model, ranges, 8)
    losses = finetune(model, qmodel, ranges, 8, train, steps, loss_fn, 1e-3, seed)
    res = {
        "steps": steps,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "simulated_8bit": evaluate_quantized(model, evalf, ranges, 8, 8, cfg.num_classes)["miou"],
    }
    if out is not None:
        from squeezeseg.export.tflite import export_tflite
        from squeezeseg.runtime import load_model

        inputs = [img for img, _ in train[:32]]
        path = export_tflite(
            model,
            out,
            {"kind": "squeezeseg", "config": cfg.to_dict(), "source": "qat"},
            "int8",
            lambda: (x[None] for x in inputs),
        )
        seg = load_model(path, "tflite")
        res["int8_tflite"] = {
            "path": str(path),
            "size_bytes": Path(path).stat().st_size,
            "miou": segmentation_scores(seg.logits, evalf, cfg.num_classes)["miou"],
        }
    return res


def format_markdown(res: dict[str, Any]) -> str:
    """The accuracy-versus-bits table and the fine-tuning results."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    ps = list(res["table"][0]["miou"]) if res["table"] else []
    lines = [
        f"# Low-precision study: {Path(res['model']).name}",
        "",
        f"{res['eval_frames']} evaluation frames from {res['data']}; "
        f"float mIoU {pct(res['float']['miou'])} %.",
        "",
        "mIoU (%) with power-of-two ranges at each percentile:",
        "",
        "| bits | quantized | " + " | ".join(f"p{p}" for p in ps) + " |",
        "| ---: | --- | " + " | ".join("---:" for _ in ps) + " |",
    ]
    for r in res["table"]:
        lines.append(
            f"| {r['bits']} | {r['quantized']} | " + " | ".join(pct(r["miou"][p]) for p in ps) + " |"
        )
    if res.get("progressive"):
        lines += [
            "",
            f"Progressive fine-tuning (percentile {res['best_percentile']}):",
            "",
            "| bits | steps per unit | mIoU before | mIoU after |",
            "| ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r['bits']} | {r['steps_per_unit']} | {pct(r['miou_before'])} | {pct(r['miou_after'])} |"
            for r in res["progressive"]
        ]
    if res.get("qat"):
        q = res["qat"]
        lines += [
            "",
            f"QAT (8-bit fake quantization, {q['steps']} steps): simulated mIoU {pct(q['simulated_8bit'])} %"
            + (f"; full-integer TFLite mIoU {pct(q['int8_tflite']['miou'])} %" if "int8_tflite" in q else ""),
        ]
    return "\n".join(lines) + "\n"
