"""scripts/false_cars_where.py: false car points by place on the KITTI object frames; its car IoU over
all front-window points is the one evaluate_real gives, and a folder without labels exits 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from squeezeseg.resources import shared_data_dir

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
ROOT = shared_data_dir() / "kitti_object_more" / "training"

import false_cars_where as fcw  # noqa: E402


def test_ious_leave_out_only_the_ignored_kinds():
    c = {"true": 60, "outside_image": 10, "dontcare": 20, "in_image": 30, "missed": 40, "missed_ignored": 10}
    plain, kept = fcw.ious(c)
    assert plain == pytest.approx(60 / 160)
    assert kept == pytest.approx(60 / (60 + 30 + 30))


def test_a_folder_without_kitti_object_labels_exits_2(tmp_path, capsys):
    assert fcw.main(["--data", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


@pytest.mark.skipif(not (ROOT / "label_2").is_dir(), reason=f"{ROOT} not present (../shared/data)")
def test_counts_agree_with_the_real_validation():
    from squeezeseg.datasets import open_dataset
    from squeezeseg.evaluate import evaluate_kitti_object
    from squeezeseg.runtime import load_model

    seg = load_model()
    ds = open_dataset(ROOT, kind="kitti_object")
    counts = [fcw.frame_places(seg, ds, i) for i in range(len(ds))]
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    want = evaluate_kitti_object(seg, ROOT, instances=False)["class"]["car"]["iou"]
    assert fcw.ious(total)[0] == pytest.approx(want, abs=1e-9)
    assert total["true"] + total["missed"] > 1000  # the three frames' car points in the front window
    assert total["missed_ignored"] <= total["missed"]
