"""`squeezeseg adapt pipeline`: bad input is refused before any training (exit 2, message naming the
folder), the two-domain training step gives finite losses, and a tiny end-to-end run writes the
ablation table (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

pytest.importorskip("tensorflow")

from domain_adapt.pipeline import STAGES, PipelineOptions, run_pipeline  # noqa: E402
from squeezeseg.cli import main  # noqa: E402
from squeezeseg.data.synthetic import write_synthetic_dataset  # noqa: E402
from squeezeseg.resources import config_path  # noqa: E402


@pytest.fixture()
def tiny(tmp_path):
    """A 16x64 model config, a labelled source, unlabelled target and labelled evaluation folders."""
    cfg = yaml.safe_load(config_path("models", "squeezesegv2_small").read_text())
    cfg.update(height=16, width=64, width_multiplier=0.125)
    cfg["train"]["crop_width"] = 32
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    source = write_synthetic_dataset(tmp_path / "source", frames=4, height=16, width=64, val=1, seed=0)
    target = write_synthetic_dataset(tmp_path / "target", frames=3, height=16, width=64, seed=50)
    evals = write_synthetic_dataset(tmp_path / "eval", frames=2, height=16, width=64, seed=90)
    return cfg_path, source, target / "lidar_2d", evals / "lidar_2d"


def pipeline_args(cfg, source, target, evals, out):
    return ["adapt", "pipeline", "--model-config", str(cfg), "--source", str(source), "--target", str(target),
            "--eval", str(evals), "--out", str(out), "--budget", "0.005", "--views", "1", "--no-progress"]


def test_empty_target_folder_is_refused(tiny, tmp_path, capsys):
    cfg, source, _, evals = tiny
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(pipeline_args(cfg, source, empty, evals, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "no scans or range images found" in err
    assert not (tmp_path / "out").exists()


def test_source_and_target_of_different_shapes_are_refused(tiny, tmp_path, capsys):
    cfg, source, _, evals = tiny
    wide = write_synthetic_dataset(tmp_path / "wide", frames=1, height=16, width=128)
    assert main(pipeline_args(cfg, source, wide / "lidar_2d", evals, tmp_path / "out")) == 2
    assert "the model wants 16x64" in capsys.readouterr().err


def test_source_of_another_sensor_is_refused(tiny, tmp_path, capsys):
    cfg, source, target, evals = tiny
    (source / "lidarsim.json").write_text(json.dumps({"sensor": "hdl32e"}))
    assert main(pipeline_args(cfg, source, target, evals, tmp_path / "out")) == 2
    assert "sensor 'hdl32e'" in capsys.readouterr().err


def test_missing_eval_folder_is_refused(tiny, tmp_path, capsys):
    cfg, source, target, _ = tiny
    assert main(pipeline_args(cfg, source, target, tmp_path / "nope", tmp_path / "out")) == 2
    assert "evaluation folder not found" in capsys.readouterr().err


def test_adaptation_step_with_alignment_gives_finite_losses(tiny):
    import tensorflow as tf

    from domain_adapt.frames import load_source, load_unlabelled
    from domain_adapt.train import AdaptOptions, train_adapted
    from squeezeseg.models import load_model_config

    cfg_path, source, target, _ = tiny
    cfg = load_model_config(cfg_path)
    cfg.crf.enabled = False
    src = load_source(cfg, source)
    tgt = load_unlabelled(cfg, target)
    tf.config.run_functions_eagerly(True)  # two steps: tracing the graph would cost more than running
    try:
        model, logs = train_adapted(cfg, src, tgt, AdaptOptions(steps=2, batch_size=2, crop_width=32,
                                                                gca_weight=10.0), progress=False)
    finally:
        tf.config.run_functions_eagerly(False)
    assert set(logs) == {"focal", "gca"} and all(np.isfinite(v) for v in logs.values())
    assert logs["gca"] > 0
    assert model.input_shape == (None, 16, 64, 6) and model.output_shape == (None, 16, 64, 4)


@pytest.mark.slow
def test_tiny_pipeline_end_to_end_and_resume(tiny, tmp_path):
    cfg, source, target, evals = tiny
    out = tmp_path / "out"
    opts = PipelineOptions(model_config=str(cfg), budget=0.01, batch_size=2, crop_width=32, target_views=1)
    report = run_pipeline(source, target, [evals], out, opts, progress=False)
    assert list(report["stages"]) == list(STAGES)
    for stage in report["stages"].values():
        assert stage["pixels"] > 0 and "car" in stage["class"]
    table = (out / "ablation.md").read_text()
    assert all(s in table for s in STAGES)
    again = run_pipeline(source, target, [evals], out, opts, progress=False)  # every stage done: reread
    assert again["stages"] == json.loads((out / "ablation.json").read_text())["stages"]
