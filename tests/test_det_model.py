"""The SqueezeDet network: paper's size, any input divisible by 16, configs, loss terms, save/load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from squeezeseg.detection.model import SqueezeDetConfig, build_squeezedet, load_squeezedet_config
from squeezeseg.errors import InputError


def tiny(**kw) -> SqueezeDetConfig:
    fires = [[4, 8, 8]] * 4 + [[8, 16, 16]] * 6
    return SqueezeDetConfig(
        **{
            "input_width": 160,
            "input_height": 64,
            "conv1": [8, 3],
            "fires": fires,
            "batch_norm": True,
            "anchors_at": [160, 64],
            **kw,
        }
    )


def test_squeezedet_has_the_papers_size_and_grid():
    model = build_squeezedet(load_squeezedet_config("squeezedet"))
    assert model.output_shape == (None, 24, 78, 9 * (3 + 1 + 4))
    size_mb = model.count_params() * 4 / 2**20
    assert 7.5 < size_mb < 8.3  # the paper: 7.9 MB


def test_plus_and_small_configs_load_and_plus_is_bigger():
    plus = load_squeezedet_config("squeezedet_plus")
    small = load_squeezedet_config("squeezedet_small")
    assert plus.conv1 == [96, 7] and plus.pool_after == [1, 4, 8]
    assert small.input_size == (624, 192) and small.grid_size == (39, 12)
    base = load_squeezedet_config("squeezedet")

    def width(c):
        return sum(s + e1 + e3 for s, e1, e3 in c.fires)

    assert width(plus) > width(base) > width(small)


@pytest.mark.parametrize("size", [(160, 64), (208, 48)])
def test_any_input_divisible_by_16(size):
    cfg = tiny(input_width=size[0], input_height=size[1])
    out = build_squeezedet(cfg)(np.zeros((2, size[1], size[0], 3), np.float32))
    assert tuple(out.shape) == (2, size[1] // 16, size[0] // 16, 9 * 8)
    assert len(cfg.anchors()) == (size[0] // 16) * (size[1] // 16) * 9


def test_bad_configs_name_the_file_and_key(tmp_path):
    with pytest.raises(ValueError, match="divisible by 16"):
        tiny(input_width=100)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="positive_iou"):
            tiny(positive_iou=bad)
    bad = tmp_path / "bad.yaml"
    bad.write_text("input_width: 1250\n")
    with pytest.raises(InputError, match="bad.yaml"):
        load_squeezedet_config(bad)
    bad.write_text("fire_modules: []\n")
    with pytest.raises(InputError, match="unknown key 'fire_modules'"):
        load_squeezedet_config(bad)


def test_loss_terms_vanish_for_the_perfect_prediction():
    from squeezeseg.detection.loss import loss_terms
    from squeezeseg.detection.targets import assign

    cfg = tiny(anchor_shapes=[[30, 30], [60, 40]])
    anchors = cfg.anchors()
    t = assign(anchors, np.array([[20.0, 10.0, 70.0, 50.0]]), np.array([1]))
    K, C, H, W = 2, 3, 4, 10
    out = np.zeros((1, H, W, K * (C + 5)), np.float32)
    a = int(np.flatnonzero(t.mask)[0])
    cell, k = divmod(a, K)
    r, c = divmod(cell, W)
    out[..., K * C : K * C + K] = -30.0
    out[0, r, c, k * C + 1] = 30.0
    out[0, r, c, K * C + k] = 30.0  # confidence 1 = IoU of the exact box
    out[0, r, c, K * C + K + 4 * k : K * C + K + 4 * k + 4] = t.deltas[a]
    y = t.packed(C)[None]
    terms = {k: float(v) for k, v in loss_terms(y, out, anchors, C, cfg.input_size).items()}
    assert max(terms.values()) < 1e-4
    out[0, r, c, K * C + K + 4 * k] += 0.5  # shift the box: regression and confidence terms grow
    worse = {k: float(v) for k, v in loss_terms(y, out, anchors, C, cfg.input_size).items()}
    assert worse["bbox"] == pytest.approx(5.0 * 0.25, rel=1e-4) and worse["conf"] > 1.0


def test_confidence_on_an_ignored_anchor_costs_nothing_on_a_negative_it_does():
    from squeezeseg.detection.loss import loss_terms
    from squeezeseg.detection.targets import assign

    cfg = tiny(anchor_shapes=[[30, 30], [60, 40]])
    anchors = cfg.anchors()
    K, C, H, W = 2, 3, 4, 10
    out = np.zeros((1, H, W, K * (C + 5)), np.float32)
    out[..., K * C : K * C + K] = -30.0  # every confidence 0
    out[0, 0, 0, K * C] = 30.0  # anchor 0 (cell 0, shape 0) fully confident
    plain = assign(anchors, np.zeros((0, 4)), np.zeros(0, int))
    ignored = assign(anchors, np.zeros((0, 4)), np.zeros(0, int), ignore=np.array([[0.0, 0.0, 10.0, 10.0]]))
    assert ignored.mask[0] == -1
    conf = lambda t: float(loss_terms(t.packed(C)[None], out, anchors, C, cfg.input_size)["conf"])  # noqa: E731
    assert conf(plain) == pytest.approx(100.0 / len(anchors), rel=1e-4)
    assert conf(ignored) < 1e-6


def test_saved_model_reloads_with_same_output(tmp_path):
    from squeezeseg.detection.detect import SqueezeDetector
    from squeezeseg.detection.train import save_model

    cfg = tiny()
    model = build_squeezedet(cfg)
    path = save_model(model, cfg, tmp_path / "m.keras", {"seed": 1})
    det = SqueezeDetector.load(path)
    assert det.config == cfg
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 160, 3)).astype(np.float32)
    assert np.allclose(det.raw(x), np.asarray(model(x, training=False)), atol=1e-5)
    xb = np.random.default_rng(1).uniform(0, 255, (3, 64, 160, 3)).astype(np.float32)  # compiled: any batch
    assert np.allclose(det.raw(xb), np.asarray(model(xb, training=False)), atol=1e-5)
    assert det._compiled.experimental_get_tracing_count() == 1  # one graph serves every batch size
    # an image of another size is resized; boxes come back in its own pixels
    objs = det.detect(np.zeros((100, 300, 3), np.uint8), score_threshold=0.0)
    assert all(0 <= o.box[0] <= o.box[2] <= 299 and 0 <= o.box[1] <= o.box[3] <= 99 for o in objs)
    (tmp_path / "broken.keras").write_bytes(b"junk")
    (tmp_path / "broken.json").write_text((tmp_path / "m.json").read_text())
    with pytest.raises(InputError, match="broken.keras"):
        SqueezeDetector.load(tmp_path / "broken.keras")


def test_config_round_trips_through_dict():
    from squeezeseg.config import from_dict

    cfg = tiny(classes=["Car"])
    assert from_dict(SqueezeDetConfig, dataclasses.asdict(cfg)) == cfg
