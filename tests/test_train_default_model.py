"""scripts/train_default_model.py: a finished run in --out is reused only when it ran the same config."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from squeezeseg.models import load_model_config

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _finished(out: Path, config: dict) -> None:
    out.mkdir(parents=True)
    (out / "model.keras").write_bytes(b"weights")
    (out / "train.json").write_text(json.dumps({"config": config}))


def test_a_finished_run_of_the_same_config_is_reused(script, tmp_path):
    cfg = load_model_config("squeezesegv2_small_aug")
    assert script.finished_run(tmp_path / "none", cfg) is None
    done = cfg.to_dict()
    done["mean"] = [1.0] * 5  # measured on the data by training: not part of the comparison
    del done["train"]["ema"]  # a run from before the key existed ran with its default (off)
    _finished(tmp_path / "run", done)
    assert script.finished_run(tmp_path / "run", cfg) == tmp_path / "run" / "model.keras"
    (tmp_path / "run" / "backup").mkdir()  # interrupted, not finished
    assert script.finished_run(tmp_path / "run", cfg) is None


def test_a_finished_run_of_another_config_is_refused(script, tmp_path):
    cfg = load_model_config("squeezesegv2_small_aug")
    done = cfg.to_dict()
    del done["train"]["ema"]
    _finished(tmp_path / "run", done)
    cfg.train.ema = 0.999
    with pytest.raises(SystemExit, match="another config"):
        script.finished_run(tmp_path / "run", cfg)
    cfg.train.ema, cfg.train.steps = 0.0, 10
    with pytest.raises(SystemExit, match="another config"):
        script.finished_run(tmp_path / "run", cfg)
