"""The real validation (squeezeseg.evaluate: per-point SemanticKITTI scoring with the strict validation
classes, the comparison that decides whether new weights replace the shipped ones, the table) and
scripts/eval_real.py on the real data when it is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from squeezeseg.evaluate import compare_real, evaluate_point_labels, format_real_table
from squeezeseg.resources import shared_data_dir

REPO = Path(__file__).resolve().parent.parent


class IntensityOracle:
    """A stand-in segmenter whose prediction for each point is its intensity channel."""

    classes = ["unknown", "car", "pedestrian", "cyclist"]

    def __init__(self):
        self.calls = []

    def predict_points(self, points, full_circle=True):
        self.calls.append(full_circle)
        return points[:, 3].astype(np.int32)


def scan(tmp_path, ids, pred):
    from squeezeseg.io import write_points, write_semantickitti_labels

    n = len(ids)
    pts = np.zeros((n, 4), np.float32)
    pts[:, 0] = np.arange(n) + 5.0
    pts[:, 3] = pred
    s, lab = tmp_path / "velodyne" / "000000.bin", tmp_path / "labels" / "000000.label"
    write_points(s, pts)
    write_semantickitti_labels(lab, np.array(ids, np.uint16), np.arange(n, dtype=np.uint16))
    return [(s, lab)]


def test_semantickitti_scoring_is_per_point_full_circle_with_the_strict_classes(tmp_path):
    # car, van (other-vehicle), moving car, person, unlabeled, building, bicycle, bicyclist
    ids = [10, 20, 252, 30, 0, 50, 11, 31]
    pred = [1, 1, 1, 0, 1, 1, 3, 3]
    seg = IntensityOracle()
    rep = evaluate_point_labels(seg, scan(tmp_path, ids, pred), instances=False)
    assert seg.calls == [True]  # the model labels the whole circle
    assert rep["points"] == 7  # the unlabeled point is left out
    car = rep["class"]["car"]
    assert car["precision"] == pytest.approx(2 / 4) and car["recall"] == 1.0
    assert car["iou"] == pytest.approx(0.5)
    assert rep["class"]["pedestrian"]["recall"] == 0.0
    assert rep["class"]["cyclist"]["precision"] == pytest.approx(0.5)  # the parked bicycle is background
    # the training table (vans are cars) gives the van to car
    loose = evaluate_point_labels(seg, scan(tmp_path, ids, pred), label_map={}, instances=False)
    assert loose["class"]["car"]["iou"] == pytest.approx(3 / 4)
    full = evaluate_point_labels(seg, scan(tmp_path, ids, pred), instances=True)
    assert full["class"]["car"]["iou"] == pytest.approx(0.5) and "instance" in full


def test_scores_per_range_band(tmp_path):
    # Points at x = 5, 6, ..., 14 m: cars at 5-9 m all found, cars at 10-14 m found one in five.
    ids = [10] * 10
    pred = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    rep = evaluate_point_labels(IntensityOracle(), scan(tmp_path, ids, pred), instances=False,
                                range_bands=(0.0, 10.0, float("inf")))
    assert list(rep["by_range"]) == ["0-10 m", "10+ m"]
    assert rep["by_range"]["0-10 m"]["class"]["car"]["recall"] == 1.0
    assert rep["by_range"]["10+ m"]["class"]["car"]["recall"] == pytest.approx(0.2)
    assert rep["by_range"]["0-10 m"]["points"] + rep["by_range"]["10+ m"]["points"] == rep["points"]
    plain = evaluate_point_labels(IntensityOracle(), scan(tmp_path, ids, pred), instances=False)
    assert "by_range" not in plain


def test_intensity_scale_diagnostic_changes_only_the_intensity(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_real import ScaledIntensity

    # The oracle predicts each point's intensity: scaled by 0 every point is background, by 2 a 1
    # becomes a 2 (pedestrian) and values are clipped to 1 first.
    ids = [10, 10, 30, 50]
    pairs = scan(tmp_path, ids, [1, 1, 0, 0])
    oracle = IntensityOracle()
    plain = evaluate_point_labels(oracle, pairs, instances=False)
    assert plain["class"]["car"]["recall"] == 1.0
    zeroed = evaluate_point_labels(ScaledIntensity(oracle, 0.0), pairs, instances=False)
    assert zeroed["class"]["car"]["recall"] == 0.0
    doubled = evaluate_point_labels(ScaledIntensity(oracle, 2.0), pairs, instances=False)
    assert doubled["class"]["car"]["recall"] == 1.0  # clipped to [0, 1]: still 1
    assert ScaledIntensity(oracle, 0.0).classes == oracle.classes


def test_ensemble_averages_the_class_probabilities(save_tiny_segmenter):
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_real import ensemble

    from squeezeseg.errors import InputError
    from squeezeseg.runtime import load_model

    a, b = (load_model(save_tiny_segmenter(seed)[0]) for seed in (0, 1))
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 6)).astype(np.float32)
    x[..., 5] = 1.0

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    pa, pb = (softmax(np.asarray(s.predict_fn(x), np.float64)) for s in (a, b))
    both = ensemble([a, b])
    np.testing.assert_allclose(both.predict_fn(x), (pa + pb) / 2, atol=1e-6)
    assert not np.allclose(pa, pb)  # two different trainings, so the mean is neither of them
    listed = [a, b]
    listed.append(ensemble(listed))  # as eval_real does: the ensemble must not average itself
    np.testing.assert_allclose(listed[-1].predict_fn(x), (pa + pb) / 2, atol=1e-6)
    alone = ensemble([a, a]).predict_fn(x)
    assert (alone.argmax(-1) == pa.argmax(-1)).all()
    assert both.classes == a.classes and both.engine == "ensemble"
    b.config.fov_deg = 45.0
    with pytest.raises(InputError, match="field of view"):
        ensemble([a, b])


def test_sim_row_scores_a_simulated_folder_like_semantickitti(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_real import main, simulated_report

    from squeezeseg.errors import InputError

    scan(tmp_path / "seq", [10, 10, 50, 30], [1, 0, 1, 0])  # car found, car missed, false car, person
    rep = simulated_report(IntensityOracle(), tmp_path)
    assert rep["points"] == 4 and "confusion" not in rep and rep["by_range"]
    assert rep["class"]["car"]["iou"] == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="not found"):
        simulated_report(IntensityOracle(), tmp_path / "missing")
    assert main(["--sim", str(tmp_path / "missing"), "--data", str(tmp_path / "no_real_data")]) == 2
    assert "missing" in capsys.readouterr().err  # the simulated folder is named, not the real data


def test_car_bias_diagnostic_shifts_only_the_car_score(save_tiny_segmenter):
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_real import biased

    from squeezeseg.errors import InputError
    from squeezeseg.runtime import load_model

    seg = load_model(save_tiny_segmenter(0)[0])
    x = np.random.default_rng(1).normal(size=(1, 64, 64, 6)).astype(np.float32)
    x[..., 5] = 1.0
    plain = np.asarray(seg.predict_fn(x))
    car = seg.classes.index("car")
    shifted = biased(seg, "car", 0.5).predict_fn(x)
    np.testing.assert_allclose(shifted[..., car], plain[..., car] + 0.5, atol=1e-6)
    others = [i for i in range(len(seg.classes)) if i != car]
    np.testing.assert_allclose(shifted[..., others], plain[..., others], atol=1e-6)
    seg.shape_check = False  # noise input: its car segments are shaped like no vehicle
    huge = biased(seg, "car", 1e6)
    assert not huge.shape_check
    labels = huge.predict_range_image(x[0, ..., :5])
    assert (labels[x[0, ..., 4] > 0] == car).all()
    with pytest.raises(InputError, match="no class 'truck'"):
        biased(seg, "truck", 1.0)


def test_default_column_names_never_collide():
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_real import default_names

    names = default_names([None, Path("runs/a/model.keras"), Path("runs/a/model_calibrated.keras"),
                           Path("runs/b/model_calibrated.keras"), Path("x/other.keras")])
    assert names == ["default", "a", "a/model_calibrated", "b/model_calibrated", "other"]


def summary(car_ious, share):
    out = {s: {"car": {"iou": v, "precision": v, "recall": v}} for s, v in car_ious.items()}
    out["no_vehicle_car_share"] = share
    return out


def test_compare_real_needs_better_cars_everywhere_and_fewer_false_cars():
    def three(sk, ko, ss, share):
        return summary({"semantickitti": sk, "kitti_object": ko, "squeezeseg_sample": ss}, share)

    old = three(0.09, 0.001, 0.24, 0.44)
    better, why = compare_real(three(0.3, 0.0, 0.5, 0.05), old)
    assert better and "mean car IoU" in why
    worse_one, why = compare_real(three(0.6, 0.2, 0.1, 0.05), old)
    assert not worse_one and "squeezeseg_sample" in why
    more_false, why = compare_real(three(0.3, 0.1, 0.5, 0.5), old)
    assert not more_false and "false cars" in why
    same, _ = compare_real(old, old)
    assert not same  # equal is not better
    nan = summary({"semantickitti": float("nan"), "kitti_object": 0.01, "squeezeseg_sample": 0.3}, 0.1)
    assert compare_real(nan, old)[0] is False  # NaN counts as 0


def test_table_has_one_column_group_per_model():
    t = format_real_table({"baseline": summary({"semantickitti": 0.086}, 0.438),
                           "new": summary({"semantickitti": 0.5}, 0.01)})
    lines = t.splitlines()
    assert lines[0].count("IoU") == 2
    assert "| semantickitti | car | 8.6 | 8.6 | 8.6 | 50.0 | 50.0 | 50.0 |" in t
    assert "| semantickitti | pedestrian | - | - | - | - | - | - |" in t
    assert lines[-1].startswith("| kitti_object/000000 camera view | % called car | 43.8 |")


needs_data = pytest.mark.skipif(not (shared_data_dir() / "kitti_object" / "training").is_dir(),
                                reason="../shared/data/kitti_object not present")


@needs_data
def test_camera_view_of_the_frame_without_vehicles(tmp_path):
    from squeezeseg.evaluate import NO_VEHICLE_FRAME, REAL_SETS, camera_view_car_share

    class AllCar(IntensityOracle):
        def predict_points(self, points, full_circle=True):
            return np.ones(len(points), np.int32)

    root = shared_data_dir() / REAL_SETS[NO_VEHICLE_FRAME[0]][0]
    r = camera_view_car_share(AllCar(), root, NO_VEHICLE_FRAME[1])
    assert r["share"] == 1.0
    assert 10_000 < r["points"] < 40_000  # the camera sees about a fifth of the 120k-point scan


@needs_data
def test_eval_real_script_prints_the_table(tmp_path):
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "eval_real.py"), "--name", "shipped",
                        "--json", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "| kitti_object | car |" in p.stdout and "camera view | % called car |" in p.stdout
    assert out.is_file()
