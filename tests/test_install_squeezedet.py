"""scripts/install_squeezedet.py: the rule that lets a fine-tuned SqueezeDet replace the shipped one (real
car AP at IoU 0.7 lower nowhere, higher at moderate) and the atomic install of model and record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from install_squeezedet import car_ap, install, real_better  # noqa: E402


def report(easy, moderate, hard, iou05=(50.0, 50.0, 50.0)):
    """An evaluate_all report with these real car AP|R40 values (IoU 0.7, and a diagnostic at 0.5)."""
    table = lambda v: {"Car": {d: {"ap11": 0.0, "ap40": x, "n_gt": 3}  # noqa: E731
                               for d, x in zip(("easy", "moderate", "hard"), v)}}
    return {"real6_curve": table((easy, moderate, hard)), "real6_curve_iou05": table(iou05)}


def test_higher_at_moderate_and_lower_nowhere_is_better():
    ok, why = real_better(report(0.0, 1.15, 0.8), report(0.0, 0.0, 0.0))
    assert ok and "moderate 1.15 vs 0.00" in why


def test_a_tie_is_not_better():
    ok, why = real_better(report(0.0, 0.0, 0.0), report(0.0, 0.0, 0.0))
    assert not ok and "not higher at moderate" in why


def test_lower_at_any_difficulty_is_not_better():
    ok, why = real_better(report(1.0, 5.0, 3.0), report(2.0, 1.0, 1.0))
    assert not ok and "lower at easy" in why


def test_the_iou_05_diagnostic_does_not_decide():
    ok, _ = real_better(report(0.0, 1.0, 1.0, iou05=(0.0, 0.0, 0.0)), report(0.0, 0.0, 0.0))
    assert ok


def test_missing_values_count_as_zero():
    assert car_ap({}) == {"easy": 0.0, "moderate": 0.0, "hard": 0.0}
    bad = {"real6_curve": {"Car": {"easy": {"ap40": None}}}}
    assert car_ap(bad)["easy"] == 0.0


def test_install_writes_model_and_record_and_replaces_the_old_pair(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "squeezedet_small.keras").write_bytes(b"old")
    (weights / "squeezedet_small.json").write_text("{}")
    cand = tmp_path / "model.keras"
    cand.write_bytes(b"new model bytes")
    dest = install(cand, {"command": "finetune", "evaluation": {"x": 1}}, weights)
    assert dest.read_bytes() == b"new model bytes"
    assert json.loads(dest.with_suffix(".json").read_text())["command"] == "finetune"
    assert sorted(p.name for p in weights.iterdir()) == ["squeezedet_small.json", "squeezedet_small.keras"]


def demo(precision, recall):
    return {"boxes": 10, "camera": {"all_classes": {"tp": 1, "fp": 1, "fn": 1, "precision": precision,
                                                     "recall": recall}}}


def fake_scoring(monkeypatch, tmp_path, table: dict):
    """Stand-ins for the slow scoring (network runs) so that main's decision and install path run: each
    model path maps to (real moderate AP, simulated moderate AP, demo precision, demo recall)."""
    import bench_prelabel_squeezedet
    import finetune_squeezedet

    import squeezeseg.detection.evaluate as det_eval

    def evaluate_all(model, sim):
        real, simulated, _, _ = table[Path(model).name]
        out = report(0.0, real, real)
        out["heldout_sim_devkit"] = {"Car": {"moderate": {"ap40": simulated}}}
        return out

    def demo_report(models, cache, min_points=10, log=print):
        return {"models": {m: demo(*table[Path(m).name][2:]) for m in models}}

    monkeypatch.setattr(finetune_squeezedet, "evaluate_all", evaluate_all)
    monkeypatch.setattr(bench_prelabel_squeezedet, "demo_report", demo_report)
    monkeypatch.setattr(det_eval, "real_validation_dirs", lambda: [tmp_path])


def models(tmp_path, init_from):
    """A weights folder with a shipped model, a first fine-tune and a candidate fine-tuned from it."""
    weights, run = tmp_path / "weights", tmp_path / "run"
    weights.mkdir()
    run.mkdir()
    (weights / "squeezedet_small.keras").write_bytes(b"old")
    (weights / "squeezedet_small.json").write_text(json.dumps({"command": "old"}))
    (run / "first.keras").write_bytes(b"first")
    (run / "first.json").write_text(json.dumps({"command": "first", "init_from": "shipped"}))
    init = {"first": str(run / "first.keras"), "null": None}[init_from]
    (run / "model.keras").write_bytes(b"candidate")
    (run / "model.json").write_text(json.dumps({"command": "second", "init_from": init}))
    return weights, run / "model.keras"


def test_main_installs_a_better_candidate_with_the_record_of_its_origin(monkeypatch, tmp_path):
    from install_squeezedet import main

    weights, cand = models(tmp_path, "first")
    fake_scoring(monkeypatch, tmp_path, {"model.keras": (1.15, 20.0, 0.8, 0.5),
                                         "squeezedet_small.keras": (0.0, 4.0, 0.0, 0.0)})
    assert main([str(cand), "--sim", str(tmp_path), "--weights", str(weights)]) == 0
    assert (weights / "squeezedet_small.keras").read_bytes() == b"candidate"
    record = json.loads((weights / "squeezedet_small.json").read_text())
    assert record["command"] == "second" and record["init_record"]["command"] == "first"
    assert record["replaced"]["previous_model"]["command"] == "old"


def test_main_keeps_the_shipped_model_when_the_simulated_checks_regress(monkeypatch, tmp_path):
    from install_squeezedet import main

    weights, cand = models(tmp_path, "null")  # trained from scratch: no record of an origin
    fake_scoring(monkeypatch, tmp_path, {"model.keras": (1.15, 3.0, 0.8, 0.5),
                                         "squeezedet_small.keras": (0.0, 4.0, 0.0, 0.0)})
    assert main([str(cand), "--sim", str(tmp_path), "--weights", str(weights)]) == 0
    assert (weights / "squeezedet_small.keras").read_bytes() == b"old"
    assert main([str(cand), "--sim", str(tmp_path), "--weights", str(weights), "--install", "always"]) == 0
    assert json.loads((weights / "squeezedet_small.json").read_text())["init_record"] is None


def test_main_names_a_missing_input_and_exits_2(monkeypatch, tmp_path, capsys):
    from install_squeezedet import main

    weights, cand = models(tmp_path, "first")
    fake_scoring(monkeypatch, tmp_path, {})
    assert main([str(tmp_path / "nope.keras"), "--sim", str(tmp_path), "--weights", str(weights)]) == 2
    assert "nope.keras" in capsys.readouterr().err
    assert main([str(cand), "--sim", str(tmp_path / "no_sim"), "--weights", str(weights)]) == 2
    assert "no_sim" in capsys.readouterr().err
    (cand.with_suffix(".json")).write_text("[1, 2]")
    assert main([str(cand), "--sim", str(tmp_path), "--weights", str(weights)]) == 2
    assert "not a JSON object" in capsys.readouterr().err
    assert (weights / "squeezedet_small.keras").read_bytes() == b"old"
