"""Per-layer parameters, multiply-accumulates and activation memory of a model (batch 1), in the
style of the SqueezeSeg papers' complexity tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LayerCost:
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int
    activation_bytes: int


def _shape(t) -> tuple:
    return tuple(1 if d is None else int(d) for d in t.shape)


def _conv_macs(layer, in_shape: tuple, out_shape: tuple) -> int:
    from keras import layers

    kh, kw = layer.kernel_size
    cin = in_shape[-1]
    if isinstance(layer, layers.Conv2DTranspose):
        return int(np.prod(in_shape[1:3])) * kh * kw * cin * layer.filters
    return int(np.prod(out_shape[1:3])) * kh * kw * cin * layer.filters


def _seq_macs(seq, shape: tuple) -> tuple[int, tuple]:
    """MACs of a list of sub-layers applied in order (convolutions; batch norm as one MAC per value)."""
    from keras import layers

    total = 0
    for sub in seq:
        out = tuple(1 if d is None else int(d) for d in sub.compute_output_shape(shape))
        if isinstance(sub, layers.Conv2D | layers.Conv2DTranspose):
            total += _conv_macs(sub, shape, out)
        elif isinstance(sub, layers.BatchNormalization):
            total += int(np.prod(out[1:]))
        shape = out
    return total, shape


def layer_macs(layer, in_shapes: list[tuple], out_shape: tuple) -> int:
    """Multiply-accumulates of one top-level layer at batch 1 (0 for reshapes, pooling, additions)."""
    from keras import layers

    from squeezeseg.nn import ContextAggregation, Fire, FireDeconv, RecurrentCRF

    x = in_shapes[0] if in_shapes else out_shape
    if isinstance(layer, Fire):
        m, s = _seq_macs(layer.sq, x)
        return m + _seq_macs(layer.e1, s)[0] + _seq_macs(layer.e3, s)[0]
    if isinstance(layer, FireDeconv):
        m, s = _seq_macs(layer.sq, x)
        m2, u = _seq_macs(layer.up, s)
        return m + m2 + _seq_macs(layer.e1, u)[0] + _seq_macs(layer.e3, u)[0]
    if isinstance(layer, ContextAggregation):
        m, s = _seq_macs([layer.squeeze], x)
        return m + _seq_macs([layer.excite], s)[0] + int(np.prod(x[1:]))
    if isinstance(layer, RecurrentCRF):
        h, w, c = out_shape[1:]
        k = layer.size[0] * layer.size[1] - 1
        kernel = h * w * k * (3 + c)
        per_iter = h * w * (2 * k * c + 2 * c * c)
        return kernel + layer.iterations * per_iter
    if isinstance(layer, layers.Conv2D | layers.Conv2DTranspose):
        return _conv_macs(layer, x, out_shape)
    if isinstance(layer, layers.BatchNormalization):
        return int(np.prod(out_shape[1:]))
    return 0


def profile_model(model) -> list[LayerCost]:
    """One :class:`LayerCost` per top-level layer of a functional Keras model."""
    rows = []
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            continue
        ins = layer.input if isinstance(layer.input, list | tuple) else [layer.input]
        in_shapes = [_shape(t) for t in ins]
        out = _shape(layer.output)
        rows.append(LayerCost(layer.name, layer.__class__.__name__, out[1:], int(layer.count_params()),
                              int(layer_macs(layer, in_shapes, out)), int(np.prod(out[1:])) * 4))
    return rows


def format_table(rows: list[LayerCost]) -> str:
    """Plain-text table with a total line."""
    head = f"{'layer':<16} {'type':<20} {'output':<16} {'params':>10} {'MMACs':>10} {'act. KiB':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = "x".join(str(d) for d in r.output_shape)
        lines.append(f"{r.name:<16} {r.kind:<20} {shape:<16} {r.params:>10,} {r.macs / 1e6:>10.2f} "
                     f"{r.activation_bytes / 1024:>10.1f}")
    lines.append("-" * len(head))
    p = sum(r.params for r in rows)
    m = sum(r.macs for r in rows)
    a = sum(r.activation_bytes for r in rows)
    lines.append(f"{'total':<16} {'':<20} {'':<16} {p:>10,} {m / 1e6:>10.2f} {a / 1024:>10.1f}")
    return "\n".join(lines)
