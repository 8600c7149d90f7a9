"""Geodesic correlation alignment: zero for identical batches, positive otherwise, finite (value and
gradient) for rank-deficient batches, gradient equal to finite differences."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from domain_adapt.geodesic import covariance, geodesic_correlation_loss, spd_logm  # noqa: E402


def _batch(n=200, c=4, seed=0, scale=1.0):
    return (np.random.default_rng(seed).normal(size=(n, c)) * scale).astype(np.float32)


def test_zero_for_identical_batches():
    a = _batch()
    assert float(geodesic_correlation_loss(a, a)) == pytest.approx(0.0, abs=1e-9)


def test_positive_for_different_batches_and_grows_with_the_difference():
    a = _batch(seed=0)
    near = float(geodesic_correlation_loss(a, a * 1.1))
    far = float(geodesic_correlation_loss(a, a * 3.0))
    other = float(geodesic_correlation_loss(a, _batch(seed=1)))
    assert 0 < near < far
    assert other > 0


def test_matrix_log_matches_eigen_definition():
    rng = np.random.default_rng(3)
    m = rng.normal(size=(4, 4))
    spd = m @ m.T + 0.5 * np.eye(4)
    w, v = np.linalg.eigh(spd)
    expected = v @ np.diag(np.log(w)) @ v.T
    np.testing.assert_allclose(spd_logm(tf.constant(spd)).numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_finite_for_rank_deficient_batches(n):
    a = _batch(n=n)  # fewer samples than channels: singular covariance
    b = _batch(seed=5)
    src = tf.Variable(a)
    with tf.GradientTape() as tape:
        loss = geodesic_correlation_loss(src, b)
    grad = tape.gradient(loss, src)
    assert np.isfinite(float(loss))
    assert np.all(np.isfinite(grad.numpy()))


def test_finite_gradient_with_constant_channels_and_identical_batches():
    a = _batch()
    a[:, 2] = 1.0  # a constant channel: two equal eigenvalues after regularisation
    a[:, 3] = 1.0
    x = tf.Variable(a)
    with tf.GradientTape() as tape:
        loss = geodesic_correlation_loss(x, a)
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)  # minimum at identical batches


def test_gradient_matches_finite_differences():
    a = _batch(n=30, seed=2).astype(np.float64)
    b = _batch(n=50, seed=4, scale=2.0)
    x = tf.Variable(a)
    with tf.GradientTape() as tape:
        loss = tf.cast(geodesic_correlation_loss(x, b), tf.float64)
    grad = tape.gradient(loss, x).numpy()

    def f(arr):
        from domain_adapt.geodesic import geodesic_distance

        return float(geodesic_distance(covariance(tf.constant(arr)), covariance(tf.constant(b))))

    for i, j in [(0, 0), (7, 3), (29, 1)]:
        e = np.zeros_like(a)
        e[i, j] = 1e-5
        numeric = (f(a + e) - f(a - e)) / 2e-5
        assert grad[i, j] == pytest.approx(numeric, rel=1e-3, abs=1e-5)


def test_covariance_is_regularised_and_symmetric():
    c = covariance(np.zeros((5, 4), np.float32), eps=1e-3).numpy()
    np.testing.assert_allclose(c, 1e-3 * np.eye(4))
