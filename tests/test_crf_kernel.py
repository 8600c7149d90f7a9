"""The compiled CRF that exported models run after their network (squeezeseg.crf_kernel) gives the
Keras RecurrentCRF's logits: same equations, any class count, window size and iteration count, empty
pixels and image borders included, whole windows or column strips on several threads."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.crf_kernel import CRFKernel, crf_description
from squeezeseg.crf_loops import exp_inplace
from squeezeseg.errors import InputError


def keras_crf(cfg: dict, rng: np.random.Generator):
    """A built RecurrentCRF with random (trained-looking) compatibility matrices."""
    from squeezeseg.nn.crf import RecurrentCRF

    c = len(cfg["bilateral_theta_r"])
    layer = RecurrentCRF(cfg["iterations"], cfg["size"], cfg["bilateral_theta_a"], cfg["bilateral_theta_r"],
                         cfg["bilateral_coef"], cfg["angular_theta_a"], cfg["angular_coef"])
    layer.build([(None, 8, 8, c), (None, 8, 8, 4)])
    layer.ang_compat.assign(rng.normal(0.0, 0.3, (c, c)).astype(np.float32))
    layer.bi_compat.assign(rng.normal(0.0, 1.0, (c, c)).astype(np.float32))
    return layer


def raw_input(rng: np.random.Generator, b: int, h: int, w: int) -> np.ndarray:
    """(B, H, W, 6) raw x, y, z, intensity, range, mask: smooth surfaces with steps and empty pixels."""
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((b, h, w, 6), np.float32)
    for i in range(b):
        depth = 10 + 5 * np.sin(cols / 7 + i) + 3 * (cols > w // 2) + rng.normal(0, 0.05, (h, w))
        out[i, ..., 0] = depth
        out[i, ..., 1] = cols * 0.1 - 2
        out[i, ..., 2] = rows * 0.05 - 1
        out[i, ..., 3] = rng.random((h, w))
        out[i, ..., 4] = depth
        out[i, ..., 5] = rng.random((h, w)) > 0.15
    return out * np.concatenate([np.repeat(out[..., 5:6], 5, -1), np.ones_like(out[..., :1])], -1)


CASES = {
    "shipped": dict(iterations=3, size=[3, 5], bilateral_theta_a=[0.9, 0.9, 0.6, 0.6],
                    bilateral_theta_r=[0.015, 0.015, 0.01, 0.01], bilateral_coef=0.1,
                    angular_theta_a=[0.9, 0.9, 0.6, 0.6], angular_coef=0.02),
    "five classes, 5x7, wide kernels": dict(
        iterations=2, size=[5, 7], bilateral_theta_a=[1.5, 0.9, 0.6, 0.8, 1.0],
        bilateral_theta_r=[0.3, 0.1, 0.05, 0.3, 0.2], bilateral_coef=0.5,
        angular_theta_a=[0.9, 1.2, 0.6, 0.6, 2.0], angular_coef=0.2),
    "one iteration, 1x3": dict(iterations=1, size=[1, 3], bilateral_theta_a=[0.9, 0.6],
                               bilateral_theta_r=[0.2, 0.2], bilateral_coef=1.0,
                               angular_theta_a=[0.9, 0.6], angular_coef=0.5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_gives_the_keras_layers_logits(name):
    rng = np.random.default_rng(len(name))
    cfg = CASES[name]
    c = len(cfg["bilateral_theta_r"])
    layer = keras_crf(cfg, rng)
    mean, std = [5.0, -1.0, 0.5, 0.3, 12.0], [4.0, 3.0, 0.7, 0.2, 6.0]
    raw = raw_input(rng, 2, 12, 40)
    points = np.concatenate([(raw[..., :3] - mean[:3]) / np.float32(std[:3]) * raw[..., 5:6],
                             raw[..., 5:6]], -1).astype(np.float32)
    unary = rng.normal(0, 2, (2, 12, 40, c)).astype(np.float32)
    want = np.asarray(layer([unary, points]))
    desc = crf_description(cfg, layer.ang_compat.numpy(), layer.bi_compat.numpy(), mean, std)
    kernel = CRFKernel.from_description(desc)
    got = kernel(unary, raw)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
    assert np.abs(got - unary).max() > 0.05  # the CRF did change the logits


def test_column_strips_on_threads_are_exactly_the_whole_window():
    rng = np.random.default_rng(7)
    cfg = CASES["shipped"]
    layer = keras_crf(cfg, rng)
    desc = crf_description(cfg, layer.ang_compat.numpy(), layer.bi_compat.numpy(), [0.0] * 3, [1.0] * 3)
    raw = raw_input(rng, 3, 16, 200)
    unary = rng.normal(0, 2, (3, 16, 200, 4)).astype(np.float32)
    one = CRFKernel.from_description(desc, threads=1)
    many = CRFKernel.from_description(desc, threads=4)
    assert len(many._strips(1, 200)) == 4 and len(many._strips(4, 200)) == 4  # strips, then windows
    whole = one(unary, raw)
    np.testing.assert_array_equal(many(unary[:1], raw[:1]), whole[:1])
    np.testing.assert_array_equal(many(unary, raw), whole)


def test_vectorised_exp_matches_numpy_and_flushes_underflow():
    x = np.linspace(-100.0, 88.0, 200_001).astype(np.float32)
    got = x.copy()
    exp_inplace(got, np.empty(len(x), np.int32))
    want = np.exp(x.astype(np.float64))
    normal = x >= -87.0
    np.testing.assert_allclose(got[normal], want[normal], rtol=3e-7)
    assert np.all(got[~normal] == 0.0)  # below float32's normal range, as the graph's exp gives ~0


def test_the_loops_load_in_the_background_and_numba_waits_until_then():
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from squeezeseg.crf_kernel import CRFKernel, crf_description\n"
            "k = CRFKernel.from_description(crf_description(" + repr(CASES["shipped"])
            + ", np.zeros((4, 4)), np.zeros((4, 4)), [0.0] * 3, [1.0] * 3))\n"
            "print('numba' in sys.modules)\n"
            "k.warm_up()\n"
            "y = k(np.ones((1, 4, 8, 4), np.float32), np.ones((1, 4, 8, 6), np.float32))\n"
            "print('numba' in sys.modules, y.shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False", "True (1, 4, 8, 4)"]


def test_a_damaged_description_names_the_file(tmp_path):
    cfg = CASES["shipped"]
    good = crf_description(cfg, np.zeros((4, 4)), np.zeros((4, 4)), [0.0] * 3, [1.0] * 3)
    with pytest.raises(InputError, match="damaged CRF description") as err:
        CRFKernel.from_description({**good, "config": {}}, tmp_path / "m.tflite")
    assert "m.tflite" in str(err.value)
    with pytest.raises(InputError, match="shapes disagree"):
        CRFKernel.from_description({**good, "bilateral_compatibility": np.zeros((3, 3)).tolist()})
    for bad in ({**good, "std": [1.0, 0.0, 1.0]}, {**good, "std": [1.0, 1.0]},
                {**good, "config": {**good["config"], "iterations": -1}},
                {**good, "config": {**good["config"], "bilateral_theta_r": [0.0] * 4}}):
        with pytest.raises(InputError, match="damaged CRF description"), np.errstate(divide="ignore"):
            CRFKernel.from_description(bad)


def test_an_empty_batch_gives_an_empty_batch():
    cfg = CASES["shipped"]
    kernel = CRFKernel.from_description(crf_description(cfg, np.zeros((4, 4)), np.zeros((4, 4)), [0.0] * 3,
                                                        [1.0] * 3), threads=2)
    out = kernel(np.zeros((0, 4, 8, 4), np.float32), np.zeros((0, 4, 8, 6), np.float32))
    assert out.shape == (0, 4, 8, 4)
