"""`make demo`'s per-class table: predicted and labelled point counts of .label files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import demo  # noqa: E402

from squeezeseg.io.semantickitti import write_semantickitti_labels  # noqa: E402


def test_counts_map_ids_to_classes_and_skip_unlabeled(segmenter, tmp_path):
    pred, true = tmp_path / "p.label", tmp_path / "t.label"
    write_semantickitti_labels(pred, np.array([10, 10, 30, 0, 0, 31], np.uint16))
    # 252 moving car is car; 20 other-vehicle is not car in the validation map; 0/1 are not counted
    write_semantickitti_labels(true, np.array([10, 252, 20, 0, 1, 40], np.uint16))
    counts = demo.class_counts(segmenter, [pred], [true])
    assert counts == {"unknown": (2, 2), "car": (2, 2), "pedestrian": (1, 0), "cyclist": (1, 0)}
    no_truth = demo.class_counts(segmenter, [pred], [tmp_path / "missing.label"])
    assert no_truth["car"] == (2, None)
    table = demo.counts_table(segmenter.classes, {"sim": counts, "real": no_truth})
    car_row = next(line for line in table.splitlines() if line.startswith("car"))
    assert car_row.split() == ["car", "2", "2", "2", "-"]
    assert any(line.startswith("other") for line in table.splitlines())


def test_real_scan_is_the_labelled_semantickitti_frame(shared_data):
    scan = demo.real_scan()
    assert scan is not None and scan.is_file()
    assert (scan.parents[1] / "labels" / f"{scan.stem}.label").is_file()
