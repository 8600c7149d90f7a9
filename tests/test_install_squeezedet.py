"""scripts/install_squeezedet.py: the rule that lets a fine-tuned SqueezeDet replace the shipped one (real
car AP at IoU 0.7 lower nowhere, higher at moderate) and the atomic install of model and record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from install_squeezedet import install, real_better, real_car_ap  # noqa: E402


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
    assert real_car_ap({}) == {"easy": 0.0, "moderate": 0.0, "hard": 0.0}
    bad = {"real6_curve": {"Car": {"easy": {"ap40": None}}}}
    assert real_car_ap(bad)["easy"] == 0.0


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
