"""Weight interpolation of a model and its fine-tune (WiSE-FT): the mix is exactly
``(1 - alpha) * base + alpha * tuned`` per weight, it runs and can be calibrated, and models of
different networks or an alpha outside [0, 1] are refused with exit status 2 and no file written."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from test_da_calibration import target_images, tiny_config  # noqa: E402

from domain_adapt.interpolation import mix_weights  # noqa: E402
from domain_adapt.train import build_segmenter  # noqa: E402
from squeezeseg.cli import main  # noqa: E402


def test_mix_weights_ends_middle_and_counters():
    base = [np.zeros((2, 3), np.float32), np.array([4], np.int64)]
    tuned = [np.full((2, 3), 2.0, np.float32), np.array([7], np.int64)]
    np.testing.assert_array_equal(mix_weights(base, tuned, 0.0)[0], base[0])
    np.testing.assert_array_equal(mix_weights(base, tuned, 1.0)[0], tuned[0])
    mid = mix_weights(base, tuned, 0.25)
    np.testing.assert_allclose(mid[0], 0.5)
    assert mid[1].tolist() == [7]  # integer state (e.g. a step counter) is taken from the tune
    with pytest.raises(ValueError, match="alpha"):
        mix_weights(base, tuned, 1.5)
    with pytest.raises(ValueError, match="shape"):
        mix_weights(base, [np.zeros((3, 2), np.float32), tuned[1]], 0.5)


def saved_pair(tmp_path):
    import keras

    cfg = tiny_config()
    keras.utils.set_random_seed(1)
    base = build_segmenter(cfg, context_aggregation=False)
    keras.utils.set_random_seed(2)
    tuned = build_segmenter(cfg, context_aggregation=False)
    rng = np.random.default_rng(3)  # every weight differs, batch-norm moving statistics included
    tuned.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(w.dtype) for w in tuned.get_weights()])
    base.save(tmp_path / "base.keras")
    tuned.save(tmp_path / "tuned.keras")
    return base, tuned


def test_interpolate_cli_writes_the_mix_which_runs_and_calibrates(tmp_path):
    import keras

    import squeezeseg.nn  # noqa: F401

    base, tuned = saved_pair(tmp_path)
    out = tmp_path / "mix.keras"
    assert main(["adapt", "interpolate", "--base", str(tmp_path / "base.keras"), "--tuned",
                 str(tmp_path / "tuned.keras"), "--alpha", "0.25", "--out", str(out)]) == 0
    mixed = keras.saving.load_model(out, compile=False)
    assert any("moving_variance" in v.path for v in mixed.weights)
    for v, a, b in zip(mixed.weights, base.get_weights(), tuned.get_weights()):
        assert not np.allclose(a, b)
        np.testing.assert_allclose(v.numpy(), 0.75 * a + 0.25 * b, rtol=1e-5, atol=1e-6, err_msg=v.path)
    x = target_images(2)
    y = np.asarray(mixed.predict(x, verbose=0))
    assert np.isfinite(y).all()
    assert not np.allclose(y, np.asarray(base.predict(x, verbose=0)), atol=1e-4)
    from squeezeseg.data.synthetic import write_synthetic_dataset

    target = write_synthetic_dataset(tmp_path / "target", frames=2, height=8, width=32) / "lidar_2d"
    assert main(["adapt", "calibrate", "--model", str(out), "--target", str(target),
                 "--out", str(tmp_path / "mix_cal.keras")]) == 0


def test_interpolate_cli_refuses_other_networks_and_bad_alpha(tmp_path, capsys):
    saved_pair(tmp_path)
    cfg = tiny_config()
    cfg.width_multiplier = 0.25
    build_segmenter(cfg, context_aggregation=False).save(tmp_path / "wider.keras")
    cfg = tiny_config()
    cfg.mean = [m + 1.0 for m in cfg.mean]
    build_segmenter(cfg, context_aggregation=False).save(tmp_path / "shifted.keras")
    args = ["adapt", "interpolate", "--base", str(tmp_path / "base.keras")]
    assert main(args + ["--tuned", str(tmp_path / "wider.keras"), "--out", str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err
    assert "wider.keras" in err and "width_multiplier" in err
    assert main(args + ["--tuned", str(tmp_path / "shifted.keras"), "--out", str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err
    assert "shifted.keras" in err and "mean" in err
    assert main(args + ["--tuned", str(tmp_path / "tuned.keras"), "--out", str(tmp_path / "x.h5")]) == 2
    assert "x.h5" in capsys.readouterr().err
    assert main(args + ["--tuned", str(tmp_path / "tuned.keras"), "--alpha", "1.5",
                        "--out", str(tmp_path / "y.keras")]) == 2
    assert "alpha" in capsys.readouterr().err
    assert main(args + ["--tuned", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "z.keras")]) == 2
    assert "missing.keras" in capsys.readouterr().err
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "m.keras").mkdir()  # a folder where the file should go: cannot be written
    folder = tmp_path / "locked" / "m.keras"
    assert main(args + ["--tuned", str(tmp_path / "tuned.keras"), "--out", str(folder)]) == 2
    assert "m.keras" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in ("x.keras", "x.h5", "y.keras", "z.keras"))
