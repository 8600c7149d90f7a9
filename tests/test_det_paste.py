"""Copy-paste augmentation: crops land on the road at the size the camera would show, on free
ground, with exact boxes; the bank keeps only whole objects."""

from __future__ import annotations

import numpy as np
from PIL import Image

from squeezeseg.detection.data import DetectionData, scan_frames
from squeezeseg.detection.model import SqueezeDetConfig
from squeezeseg.detection.paste import HEIGHT_PER_DROP, HORIZON, CropBank, blend, paste_objects, place

CLASSES = ["Car", "Van", "Pedestrian", "Cyclist"]
LINE = "{} {} {} -10 {} {} {} {} 1.5 1.6 4.0 1.0 1.5 20.0 0.0\n"


def red_bank() -> CropBank:
    crop = np.zeros((40, 80, 3), np.uint8)
    crop[..., 0] = 250
    background = np.full((200, 600, 3), 30, np.uint8)
    return CropBank([crop], ["Car"], [(background, np.zeros((0, 4)))])


def test_place_puts_the_object_on_the_road_at_the_cameras_scale():
    rng = np.random.default_rng(0)
    for _ in range(200):
        box = place("Car", 2.0, (624, 192), rng)
        drop = box[3] - HORIZON * 192
        assert drop > 0
        height = box[3] - box[1]
        ratio = HEIGHT_PER_DROP["Car"] * drop
        assert 0.9 * ratio - 1e-6 <= height <= 1.1 * ratio + 1e-6
        assert np.isclose(box[2] - box[0], 2.0 * height) and height >= 8.0


def test_pasted_objects_avoid_labelled_boxes_and_carry_exact_boxes():
    image = np.full((192, 624, 3), 100, np.uint8)
    boxes = np.array([[0.0, 100.0, 300.0, 191.0]])
    labels = np.array([2], np.int32)
    rng = np.random.default_rng(3)
    out, new_boxes, new_labels = paste_objects(image, boxes, labels, red_bank(), CLASSES, rng, objects=3,
                                               distractors=0)
    assert len(new_boxes) > 1 and list(new_labels[:1]) == [2] and set(new_labels[1:]) == {0}
    for b in new_boxes[1:]:
        assert b[0] >= 300 or b[3] <= 100  # clear of the labelled box
        cx, cy = int((b[0] + b[2]) / 2), int((b[1] + b[3]) / 2)
        assert out[cy, cx, 0] > 240 and out[cy, cx, 1] < 10  # the crop is where its box says
    outside = np.ones(out.shape[:2], bool)
    for b in new_boxes[1:]:
        outside[int(b[1]) : int(np.ceil(b[3])) + 1, int(b[0]) : int(np.ceil(b[2])) + 1] = False
    assert np.all(out[outside] == 100)  # nothing else changed


def test_nothing_is_pasted_over_a_dontcare_region():
    image = np.full((192, 624, 3), 100, np.uint8)
    band = np.array([[0.0, 100.0, 623.0, 150.0]])  # ignore region across the road
    for seed in range(10):
        out, _, _ = paste_objects(image, band, np.array([-1], np.int32), red_bank(), CLASSES,
                                  np.random.default_rng(seed))
        assert np.all(out[101:150] == 100)


def test_distractors_change_pixels_without_adding_boxes_and_an_empty_bank_changes_nothing():
    image = np.full((192, 624, 3), 100, np.uint8)
    rng = np.random.default_rng(0)
    out, b, lab = paste_objects(image, np.zeros((0, 4)), np.zeros(0, np.int32), red_bank(), CLASSES, rng,
                                objects=0, distractors=3)
    assert len(b) == 0 and len(lab) == 0 and (out == 30).any()
    same, b, lab = paste_objects(image, np.zeros((0, 4)), np.zeros(0, np.int32), CropBank(), CLASSES, rng)
    assert same is image and len(b) == 0
    no_backgrounds = CropBank(red_bank().crops, ["Car"], [])
    out, b, _ = paste_objects(image, np.zeros((0, 4)), np.zeros(0, np.int32), no_backgrounds, CLASSES, rng,
                              objects=0, distractors=3)
    assert np.array_equal(out, image) and len(b) == 0


def test_blend_fades_the_seam():
    image = np.zeros((50, 50, 3), np.uint8)
    out = blend(image, np.full((10, 10, 3), 200, np.uint8), np.array([10, 10, 30, 30]), feather=2.0)
    assert out[20, 20, 0] == 200 and 0 < out[10, 20, 0] < 200 and out[9, 20, 0] == 0


def test_bank_keeps_whole_objects_of_the_classes_and_training_data_uses_it(tmp_path):
    (tmp_path / "image_2").mkdir()
    (tmp_path / "label_2").mkdir()
    Image.fromarray(np.full((375, 1242, 3), 90, np.uint8)).save(tmp_path / "image_2" / "000000.png")
    (tmp_path / "label_2" / "000000.txt").write_text(
        LINE.format("Car", 0.0, 0, 100, 200, 180, 260)  # kept
        + LINE.format("Car", 0.4, 0, 300, 200, 380, 260)  # truncated
        + LINE.format("Car", 0.0, 2, 500, 200, 580, 260)  # occluded
        + LINE.format("Car", 0.0, 0, 700, 200, 720, 210)  # 10 px tall
        + LINE.format("Tram", 0.0, 0, 800, 150, 1000, 260)  # not a class
        + LINE.format("Car", 0.0, 0, 1050, 200, 1130, 260)  # a DontCare region on it: maybe not whole
        + LINE.format("DontCare", -1, -1, 1100, 180, 1200, 270)
    )
    bank = CropBank.from_folder(tmp_path, CLASSES)
    assert bank.labels == ["Car"] and bank.crops[0].shape == (60, 80, 3) and len(bank.backgrounds) == 1
    config = SqueezeDetConfig(classes=CLASSES, input_width=624, input_height=192)
    data = DetectionData(scan_frames(tmp_path, CLASSES), config, paste=bank, paste_prob=1.0)
    gen = data.generator(augment_data=True, seed=0)
    counts = [int((targets[:, 0] == 1).sum()) for _ in range(5) for _, targets in gen()]
    assert max(counts) > 1  # the frame's own car plus pasted ones
