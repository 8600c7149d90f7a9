"""The shared layers: shapes, save/reload, and the recurrent CRF against a plain NumPy reference."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from squeezeseg.nn import ContextAggregation, Fire, FireDeconv, RecurrentCRF
from squeezeseg.nn.xla import xla_fusion


def _roundtrip(model: keras.Model, x, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("bn", [False, True])
def test_fire_and_deconv_shapes_and_reload(tmp_path, bn):
    inp = keras.Input((4, 8, 6))
    f = Fire(3, 4, 5, batch_norm=bn)(inp)
    d = FireDeconv(3, 2, 2, batch_norm=bn)(f)
    c = ContextAggregation(reduction=2)(d)
    model = keras.Model(inp, c)
    assert f.shape[1:] == (4, 8, 9)
    assert c.shape[1:] == (4, 16, 4)
    x = np.random.default_rng(0).normal(size=(2, 4, 8, 6)).astype("float32")
    _roundtrip(model, x, tmp_path)


@pytest.mark.parametrize("factor", [2, 3])
def test_fire_deconv_subpixel_upsampling_is_the_transposed_convolution(factor):
    """The sub-pixel form the layer runs equals Keras' Conv2DTranspose with the same weights."""
    from squeezeseg.nn.fire import apply_seq

    layer = FireDeconv(6, 4, 4, factor=factor)
    x = np.random.default_rng(7).normal(size=(2, 5, 9, 3)).astype("float32")
    assert layer(x).shape == (2, 5, 9 * factor, 8)
    deconv = layer.up[0]
    deconv.bias.assign(np.random.default_rng(8).normal(size=6).astype("float32"))
    squeezed = apply_seq(layer.sq, x)
    want = np.asarray(deconv(squeezed))  # Keras' own transposed convolution
    np.testing.assert_allclose(np.asarray(layer.upsample(squeezed)), want, atol=1e-5)
    assert np.abs(want).max() > 0.1


def test_context_aggregation_separable_pool_is_the_7x7_max_pool():
    layer = ContextAggregation(reduction=2)
    x = np.random.default_rng(5).normal(size=(1, 9, 12, 4)).astype("float32")
    layer(x)
    full = tf.nn.max_pool2d(x, 7, 1, "SAME")
    np.testing.assert_array_equal(np.asarray(layer.pool_h(layer.pool_w(x))), full.numpy())


def test_context_aggregation_xla_path_matches_the_keras_layers():
    """The XLA-fused gate must compute what the layer's own sub-layers compute (pool, squeeze, excite)."""
    layer = ContextAggregation(reduction=2)
    x = np.random.default_rng(6).normal(size=(2, 9, 12, 8)).astype("float32")
    with xla_fusion(True):
        fused = np.asarray(layer(x))
    with xla_fusion(False):
        plain = np.asarray(layer(x))
    expected = x * np.asarray(layer.excite(layer.squeeze(tf.nn.max_pool2d(x, 7, 1, "SAME"))))
    np.testing.assert_allclose(fused, expected, atol=1e-6)
    np.testing.assert_allclose(plain, expected, atol=1e-6)
    assert np.abs(fused - x).max() > 1e-2  # the gate really scaled something


def test_context_aggregation_gates_between_zero_and_input():
    x = np.abs(np.random.default_rng(1).normal(size=(1, 6, 10, 8))).astype("float32")
    y = np.asarray(ContextAggregation(reduction=4)(x))
    assert np.all(y >= 0) and np.all(y <= x + 1e-6)


def _crf_reference(unary, points, layer: RecurrentCRF):
    """Per-pixel loops, written straight from the mean-field equations."""
    b, h, w, c = unary.shape
    kh, kw = layer.size
    ang_c = np.asarray(layer.ang_compat)
    bi_c = np.asarray(layer.bi_compat)
    x = unary.copy()
    for _ in range(layer.iterations):
        q = np.exp(x - x.max(-1, keepdims=True))
        q /= q.sum(-1, keepdims=True)
        ang = np.zeros_like(q)
        bi = np.zeros_like(q)
        for n in range(b):
            for i in range(h):
                for j in range(w):
                    for di in range(-(kh // 2), kh // 2 + 1):
                        for dj in range(-(kw // 2), kw // 2 + 1):
                            ii, jj = i + di, j + dj
                            if (di, dj) == (0, 0) or not (0 <= ii < h and 0 <= jj < w):
                                continue
                            a2 = di * di + dj * dj
                            d2 = np.sum((points[n, i, j, :3] - points[n, ii, jj, :3]) ** 2)
                            for k in range(c):
                                ta = layer.angular_theta_a[k]
                                ang[n, i, j, k] += np.exp(-a2 / ta**2) * q[n, ii, jj, k]
                                wb = (np.exp(-a2 / layer.bilateral_theta_a[k] ** 2)
                                      * np.exp(-d2 / (2 * layer.bilateral_theta_r[k] ** 2))
                                      * points[n, ii, jj, 3] * points[n, i, j, 3])
                                bi[n, i, j, k] += wb * q[n, ii, jj, k]
        x = unary - ang @ ang_c - bi @ bi_c
    return x


@pytest.fixture(params=[True, False], ids=["xla", "op-by-op"])
def xla_mode(request):
    """Run a CRF test with the XLA-compiled mean field and with the plain op graph (what exporters see)."""
    with xla_fusion(request.param):
        yield request.param


def test_crf_matches_numpy_reference(xla_mode):
    rng = np.random.default_rng(2)
    unary = rng.normal(size=(2, 5, 7, 4)).astype("float32")
    points = rng.normal(scale=0.05, size=(2, 5, 7, 4)).astype("float32")
    points[..., 3] = (rng.random((2, 5, 7)) > 0.2).astype("float32")
    layer = RecurrentCRF(iterations=3, bilateral_theta_r=(0.05, 0.05, 0.04, 0.04),
                         bilateral_coef=0.7, angular_coef=0.3)
    layer.build([unary.shape, points.shape])
    # random compatibilities so a transposed matrix would be caught
    layer.ang_compat.assign(rng.normal(size=(4, 4)).astype("float32"))
    layer.bi_compat.assign(rng.normal(size=(4, 4)).astype("float32"))
    out = np.asarray(layer([unary, points]))
    ref = _crf_reference(unary.astype(np.float64), points.astype(np.float64), layer)
    np.testing.assert_allclose(out, ref, atol=1e-4)
    assert np.abs(out - unary).max() > 1e-2  # the CRF really changed something


@pytest.mark.parametrize("classes", [2, 4, 6, 7, 20])
def test_pairwise_softmax_is_the_softmax(classes):
    """The exported CRF's softmax (C^2 exponentials up to 6 classes, the plain one beyond) equals
    the softmax, far logits included (differences capped, no overflow)."""
    from squeezeseg.nn.crf import pairwise_softmax

    x = np.random.default_rng(classes).normal(scale=3.0, size=(2, 3, 5, classes)).astype("float32")
    x[0, 0, 0, 0] = 200.0  # a difference beyond the cap of 80
    out = np.asarray(pairwise_softmax(tf.constant(x)))
    ref = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(out, ref / ref.sum(-1, keepdims=True), atol=1e-6)


def test_crf_gradients_agree_between_xla_and_op_by_op():
    """Training sees the XLA path: its gradients w.r.t. the logits and both compatibilities must be
    those of the plain graph."""
    rng = np.random.default_rng(5)
    unary = tf.constant(rng.normal(size=(1, 6, 9, 4)).astype("float32"))
    points = rng.normal(scale=0.05, size=(1, 6, 9, 4)).astype("float32")
    points[..., 3] = (rng.random((1, 6, 9)) > 0.2).astype("float32")
    layer = RecurrentCRF(iterations=2, bilateral_theta_r=(0.05, 0.05, 0.04, 0.04), bilateral_coef=0.7)
    layer.build([unary.shape, points.shape])
    layer.bi_compat.assign(rng.normal(size=(4, 4)).astype("float32"))
    grads = {}
    for xla in (True, False):
        with xla_fusion(xla), tf.GradientTape() as tape:
            tape.watch(unary)
            loss = tf.reduce_sum(tf.square(layer([unary, points])))
        grads[xla] = tape.gradient(loss, [unary, layer.ang_compat.value, layer.bi_compat.value])
    for a, b in zip(grads[True], grads[False]):
        assert float(tf.reduce_max(tf.abs(b))) > 0
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_crf_smooths_an_isolated_wrong_pixel():
    """A lone 'car' pixel inside a 'background' surface at the same depth gets pulled to background."""
    unary = np.zeros((1, 3, 5, 2), np.float32)
    unary[..., 0] = 2.0
    unary[0, 1, 2] = [0.0, 0.3]
    points = np.zeros((1, 3, 5, 4), np.float32)
    points[..., 3] = 1.0
    layer = RecurrentCRF(iterations=3, size=(3, 5), bilateral_theta_a=(0.9, 0.9),
                         bilateral_theta_r=(0.1, 0.1), angular_theta_a=(0.9, 0.9),
                         bilateral_coef=2.0, angular_coef=1.0)
    assert unary[0, 1, 2].argmax() == 1
    out = np.asarray(layer([unary, points]))
    assert out[0, 1, 2].argmax() == 0


def test_crf_saves_and_reloads(tmp_path):
    logits = keras.Input((3, 6, 4))
    pts = keras.Input((3, 6, 4))
    model = keras.Model([logits, pts], RecurrentCRF(iterations=2)([logits, pts]))
    model.get_layer(index=2).bi_compat.assign(np.full((4, 4), 0.3, np.float32))
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(1, 3, 6, 4)).astype("float32"),
         rng.normal(scale=0.01, size=(1, 3, 6, 4)).astype("float32")]
    _roundtrip(model, x, tmp_path)
