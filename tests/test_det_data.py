"""KITTI object data for SqueezeDet: bad input survives (unknown classes, other sizes, empty labels,
corrupt images), augmentation keeps boxes on their objects, labels round-trip."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from squeezeseg.detection.data import IGNORE, DetectionData, augment, scan_frames
from squeezeseg.detection.labels import Object2D, format_kitti_2d, parse_kitti_2d, read_kitti_2d
from squeezeseg.detection.model import SqueezeDetConfig
from squeezeseg.errors import InputError

LINE = "{} 0.00 0 -10 {} {} {} {} 1.5 1.6 4.0 1.0 1.5 20.0 0.0\n"


def write_frame(root, name, size, objects, image=True):
    (root / "image_2").mkdir(parents=True, exist_ok=True)
    (root / "label_2").mkdir(parents=True, exist_ok=True)
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    text = ""
    for label, (l, t, r, b) in objects:
        arr[int(t) : int(b), int(l) : int(r)] = 255
        text += LINE.format(label, l, t, r, b)
    if image:
        Image.fromarray(arr).save(root / "image_2" / f"{name}.png")
    (root / "label_2" / f"{name}.txt").write_text(text)


@pytest.fixture()
def folder(tmp_path):
    write_frame(tmp_path, "000000", (320, 96), [("Car", (40, 20, 100, 60)), ("Truck", (150, 10, 200, 50))])
    write_frame(tmp_path, "000001", (640, 192), [("Pedestrian", (300, 40, 340, 150))])  # twice the size
    write_frame(tmp_path, "000002", (320, 96), [])  # empty label file: negatives only
    (tmp_path / "image_2" / "000003.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "label_2" / "000003.txt").write_text(LINE.format("Car", 1, 1, 20, 20))
    return tmp_path


def config():
    return SqueezeDetConfig(
        input_width=320, input_height=96, anchor_shapes=[[60, 40], [40, 100]], anchors_at=[320, 96]
    )


def test_scan_skips_corrupt_image_and_counts_unknown_types(folder, caplog):
    with caplog.at_level(logging.INFO, logger="squeezeseg.detection"):
        frames = scan_frames(folder, ["Car", "Pedestrian", "Cyclist"])
    assert [f.name for f in frames] == ["000000", "000001", "000002"]
    assert "000003.png" in caplog.text and "corrupt" in caplog.text
    assert "Truck 1" in caplog.text


def test_other_size_is_resized_with_boxes_scaled_and_empty_labels_are_negatives(folder):
    data = DetectionData(scan_frames(folder, ["Car", "Pedestrian", "Cyclist"]), config())
    image, boxes, labels = data.example(1)
    assert image.shape == (96, 320, 3)
    assert np.allclose(boxes, [[150, 20, 170, 75]]) and list(labels) == [1]
    image, boxes, labels = data.example(2)
    assert len(boxes) == 0
    targets = data.targets(boxes, labels)
    assert targets.shape == (len(data.anchors), 12) and targets[:, 0].sum() == 0


def test_dataset_yields_batches_with_one_anchor_per_object(folder):
    data = DetectionData(scan_frames(folder, ["Car", "Pedestrian", "Cyclist"]), config())
    images, targets = next(iter(data.dataset(3, augment_data=False, shuffle=False)))
    assert images.shape == (3, 96, 320, 3) and targets.shape[0] == 3
    assert list(targets.numpy()[..., 0].sum(axis=1)) == [1, 1, 0]


def test_augment_moves_boxes_with_the_pixels():
    rng = np.random.default_rng(3)
    img = np.zeros((96, 320, 3), np.uint8)
    boxes = np.array([[100.0, 30.0, 160.0, 70.0]])
    img[30:70, 100:160] = 255
    for _ in range(20):
        out, b, lab = augment(img, boxes, np.array([0]), rng, max_shift=0.2)
        assert len(b) == len(lab) == 1
        l, t, r, bt = np.round(b[0]).astype(int)
        inner = out[t + 2 : bt - 2, l + 2 : r - 2]
        assert inner.size and inner.min() == 255  # the box still covers the white object
        assert (out == 255).all(axis=-1).sum() == 40 * 60  # the whole object is still in the picture


def test_missing_folder_and_no_images_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not a KITTI object folder"):
        scan_frames(tmp_path / "nope", ["Car"])
    (tmp_path / "image_2").mkdir()
    with pytest.raises(InputError, match="no usable images"):
        scan_frames(tmp_path, ["Car"])


def test_label_round_trip_and_bad_lines(tmp_path):
    objs = [Object2D("Car", (1.0, 2.0, 30.5, 40.25), score=0.75), Object2D("Cyclist", (5.0, 5.0, 9.0, 19.0))]
    back = parse_kitti_2d(format_kitti_2d(objs))
    assert [(o.label, o.box, o.score) for o in back] == [(o.label, o.box, o.score) for o in objs]
    bad = tmp_path / "bad.txt"
    bad.write_text("Car 0 0 0 10 10 5\n")
    with pytest.raises(InputError, match="line 1"):
        read_kitti_2d(bad)
    bad.write_text(LINE.format("Car", 30, 10, 20, 40))  # right < left
    with pytest.raises(InputError, match="invalid box"):
        read_kitti_2d(bad)


def test_split_by_name_or_path_and_never_a_file_in_the_cwd(tmp_path, monkeypatch):
    from squeezeseg.detection.data import read_split

    (tmp_path / "training").mkdir()
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "train.txt").write_text("000000\n# a comment\n000002\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").write_text("999999\n")  # a stray file named like the split
    assert read_split(tmp_path / "training", "train") == ["000000", "000002"]
    assert read_split(tmp_path, str(tmp_path / "ImageSets" / "train.txt")) == ["000000", "000002"]
    with pytest.raises(InputError, match="split 'val' not found"):
        read_split(tmp_path, "val")
    with pytest.raises(InputError, match="split file not found"):
        read_split(tmp_path, "nowhere/val.txt")


def test_dontcare_regions_travel_with_the_image_and_are_ignored_not_negative(tmp_path):
    write_frame(tmp_path, "000000", (320, 96), [("Car", (40, 20, 100, 60)), ("DontCare", (200, 10, 260, 50))])
    data = DetectionData(scan_frames(tmp_path, ["Car", "Pedestrian", "Cyclist"]), config())
    image, boxes, labels = data.example(0)
    assert list(labels) == [0, IGNORE] and np.allclose(boxes[1], [200, 10, 260, 50])
    mask = data.targets(boxes, labels)[:, 0]
    centres = data.anchors[:, :2]
    inside = (centres[:, 0] >= 200) & (centres[:, 0] <= 260) & (centres[:, 1] >= 10) & (centres[:, 1] <= 50)
    assert (mask == 1).sum() == 1 and np.array_equal(mask == -1, inside) and inside.any()
    flipped = None
    for seed in range(20):  # some seed flips
        _, moved, moved_labels = augment(image, boxes, labels, np.random.default_rng(seed), max_shift=0.0)
        assert list(moved_labels) == [0, IGNORE]
        if not np.allclose(moved, boxes):
            flipped = moved
    assert flipped is not None and np.allclose(flipped[1], [320 - 260, 10, 320 - 200, 50])
    # shifted 29+ px left, a box at the left edge keeps under 30 % of itself: an object is dropped,
    # a DontCare region is kept as long as 2 px of it are visible
    seed = next(s for s in range(100) if np.random.default_rng(s).integers(-32, 33) <= -29)
    edge = np.array([[0.0, 10.0, 40.0, 50.0]])
    for label, kept in ((0, 0), (IGNORE, 1)):
        rng = np.random.default_rng(seed)
        _, b, lab = augment(image, edge, np.array([label]), rng, max_shift=0.1, flip=False)
        assert len(b) == kept and list(lab) == [label] * kept
