"""Dataset layouts read back with the toolkit's readers; resume, determinism, bad input, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulation.cli import main
from simulation.dataset import generate_dataset, simulator_fingerprint
from simulation.sequence import SequenceSimulator
from squeezeseg.errors import InputError
from squeezeseg.io import (
    read_kitti_calib,
    read_kitti_labels,
    read_points,
    read_semantickitti_labels,
    read_split,
    read_squeezeseg_npy,
    read_tracking_labels,
)
from squeezeseg.projection import SphericalProjection
from squeezeseg.sensors import load_sensor


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "raw"
    generate_dataset(out, frames=2, sequences=1, seed=3, layout="kitti-raw", camera=True, progress=False)
    return out


def test_kitti_raw_layout_reads_back(raw_dir):
    drive = raw_dir / "sim_drive_0000_sync"
    frame = SequenceSimulator("hdl64e", frames=2, seed=3, sequence=0).frame(1)
    pts = read_points(drive / "velodyne_points" / "data" / "0000000001.bin")
    assert np.array_equal(pts[:, :4], frame.points)
    cls, inst = read_semantickitti_labels(drive / "labels" / "0000000001.label", n_points=len(pts))
    assert np.array_equal(cls, frame.semantickitti) and np.array_equal(inst, frame.instances)
    assert {10, 40, 48}.issubset(set(np.unique(cls)))  # car, road, sidewalk
    calib = read_kitti_calib(raw_dir)
    assert calib.image_size == (1242, 375)
    np.testing.assert_allclose(calib.velo_to_rect, frame.calib.velo_to_rect, atol=1e-9)
    tracks = read_tracking_labels(raw_dir / "label_02" / "0000.txt", calib)
    assert set(tracks) <= {0, 1} and tracks
    ids = {b.track_id for b in tracks[1]}
    expected = {b.track_id: b for b in frame.boxes}
    assert ids and ids <= set(expected)
    for b in tracks[1]:
        e = expected[b.track_id]
        np.testing.assert_allclose(b.center, e.center, atol=2e-3)
        assert b.label == e.label and abs(np.cos(b.yaw - e.yaw)) > 0.999
    from PIL import Image

    img = np.asarray(Image.open(drive / "image_02" / "data" / "0000000001.png"))
    assert img.shape == (375, 1242, 3)
    manifest = json.loads((raw_dir / "lidarsim.json").read_text())
    assert manifest["seed"] == 3 and manifest["layout"] == "kitti-raw"


def test_resume_regenerates_only_missing_frames_identically(raw_dir):
    bin1 = raw_dir / "sim_drive_0000_sync" / "velodyne_points" / "data" / "0000000001.bin"
    bin0 = bin1.with_name("0000000000.bin")
    before, mtime0 = bin1.read_bytes(), bin0.stat().st_mtime_ns
    bin1.unlink()
    (bin1.parent / ".0000000001.bin.abc.tmp").write_bytes(b"half a frame")  # a crash leftover
    generate_dataset(raw_dir, frames=2, sequences=1, seed=3, layout="kitti-raw", camera=True, progress=False)
    assert bin1.read_bytes() == before
    assert not list(bin1.parent.glob(".*.tmp"))  # the leftover is cleaned up
    assert bin0.stat().st_mtime_ns == mtime0  # finished frame skipped


def test_refuses_a_different_dataset_or_foreign_folder(raw_dir, tmp_path):
    with pytest.raises(InputError, match="different dataset"):
        generate_dataset(
            raw_dir, frames=2, sequences=1, seed=4, layout="kitti-raw", camera=True, progress=False
        )
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        generate_dataset(tmp_path, frames=1, progress=False)


def test_refuses_to_resume_frames_of_another_simulator_version(raw_dir):
    """Frames made by other simulator code are not resumed into, nor passed off as, the current one's."""
    manifest = raw_dir / "lidarsim.json"
    meta = json.loads(manifest.read_text())
    assert meta["simulator"] == simulator_fingerprint(load_sensor("hdl64e"))
    manifest.write_text(json.dumps({**meta, "simulator": "sha1:000000000000"}))
    try:
        with pytest.raises(InputError, match="different dataset.*simulator: 'sha1:000000000000' there"):
            generate_dataset(
                raw_dir, frames=2, sequences=1, seed=3, layout="kitti-raw", camera=True, progress=False
            )
    finally:
        manifest.write_text(json.dumps(meta))


def test_simulator_fingerprint_follows_the_code_and_the_sensor(monkeypatch, tmp_path):
    import simulation.dataset as dataset

    hdl64, hdl32 = load_sensor("hdl64e"), load_sensor("hdl32e")
    here = simulator_fingerprint(hdl64)
    assert here == simulator_fingerprint(hdl64) and here != simulator_fingerprint(hdl32)
    pkg = tmp_path / "simulation"
    pkg.mkdir()
    (pkg / "dataset.py").write_text("# one version\n")
    monkeypatch.setattr(dataset, "__file__", str(pkg / "dataset.py"))
    one = simulator_fingerprint(hdl64)
    (pkg / "lidar.py").write_text("# a change\n")
    assert one != here and simulator_fingerprint(hdl64) != one


def test_kitti_object_layout_reads_back(tmp_path):
    generate_dataset(
        tmp_path, frames=1, sequences=2, seed=8, layout="kitti-object", camera=False, progress=False
    )
    t = tmp_path / "training"
    labelled = 0
    for n in ("000000", "000001"):
        calib = read_kitti_calib(t / "calib" / f"{n}.txt")
        boxes = read_kitti_labels(t / "label_2" / f"{n}.txt", calib)
        pts = read_points(t / "velodyne" / f"{n}.bin")
        assert len(pts) > 100000
        labelled += len(boxes)  # a frame may have no object in view (as 15% of KITTI's have no car)
        for b in boxes:  # boxes are in front of the camera and hold points
            assert b.center[0] > 0 and b.contains(pts, margin=0.1).sum() > 0
    assert labelled
    assert read_split(tmp_path / "ImageSets" / "train.txt") == ["000000"]
    assert read_split(tmp_path / "ImageSets" / "val.txt") == ["000001"]


@pytest.fixture(scope="module")
def seed2_mask():
    """Pixels of the front 64 x 512 window that the projection fills with frame 0 of seed 2."""
    frame = SequenceSimulator("hdl64e", frames=1, seed=2).frame(0)
    return (
        SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=90.0)
        .project(frame.points, rows="table")
        .mask
    )


def test_squeezeseg_layout_agrees_with_projection(tmp_path, seed2_mask):
    generate_dataset(tmp_path, frames=1, sequences=1, seed=2, layout="squeezeseg", progress=False)
    image, labels = read_squeezeseg_npy(tmp_path / "lidar_2d" / "sim_0000_000000.npy")
    assert image.shape == (64, 512, 5) and labels.shape == (64, 512)
    assert set(np.unique(labels)) <= {0, 1, 2, 3} and (labels == 1).sum() > 20  # a car in view
    assert np.all(image[labels > 0, 4] > 0)  # labelled pixels hold a point
    assert (seed2_mask == (image[..., 4] > 0)).mean() > 0.995  # the projection's own row/column convention
    assert read_split(tmp_path / "ImageSet" / "all.txt") == ["sim_0000_000000"]


def test_squeezeseg_dropout_blanks_pixels(tmp_path, seed2_mask):
    generate_dataset(tmp_path, frames=1, seed=2, layout="squeezeseg", dropout=0.3, progress=False)
    image, labels = read_squeezeseg_npy(tmp_path / "lidar_2d" / "sim_0000_000000.npy")
    kept = (image[..., 4] > 0).sum() / seed2_mask.sum()
    assert 0.65 < kept < 0.75
    assert not labels[image[..., 4] == 0].any()  # dropped pixels lose their label too


def test_cli_generate_and_errors(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["generate", "--frames", "1", "--out", str(out), "--layout", "kitti-object", "--no-progress"]
    assert main([*args, "--no-intensity"]) == 0
    assert not read_points(out / "training" / "velodyne" / "000000.bin")[:, 3].any()
    assert main(["generate", "--frames", "0", "--out", str(tmp_path / "z")]) == 2
    assert "frames must be a positive integer" in capsys.readouterr().err
    assert main(["generate", "--sensor", "nope", "--out", str(tmp_path / "z")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nbeams: 4\nazimuth_resolution_deg: 0.2\nmin_range: -1.0\nmax_range: 50\n"
        "elevation_range_deg: [2.0, -10.0]\n"
    )
    assert main(["generate", "--sensor", str(bad), "--out", str(tmp_path / "z")]) == 2
    assert "min_range" in capsys.readouterr().err
    good = tmp_path / "tiny.yaml"
    good.write_text(
        bad.read_text().replace("min_range: -1.0", "min_range: 1.0").replace("name: bad", "name: tiny")
    )
    tiny = ["generate", "--sensor", str(good), "--out", str(tmp_path / "tiny"), "--layout", "kitti-object"]
    assert main([*tiny, "--no-progress"]) == 0  # a sensor YAML outside configs/ works
    assert len(read_points(tmp_path / "tiny" / "training" / "velodyne" / "000000.bin")) > 1000
    assert main([*args, "--seed", "9"]) == 2
    assert "different dataset" in capsys.readouterr().err
    assert main(["generate", "--out", str(tmp_path / "z"), "--dropout", "1.5"]) == 2
    assert main(["generate", "--out", str(tmp_path / "z"), "--dropout", str(tmp_path / "missing.npz")]) == 2


@pytest.mark.slow
def test_parallel_workers_write_the_same_files(tmp_path):
    kw = dict(frames=3, sequences=2, seed=4, layout="kitti-object", camera=False, progress=False)
    generate_dataset(tmp_path / "one", workers=1, **kw)
    generate_dataset(tmp_path / "two", workers=2, **kw)
    for f in sorted((tmp_path / "one" / "training").rglob("*.*")):
        assert f.read_bytes() == (tmp_path / "two" / f.relative_to(tmp_path / "one")).read_bytes(), f


def test_simulation_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, simulation.dataset, simulation.cli, simulation.stats; print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
