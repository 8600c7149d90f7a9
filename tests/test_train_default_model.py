"""scripts/train_default_model.py: a finished run in --out is reused only when it is the run asked for
(same config, steps, starting model and simulated data); bad arguments stop it before any work."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from squeezeseg.models import load_model_config

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_default_model.py"
DATA = {"sequences": 200, "frames_per_sequence": 5, "seed": 0,
        "dropout": "estimated from the unlabelled real scans kitti_object/testing/velodyne, kitti_pcd"}


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _finished(out: Path, config: dict, steps: int = 4000, init: str | None = None) -> None:
    out.mkdir(parents=True)
    (out / "model.keras").write_bytes(b"weights")
    record = {"config": config, "optimizer_iterations": steps, "init": init}
    (out / "train.json").write_text(json.dumps(record))
    (out / "default.json").write_text(json.dumps({"data": {"simulator": DATA}}))


def test_a_finished_run_of_the_same_config_is_reused(script, tmp_path):
    cfg = load_model_config("squeezesegv2_small_aug")
    assert script.finished_run(tmp_path / "none", cfg, 4000) is None
    done = cfg.to_dict()
    done["mean"] = [1.0] * 5  # measured on the data by training: not part of the comparison
    for key in ("ema", "tilt_deg", "range_weight", "range_weight_ref"):
        del done["train"][key]  # a run from before the key existed ran with its default (off)
    _finished(tmp_path / "run", done)
    assert script.finished_run(tmp_path / "run", cfg, 4000, None, DATA) == tmp_path / "run" / "model.keras"
    (tmp_path / "run" / "backup").mkdir()  # interrupted, not finished
    assert script.finished_run(tmp_path / "run", cfg, 4000, None, DATA) is None


def test_a_finished_run_of_another_config_is_refused(script, tmp_path):
    cfg = load_model_config("squeezesegv2_small_aug")
    done = cfg.to_dict()
    del done["train"]["ema"]
    _finished(tmp_path / "run", done)
    cfg.train.ema = 0.999
    with pytest.raises(SystemExit, match="another config"):
        script.finished_run(tmp_path / "run", cfg, 4000)
    cfg.train.ema, cfg.train.steps = 0.0, 10
    with pytest.raises(SystemExit, match="another config"):
        script.finished_run(tmp_path / "run", cfg, 4000)


@pytest.mark.parametrize("steps, init, data, why", [
    (8000, None, DATA, "of 4000 steps, not 8000"),  # the first run was cut short by --minutes
    (4000, "a.keras", DATA, "started from scratch"),
    (4000, None, {**DATA, "sequences": 40}, "other simulated data"),
    (4000, None, {**DATA, "dropout": "uniform 0.05"}, "other simulated data"),
])
def test_a_finished_run_of_other_steps_start_or_data_is_refused(script, tmp_path, steps, init, data, why):
    cfg = load_model_config("squeezesegv2_small_aug")
    _finished(tmp_path / "run", cfg.to_dict())
    with pytest.raises(SystemExit, match=why):
        script.finished_run(tmp_path / "run", cfg, steps, init, data)


def test_bad_arguments_are_refused_before_any_work(script, capsys):
    for bad in (["--ema", "1.0"], ["--steps", "0"], ["--range-weight", "3"], ["--wise", "0.5"],
                ["--init", "m.keras", "--wise", "1.5"]):
        with pytest.raises(SystemExit) as err:
            script.main(bad)
        assert err.value.code == 2
    err = capsys.readouterr().err
    assert "--ema must be in [0, 1)" in err and "--wise needs --init" in err
    assert "--wise must be in [0, 1]" in err


def test_the_data_fingerprint_changes_with_any_label_and_records_the_dropout_map(script, tmp_path):
    """default.json's labels_sha1 tells regenerated simulated data apart from the data a run trained on."""
    import numpy as np

    def make(root: Path, last: int) -> Path:
        for seq in ("sim_drive_0000_sync", "sim_drive_0001_sync"):
            (root / seq / "labels").mkdir(parents=True)
            np.array([10, 40, last], np.uint32).tofile(root / seq / "labels" / "0000000000.label")
        (root / "lidarsim.json").write_text(json.dumps({"dropout": "sha1:9567a3e806e8",
                                                        "simulator": "sha1:0123456789ab"}))
        return root

    a = script.data_fingerprint(make(tmp_path / "a", 30))
    assert a == script.data_fingerprint(make(tmp_path / "b", 30))
    assert a["dropout_map"] == "sha1:9567a3e806e8" and len(a["labels_sha1"]) == 40
    assert a["simulator"] == "sha1:0123456789ab"
    assert script.data_fingerprint(make(tmp_path / "c", 31))["labels_sha1"] != a["labels_sha1"]
    (tmp_path / "b" / "lidarsim.json").unlink()
    assert script.data_fingerprint(tmp_path / "b") == {**a, "dropout_map": None, "simulator": None}


def test_a_pinned_simulator_stays_first_in_the_worker_processes(monkeypatch, tmp_path):
    """--simulator-commit puts its copy of simulation/ ahead of the repository on sys.path; the
    simulator's spawned workers start with that path and re-import this script, which must not put the
    repository back in front (it did: the frames came from the working tree's simulator)."""
    import runpy

    pinned = str(tmp_path / "pinned")
    repo = str(SCRIPT.resolve().parent.parent)
    monkeypatch.setattr(sys, "path", [pinned, repo, *[p for p in sys.path if p != repo]])
    runpy.run_path(str(SCRIPT), run_name="__mp_main__")  # what a spawned worker does with the main script
    assert sys.path[:2] == [pinned, repo]
