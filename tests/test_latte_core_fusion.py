"""Camera fusion: projection against hand computation, calibration/image mismatch, detections from
files, per-point pre-labels, frustum proposals, crops; real KITTI projected boxes."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.detector import Detection2D, FileDetector
from latte.core.fusion import (
    check_calib_image,
    crop_box_image,
    frustum_proposals,
    iou_2d,
    prelabel_points,
    project_points,
)
from latte.core.oneclick import OneClickAnnotator
from latte.core.synthetic import scan_scene
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError

H = 1.73
CALIB = KittiCalib(
    P2=np.array([[721.5, 0, 609.6, 44.9], [0, 721.5, 172.9, 0.2], [0, 0, 1, 0.003]]),
    R0_rect=np.eye(3),
    Tr_velo_to_cam=np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]]),
    image_size=(1242, 375),
)


def test_project_points_matches_the_matrix_chain():
    pts = np.array(
        [
            [10.0, 1.0, -0.5, 0],
            [5.0, -2.0, 0.3, 0],
            [-5.0, 0.0, 0.0, 0],
            [np.nan, 0, 0, 0],
            [10.0, 30.0, 0.0, 0],
        ],
        np.float32,
    )
    uv, ok = project_points(pts, CALIB)
    T = np.eye(4)
    T[:3] = CALIB.Tr_velo_to_cam
    p = CALIB.P2 @ np.eye(4)[:, :] @ T @ np.r_[pts[0, :3], 1.0]
    assert uv[0] == pytest.approx(p[:2] / p[2])
    assert ok.tolist() == [True, True, False, False, False]  # behind, NaN, outside the image
    uv2, ok2 = project_points(pts[:2], CALIB, image_size=(10, 10))
    assert not ok2.any()


def test_calibration_that_does_not_fit_the_image():
    check_calib_image(CALIB, (375, 1242, 3))
    with pytest.raises(InputError, match="1242x375"):
        check_calib_image(CALIB, (480, 640, 3))
    other = KittiCalib(CALIB.P2, CALIB.R0_rect, CALIB.Tr_velo_to_cam, source="calib.txt")
    with pytest.raises(InputError, match="principal point"):
        check_calib_image(other, (100, 200, 3))


def test_iou_2d():
    assert iou_2d(np.array([0, 0, 10, 10]), np.array([0, 0, 10, 10])) == 1.0
    assert iou_2d(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(50 / 150)
    assert iou_2d(np.array([0, 0, 1, 1]), np.array([2, 2, 3, 3])) == 0.0


@pytest.fixture(scope="module")
def scene():
    car = Box3D((14.0, 1.5, -H + 0.75), (4.2, 1.8, 1.5), 0.5, "Car")
    ped = Box3D((9.0, -2.5, -H + 0.88), (0.7, 0.6, 1.75), 0.0, "Pedestrian")
    pts = scan_scene([car, ped], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    dets = [Detection2D(tuple(b.image_box(CALIB, CALIB.image_size)), b.label, 0.9) for b in (car, ped)]
    return ann, pts, [car, ped], dets


def test_frustum_proposals_find_the_detected_objects(scene):
    ann, _, boxes, dets = scene
    props = frustum_proposals(ann, CALIB, dets)
    assert [p.label for p in props] == ["Car", "Pedestrian"]
    for p, gt in zip(props, boxes):
        assert p.bev_iou(gt) > 0.6 and p.score == 0.9
    assert frustum_proposals(ann, CALIB, [Detection2D((0, 0, 5, 5), "Car", 0.9)]) == []  # sky: nothing
    assert frustum_proposals(ann, CALIB, [Detection2D(dets[0].box, "Car", 0.1)]) == []  # low score


def test_prelabel_points_from_boxes_and_masks(scene):
    ann, pts, boxes, dets = scene
    labels = prelabel_points(pts, CALIB, dets, ["Car", "Pedestrian"])
    assert (labels[boxes[0].contains(pts)] == 1).all()
    assert (labels[boxes[1].contains(pts)] == 2).all()
    mask = np.zeros((375, 1242), bool)  # an instance mask that keeps nothing
    masked = prelabel_points(
        pts, CALIB, [Detection2D(dets[1].box, "Pedestrian", 0.9, mask)], ["Car", "Pedestrian"]
    )
    assert not masked.any()


def test_crop_of_a_box(scene):
    _, _, boxes, _ = scene
    image = np.zeros((375, 1242, 3), np.uint8)
    crop = crop_box_image(image, boxes[1], CALIB)
    assert crop is not None and crop.shape[0] > crop.shape[1] > 10  # a standing person is tall
    behind = Box3D((-10.0, 0, -1), (4, 2, 1.5))
    assert crop_box_image(image, behind, CALIB) is None


def test_file_detector_reads_kitti_2d_boxes_and_reports_bad_lines(tmp_path):
    (tmp_path / "000001.txt").write_text(
        "Car 0.00 0 -1.5 100 120 200 180 1.5 1.6 4 1 1.6 20 -1.5 0.8\n"
        "DontCare -1 -1 -10 10 10 20 20 -1 -1 -1 -1000 -1000 -1000 -10\n"
        "Pedestrian 0 0 0 300 x 350 300\n"
        "Cyclist 0 0 0 500 100 520 160 1.7 0.6 1.8 2 1.6 30 0\n"
    )
    det = FileDetector(tmp_path, strict=False)
    got = det.detect(None, "000001")
    assert [(d.label, d.score) for d in got] == [("Car", 0.8), ("Cyclist", 1.0)]
    assert got[0].box == (100.0, 120.0, 200.0, 180.0)
    assert "line 3" in str(det.errors[0]) and "000001.txt" in str(det.errors[0])
    assert det.detect(None, "000099") == []
    with pytest.raises(InputError, match="line 3"):
        FileDetector(tmp_path).detect(None, "000001")
    with pytest.raises(InputError):
        FileDetector(tmp_path / "missing")
    with pytest.raises(ValueError):
        Detection2D((10, 10, 5, 5), "Car")


def test_real_kitti_projected_boxes_match_2d_labels(kitti_object):
    """Every untruncated labelled object: the projected 3D box has IoU >= 0.7 with its KITTI 2D box."""
    from squeezeseg.io import read_kitti_calib, read_kitti_labels

    ious = []
    for fid in ("000000", "000001", "000002"):
        calib = read_kitti_calib(kitti_object / "calib" / f"{fid}.txt")
        for box in read_kitti_labels(kitti_object / "label_2" / f"{fid}.txt", calib):
            if box.truncated == 0:
                ious.append(iou_2d(box.image_box(calib, (1242, 375)), np.asarray(box.box2d)))
    assert len(ious) >= 5 and min(ious) >= 0.7


def test_real_kitti_raw_camera_and_frustum_proposal(shared_data):
    """The KITTI raw drive's calibration (calib_cam_to_cam + calib_velo_to_cam) fits its images, and
    a 2D box around the car ahead gives a frustum proposal on that car."""
    from latte.core.fusion import check_calib_image, frustum_proposals
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.sequence import open_sequence

    drive = shared_data / "kitti_raw"
    if not drive.is_dir():
        pytest.skip(f"{drive} not found")
    seq = open_sequence(drive)
    calib, image = seq.calib(0), seq.image(0)
    check_calib_image(calib, image.shape, calib.source)
    uv, ok = project_points(seq.points(0), calib, (image.shape[1], image.shape[0]))
    assert 10_000 < ok.sum() < len(ok) / 2   # the front view only
    ann = OneClickAnnotator()
    ann.set_frame(seq.points(0))
    car = ann.click(9.8, -0.2, "Car")
    det = Detection2D(tuple(car.image_box(calib, (image.shape[1], image.shape[0]))), "Car", 0.9)
    (prop,) = frustum_proposals(ann, calib, [det])
    assert prop.label == "Car" and prop.bev_iou(car) > 0.7
