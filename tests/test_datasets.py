"""Datasets: every layout behind one interface, every real sample folder opens, the class taxonomy,
and the one network-input rule."""

from __future__ import annotations

import numpy as np
import pytest

from squeezeseg.calib import KittiCalib, format_kitti_calib
from squeezeseg.classes import (
    COARSE,
    canonical,
    kitti_type,
    kitti_type_ids,
    semantickitti_ids,
    semantickitti_lookup,
)
from squeezeseg.datasets import REGISTRY, network_input, open_dataset, with_mask
from squeezeseg.errors import InputError
from squeezeseg.io import write_points, write_semantickitti_labels, write_squeezeseg_npy

CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
)


def _pts(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([5, -3, -1.5], [20, 3, 1], (n, 3))
    return np.c_[xyz, rng.uniform(0, 1, n)].astype(np.float32)


# ---- the taxonomy ---------------------------------------------------------------------------------
def test_aliases_and_plurals_resolve_to_one_name():
    assert canonical("Cars") == "car" and canonical("person") == "pedestrian"
    assert canonical("Bicyclist") == "cyclist" and canonical("Pedestrians") == "pedestrian"
    assert canonical("glass") == "glass"  # a word ending in s is not cut when it is no plural we know
    assert kitti_type("cars") == "Car" and kitti_type("person_sitting") == "Person_sitting"
    assert kitti_type("tree") is None


def test_moving_classes_and_vans_map_to_the_coarse_classes():
    table = semantickitti_lookup(COARSE)
    assert [table[i] for i in (10, 252, 20, 259)] == [1, 1, 1, 1]
    assert [table[i] for i in (30, 254, 31, 253)] == [2, 2, 3, 3]
    assert [table[i] for i in (18, 70, 50, 40)] == [0, 0, 0, 0]  # trucks, vegetation, buildings, road
    assert semantickitti_lookup(("unknown", "road"), {40: "road"})[40] == 1
    assert list(semantickitti_ids(COARSE)) == [0, 10, 30, 31]
    ids = kitti_type_ids(COARSE)
    assert ids["Car"] == ids["Van"] == 1 and ids["Person_sitting"] == 2 and "Truck" not in ids


def test_the_simulator_and_the_annotator_read_the_one_table():
    from latte.core.config import load_latte_config
    from simulation.classes import CLASSES

    van = next(c for c in CLASSES if c.name == "van")
    assert (van.coarse, van.semantickitti) == (1, 20)
    cfg = load_latte_config()
    assert cfg.class_config("Car").size == (3.88, 1.63, 1.53)
    assert cfg.class_config("Pedestrian").rigid is False


# ---- the network input rule ---------------------------------------------------------------------
def test_network_input_masks_empty_and_non_finite_pixels():
    img = np.zeros((2, 3, 5), np.float32)
    img[0, 0] = [1, 2, 3, 0.5, 4]
    img[1, 2] = [np.nan, 0, 0, 0, 7]
    x = network_input(img)
    assert x.shape == (2, 3, 6) and x[0, 0, 5] == 1 and x[0, 1, 5] == 0
    assert np.all(np.isfinite(x)) and x[1, 2, 5] == 1
    _, lab = with_mask(img, np.full((2, 3), 2))
    assert lab[0, 0] == 2 and lab[0, 1] == -1


# ---- synthetic layouts ----------------------------------------------------------------------------
def test_every_layout_opens_from_a_small_folder(tmp_path):
    # SemanticKITTI sequence with labels
    seq = tmp_path / "sk" / "sequences" / "07"
    write_points(seq / "velodyne" / "000000.bin", _pts())
    labels = np.full(50, 252, np.uint16)
    write_semantickitti_labels(seq / "labels" / "000000.label", labels, np.ones(50, np.uint16))
    ds = open_dataset(tmp_path / "sk")
    assert ds.kind == "semantickitti" and ds.name == "07" and ds[0].labels[0] == 252
    # KITTI object with a label file
    obj = tmp_path / "obj" / "training"
    write_points(obj / "velodyne" / "000001.bin", _pts())
    (obj / "calib").mkdir(parents=True)
    (obj / "calib" / "000001.txt").write_text(format_kitti_calib(CALIB))
    (obj / "label_2").mkdir()
    (obj / "label_2" / "000001.txt").write_text("Car 0 0 0 0 0 10 10 1.5 1.6 3.9 0 1.7 12 0\n")
    ds = open_dataset(tmp_path / "obj")
    assert ds.kind == "kitti_object" and not ds.sequential and ds.labels_format == "kitti"
    box = ds[0].boxes[0]
    assert box.label == "Car" and box.center[0] == pytest.approx(12.27, abs=0.01)
    classes, inst = ds.point_classes(0, COARSE)
    assert classes.shape == (50,) and set(np.unique(inst)) <= {0, 1}
    # SqueezeSeg .npy folder
    lab = np.zeros((4, 8), np.int32)
    lab[1, 1] = 3
    img = np.zeros((4, 8, 5), np.float32)
    img[1, 1] = [5, 0, 0, 0.2, 5]
    img[2, 3] = [6, 1, 0, 0.3, 6.1]
    write_squeezeseg_npy(tmp_path / "ss" / "lidar_2d" / "f0.npy", img, lab)
    ds = open_dataset(tmp_path / "ss")
    assert ds.kind == "squeezeseg" and ds[0].points.shape == (2, 4)
    assert sorted(ds[0].labels.tolist()) == [0, 31]
    assert ds.labelled_input(0)[1][1, 1] == 3 and ds.labelled_input(0)[1][0, 0] == -1
    # a plain folder of mixed formats, searched below when it holds none itself; a single file
    write_points(tmp_path / "mix" / "a" / "x.pcd", _pts(seed=1))
    write_points(tmp_path / "mix" / "b" / "y.pcd.bin", np.c_[_pts(seed=2), np.zeros(50, np.float32)])
    np.save(tmp_path / "mix" / "b" / "y_rowcol.npy", np.zeros((50, 2), np.int32))  # not a scan
    ds = open_dataset(tmp_path / "mix")
    assert ds.kind == "scans" and [f.frame_id for f in ds.frames] == ["a/x", "b/y"]
    assert ds[1].points.shape == (50, 5)
    one = open_dataset(tmp_path / "mix" / "a" / "x.pcd")
    assert len(one) == 1 and one.name == "x"
    assert set(REGISTRY) >= {"kitti_raw", "kitti_object", "kitti_tracking", "semantickitti", "squeezeseg",
                             "scans"}


def test_range_input_projects_a_scan_and_can_turn_it(tmp_path):
    from squeezeseg.projection import SphericalProjection

    write_points(tmp_path / "s.bin", _pts(200))
    ds = open_dataset(tmp_path / "s.bin")
    proj = SphericalProjection.from_sensor("hdl64e", width=64, fov_deg=90.0)
    front = ds.range_input(0, proj)
    behind = ds.range_input(0, proj, rotation=np.pi)
    assert front.shape == (64, 64, 6) and front[..., 5].sum() > 50 and behind[..., 5].sum() == 0


def test_bad_paths_and_kinds_name_the_path(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(InputError, match="no scans or range images found") as exc:
        open_dataset(tmp_path)
    assert str(tmp_path) in str(exc.value)
    write_points(tmp_path / "a.bin", _pts())
    with pytest.raises(InputError, match="unknown dataset kind 'kitty'"):
        open_dataset(tmp_path, kind="kitty")
    with pytest.raises(InputError, match="not a kitti_object layout"):
        open_dataset(tmp_path, kind="kitti_object")
    np.save(tmp_path / "sub.npy", np.zeros((3, 3, 3)))
    (tmp_path / "a.bin").unlink()
    with pytest.raises(InputError, match="sub.npy is neither"):
        open_dataset(tmp_path)


# ---- every real sample folder -----------------------------------------------------------------------
REAL = [
    ("kitti_object", None, "kitti_object", "boxes"),
    ("kitti_object/testing", None, "kitti_object", "image"),
    ("kitti_object_more", None, "kitti_object", "boxes"),
    ("semantickitti", None, "semantickitti", "labels"),
    ("kitti_raw", None, "kitti_raw", "image"),
    ("kitti_pcd", None, "scans", None),
    ("kitti_pcd/data_2", None, "scans", None),
    ("ouster_os1_128", None, "scans", None),
    ("kitti_tracking", "0000", "kitti_tracking", "boxes"),
    ("squeezeseg_sample", None, "squeezeseg", "labels"),
    ("nuscenes_lidar", None, "scans", None),
]


@pytest.mark.parametrize(("folder", "sequence", "kind", "extra"), REAL, ids=[r[0] for r in REAL])
def test_every_real_sample_folder_opens(shared_data, folder, sequence, kind, extra):
    path = shared_data / folder
    if not path.exists():
        pytest.skip(f"{path} not found")
    ds = open_dataset(path, sequence=sequence)
    assert ds.kind == kind and len(ds) >= 1
    frame = ds[0]
    if kind != "kitti_tracking":  # ground-truth tracks only: no scans
        assert frame.points.dtype == np.float32 and frame.points.shape[1] >= 4 and len(frame.points) > 1000
    if extra == "labels":
        assert frame.labels.shape == (len(frame.points),)
    elif extra == "boxes":
        assert all(b.size[0] > 0 for b in frame.boxes)
    elif extra == "image":
        assert frame.image.ndim == 3 and frame.calib is not None


def test_real_semantickitti_cars_become_model_labels(shared_data):
    from squeezeseg.projection import SphericalProjection

    path = shared_data / "semantickitti"
    if not path.exists():
        pytest.skip(f"{path} not found")
    ds = open_dataset(path)
    proj = SphericalProjection.from_sensor("hdl64e", width=512, fov_deg=360.0)
    image, labels = ds.labelled_input(0, proj, COARSE)
    assert image.shape[-1] == 6 and (labels == 1).sum() > 1000  # about 4,500 car points in the scan


def test_the_latte_configuration_is_read_once_and_shared(tmp_path):
    from latte.core.config import load_latte_config
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.tracking import BoxTracker

    assert load_latte_config() is load_latte_config()
    cfg = load_latte_config()
    assert OneClickAnnotator().config is cfg and BoxTracker().config is cfg
    path = tmp_path / "latte.yaml"
    path.write_text("oneclick:\n  seed_radius: 2.0\n")
    first = load_latte_config(path)
    assert first is load_latte_config(path) and first.oneclick.seed_radius == 2.0
    path.write_text("oneclick:\n  seed_radius: 3.0\n")
    import os

    os.utime(path, ns=(1, 1))  # a changed file is read again
    assert load_latte_config(path).oneclick.seed_radius == 3.0


def test_tools_that_read_every_scan_see_every_sequence_drive_and_split(tmp_path):
    from squeezeseg.datasets import open_datasets, scan_frames

    for d in ("2011_09_26_drive_0001_sync", "2011_09_26_drive_0002_sync"):
        for k in range(2):
            write_points(tmp_path / "raw" / d / "velodyne_points" / "data" / f"{k:010d}.bin", _pts(seed=k))
    with pytest.raises(InputError, match="choose one of"):
        open_dataset(tmp_path / "raw")
    assert open_dataset(tmp_path / "raw", sequence="0002").name == "2011_09_26_drive_0002_sync"
    assert len(open_datasets(tmp_path / "raw")) == 2 and len(scan_frames(tmp_path / "raw")) == 4
    for s in ("00", "01"):
        write_points(tmp_path / "sk" / "sequences" / s / "velodyne" / "000000.bin", _pts())
    assert len(scan_frames(tmp_path / "sk")) == 2
    for split in ("training", "testing"):
        write_points(tmp_path / "obj" / split / "velodyne" / "000000.bin", _pts())
        (tmp_path / "obj" / split / "calib").mkdir()
    assert len(open_dataset(tmp_path / "obj")) == 1  # the training split, as before
    assert len(scan_frames(tmp_path / "obj")) == 2  # training and testing


def test_range_images_among_other_npy_files_and_frame_times(tmp_path):
    np.save(tmp_path / "0.npy", np.zeros((64, 512), np.int32))  # an index map, neither kind
    write_squeezeseg_npy(tmp_path / "000.npy", np.ones((4, 8, 5), np.float32), np.zeros((4, 8), np.int32))
    np.save(tmp_path / "000_rows.npy", np.zeros((50, 3), np.int32))  # integer rows: no point cloud
    ds = open_dataset(tmp_path)
    assert ds.kind == "squeezeseg" and [f.frame_id for f in ds.frames] == ["000"]
    seq = tmp_path / "seq" / "sequences" / "00"
    for k in (3, 5):
        write_points(seq / "velodyne" / f"{k:06d}.bin", _pts())
    (seq / "times.txt").write_text("".join(f"{0.1 * k:.1f}\n" for k in range(10)))
    assert [f.timestamp for f in open_dataset(seq)] == pytest.approx([0.3, 0.5])


def test_the_annotator_refuses_a_layout_with_labels_only(shared_data):
    from latte.core.sequence import open_sequence

    path = shared_data / "kitti_tracking"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with pytest.raises(InputError, match="no scans to annotate"):
        open_sequence(path, "0000")
