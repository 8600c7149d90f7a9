"""Point-wise labels: SemanticKITTI .label, the SqueezeSeg .npy and its splits, labels from 3D boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError
from squeezeseg.io import (
    boxes_to_point_labels,
    read_kitti_calib,
    read_kitti_labels,
    read_points,
    read_semantickitti_labels,
    read_split,
    read_squeezeseg_npy,
    write_semantickitti_labels,
    write_split,
    write_squeezeseg_npy,
)


# ---- SemanticKITTI -------------------------------------------------------------------------------
def test_semantickitti_bit_layout(tmp_path: Path):
    classes = np.array([0, 10, 40, 252, 65535], dtype=np.uint16)
    instances = np.array([0, 1, 7, 300, 65535], dtype=np.uint16)
    write_semantickitti_labels(tmp_path / "000000.label", classes, instances)
    raw = np.fromfile(tmp_path / "000000.label", dtype="<u4")
    np.testing.assert_array_equal(raw, [0, 10 + (1 << 16), 40 + (7 << 16), 252 + (300 << 16), 0xFFFFFFFF])
    c, i = read_semantickitti_labels(tmp_path / "000000.label", n_points=5)
    assert c.dtype == np.uint16 and i.dtype == np.uint16
    np.testing.assert_array_equal(c, classes)
    np.testing.assert_array_equal(i, instances)
    write_semantickitti_labels(tmp_path / "c.label", classes.astype(np.int64))
    np.testing.assert_array_equal(read_semantickitti_labels(tmp_path / "c.label")[1], 0)


def test_semantickitti_bad_input(tmp_path: Path):
    (tmp_path / "odd.label").write_bytes(b"\0" * 6)
    with pytest.raises(InputError, match="not a multiple of 4"):
        read_semantickitti_labels(tmp_path / "odd.label")
    write_semantickitti_labels(tmp_path / "a.label", np.arange(10))
    with pytest.raises(InputError, match="holds 10 labels but the scan has 12 points") as info:
        read_semantickitti_labels(tmp_path / "a.label", n_points=12)
    assert info.value.path == tmp_path / "a.label"
    with pytest.raises(InputError, match="not found"):
        read_semantickitti_labels(tmp_path / "none.label")
    with pytest.raises(InputError, match="0..65535"):
        write_semantickitti_labels(tmp_path / "b.label", np.array([1, 70000]))
    with pytest.raises(InputError, match="2 classes but 3 instances"):
        write_semantickitti_labels(tmp_path / "b.label", np.array([1, 2]), np.array([1, 2, 3]))
    assert not (tmp_path / "b.label").exists()


# ---- SqueezeSeg dataset --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def squeezeseg_sample(shared_data: Path) -> Path:
    files = sorted((shared_data / "squeezeseg_sample").glob("*.npy"))
    if not files:
        pytest.skip("no SqueezeSeg sample in the shared data")
    return files[0]


def test_real_squeezeseg_sample(tmp_path: Path, squeezeseg_sample: Path):
    image, labels = read_squeezeseg_npy(squeezeseg_sample)
    assert image.shape == (64, 512, 5) and image.dtype == np.float32
    assert labels.shape == (64, 512) and set(np.unique(labels)) <= {0, 1}
    valid = image[..., 4] > 0
    assert 0.5 < valid.mean() < 1.0
    # the range channel is the norm of x, y, z wherever a point exists
    np.testing.assert_allclose(np.linalg.norm(image[..., :3], axis=2)[valid], image[..., 4][valid], rtol=1e-3)
    assert np.any(labels == 1) and np.all(valid[labels == 1])  # car pixels hold points
    write_squeezeseg_npy(tmp_path / "f.npy", image, labels)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), np.load(squeezeseg_sample))


def test_squeezeseg_bad_input(tmp_path: Path):
    np.save(tmp_path / "pts.npy", np.zeros((100, 4), np.float32))
    with pytest.raises(InputError, match=r"\(H, W, 6\)"):
        read_squeezeseg_npy(tmp_path / "pts.npy")
    bad = np.zeros((4, 8, 6), np.float32)
    bad[0, 0, 5] = 0.5
    np.save(tmp_path / "frac.npy", bad)
    with pytest.raises(InputError, match="non-integer"):
        read_squeezeseg_npy(tmp_path / "frac.npy")
    with pytest.raises(InputError, match="labels"):
        write_squeezeseg_npy(tmp_path / "o.npy", np.zeros((4, 8, 5)), np.zeros((4, 7)))
    assert not (tmp_path / "o.npy").exists()


def test_split_files(tmp_path: Path):
    ids = ["2011_09_26_0001_0000000000", "2011_09_26_0001_0000000001"]
    write_split(tmp_path / "ImageSet" / "train.txt", ids)
    assert (tmp_path / "ImageSet" / "train.txt").read_text() == "".join(i + "\n" for i in ids)
    (tmp_path / "val.txt").write_text("# validation\n\n a \r\nb\n")
    assert read_split(tmp_path / "val.txt") == ["a", "b"]
    (tmp_path / "bad.txt").write_text("a b\n")
    with pytest.raises(InputError, match="one frame id"):
        read_split(tmp_path / "bad.txt")
    with pytest.raises(InputError, match="not found"):
        read_split(tmp_path / "none.txt")


# ---- labels from boxes ---------------------------------------------------------------------------
def test_boxes_to_point_labels_synthetic():
    points = np.array(
        [[0, 0, 0, 1], [5, 0, 0, 1], [5.4, 0.3, 0.2, 1], [20, 0, 0, 1], [10, 10, 0, 1]], np.float32
    )
    boxes = [
        Box3D((0, 0, 0), (4, 2, 2), label="Car"),
        Box3D((5, 0, 0), (1, 1, 2), label="Pedestrian"),
        Box3D((10, 10, 0), (2, 2, 2), label="Tram"),  # not a class we label
    ]
    classes, instances = boxes_to_point_labels(points, boxes, {"Car": 1, "Pedestrian": 2})
    np.testing.assert_array_equal(classes, [1, 2, 2, 0, 0])
    np.testing.assert_array_equal(instances, [1, 2, 2, 0, 0])
    c, i = boxes_to_point_labels(points, [], {"Car": 1})
    assert not c.any() and not i.any() and c.shape == (5,)


def test_real_boxes_label_plausible_points(kitti_object: Path):
    """Every object of the real frames holds points, more the nearer it is, as in the papers' data."""
    class_ids = {"Car": 1, "Pedestrian": 2, "Cyclist": 3, "Truck": 4, "Misc": 5}
    near_far = []
    for frame in ("000000", "000001", "000002"):
        calib = read_kitti_calib(kitti_object / "calib" / f"{frame}.txt")
        boxes = read_kitti_labels(kitti_object / "label_2" / f"{frame}.txt", calib)
        points = read_points(kitti_object / "velodyne" / f"{frame}.bin")
        classes, instances = boxes_to_point_labels(points, boxes, class_ids)
        for k, box in enumerate(boxes, 1):
            n = int(np.count_nonzero(instances == k))
            assert np.all(classes[instances == k] == class_ids[box.label])
            distance = float(np.hypot(*box.center[:2]))
            assert n >= 5, (frame, box.label, distance)
            near_far.append((distance, n))
            # the points given to a car lie inside its KITTI 2D box in the image
            uv, _ = calib.velo_to_image(points[instances == k])
            left, top, right, bottom = box.box2d
            inside = (
                (uv[:, 0] >= left - 3)
                & (uv[:, 0] <= right + 3)
                & (uv[:, 1] >= top - 3)
                & (uv[:, 1] <= bottom + 3)
            )
            assert inside.mean() > 0.9, (frame, box.label)
        assert np.count_nonzero(instances) < 0.05 * len(points)  # objects are a small share of a scan
    near = [n for d, n in near_far if d < 15]
    far = [n for d, n in near_far if d > 40]
    assert min(near) > 300 and max(far) < 150  # tens of points at 40-70 m, hundreds up close
