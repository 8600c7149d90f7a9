"""scripts/finetune_squeezedet.py: the training folder it links together (the simulated train split, every
frame of extra simulated seeds, the repeated LiDAR-guided labels) and its refusal of missing folders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from finetune_squeezedet import build_mix, main  # noqa: E402


def kitti_folder(root: Path, ids: list[str], train: list[str] | None = None) -> Path:
    """A KITTI object folder with empty images and labels for ``ids`` and, when given, a train split."""
    for sub in ("image_2", "label_2"):
        (root / "training" / sub).mkdir(parents=True)
    for i in ids:
        Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(root / "training" / "image_2" / f"{i}.png")
        (root / "training" / "label_2" / f"{i}.txt").write_text("Car 0 0 0 1 1 20 20 1 1 1 0 0 5 0\n")
    if train is not None:
        (root / "ImageSets").mkdir()
        (root / "ImageSets" / "train.txt").write_text("\n".join(train) + "\n")
        (root / "ImageSets" / "val.txt").write_text("\n".join(sorted(set(ids) - set(train))) + "\n")
    return root


def test_extra_seeds_train_whole_while_the_held_out_split_stays_out(tmp_path):
    sim = kitti_folder(tmp_path / "sim", ["000000", "000001", "000002"], train=["000000", "000001"])
    extra = kitti_folder(tmp_path / "extra", ["000000", "000001"])
    real = kitti_folder(tmp_path / "real", ["000007"], train=["000007"])
    out = tmp_path / "mix"
    counts = build_mix(sim, real, 2, out, [extra])
    assert counts == {"sim": 2, "extra_sim_0": 2, "real_lidar_guided": 2}
    names = sorted(p.name for p in (out / "training" / "image_2").iterdir())
    assert names == ["lg0_000007.png", "lg1_000007.png", "sim_000000.png", "sim_000001.png",
                     "x0_000000.png", "x0_000001.png"]  # sim's val frame 000002 is not among them
    assert (out / "training" / "label_2" / "x0_000001.txt").resolve() == (
        extra / "training" / "label_2" / "000001.txt").resolve()
    other = kitti_folder(tmp_path / "other", ["000000"])  # a rerun of the run folder with another seed
    assert build_mix(sim, None, 1, out, [other])["extra_sim_0"] == 1
    assert (out / "training" / "image_2" / "x0_000000.png").resolve() == (
        other / "training" / "image_2" / "000000.png").resolve()


def test_a_missing_or_foreign_extra_folder_exits_2_naming_it(tmp_path, capsys):
    sim = kitti_folder(tmp_path / "sim", ["000000"], train=["000000"])
    missing = tmp_path / "nope"
    args = ["--sim", str(sim), "--no-real", "--run-dir", str(tmp_path / "run")]
    assert main([*args, "--extra-sim", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    assert main([*args, "--extra-sim", str(foreign)]) == 2
    assert str(foreign) in capsys.readouterr().err


def test_the_held_out_folder_or_a_repeated_extra_is_refused(tmp_path, capsys):
    sim = kitti_folder(tmp_path / "sim", ["000000", "000001"], train=["000000"])
    extra = kitti_folder(tmp_path / "extra", ["000000"])
    args = ["--sim", str(sim), "--no-real", "--run-dir", str(tmp_path / "run")]
    assert main([*args, "--extra-sim", str(tmp_path / "sim" / ".." / "sim")]) == 2  # its val would train
    assert "held out" in capsys.readouterr().err
    assert main([*args, "--extra-sim", str(extra), str(extra)]) == 2
    assert "given twice" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything is linked


@pytest.mark.parametrize("value", ["1", "-0.1", "1.5"])
def test_positive_iou_outside_0_1_is_a_usage_error(value, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["--no-real", "--positive-iou", value, "--run-dir", str(tmp_path / "run")])
    assert exc.value.code == 2
