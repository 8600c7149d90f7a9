"""KITTI object and tracking labels: real files round-trip, 2D boxes recomputed, bad lines reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib
from squeezeseg.errors import InputError
from squeezeseg.io import (
    read_kitti_calib,
    read_kitti_labels,
    read_tracking_labels,
    write_kitti_labels,
    write_tracking_labels,
)

KITTI_IMAGE = (1242, 375)
SEQUENCES = ("0000", "0002", "0003", "0005")


def _synthetic_calib() -> KittiCalib:
    """A KITTI-like calibration (ideal axis swap) so label tests run without the real data."""
    P2 = np.array([[700.0, 0, 600, 45], [0, 700, 180, 0], [0, 0, 1, 0]])
    Tr = np.array([[0.0, -1, 0, 0], [0, 0, -1, -0.08], [1, 0, 0, -0.27]])
    return KittiCalib(P2=P2, R0_rect=np.eye(3), Tr_velo_to_cam=Tr, image_size=KITTI_IMAGE)


def _objects(path: Path) -> list[list[str]]:
    """The non-DontCare lines of a label file, split."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r[0] != "DontCare"]


def _tracking_rows(path: Path) -> list[list[str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r[2] != "DontCare"]


def _iou2d(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def tracking(shared_data: Path):
    root = shared_data / "kitti_tracking"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    out = {}
    for seq in SEQUENCES:
        calib = read_kitti_calib(root / "calib" / f"{seq}.txt")
        out[seq] = (
            calib,
            read_tracking_labels(root / "label_02" / f"{seq}.txt", calib),
            root / "label_02" / f"{seq}.txt",
        )
    return out


# ---- object labels -------------------------------------------------------------------------------
@pytest.mark.parametrize("frame", ["000000", "000001", "000002"])
def test_real_labels_round_trip(tmp_path: Path, kitti_object: Path, frame: str):
    calib = read_kitti_calib(kitti_object / "calib" / f"{frame}.txt")
    src = kitti_object / "label_2" / f"{frame}.txt"
    boxes = read_kitti_labels(src, calib)
    rows = _objects(src)
    assert [b.label for b in boxes] == [r[0] for r in rows]  # DontCare skipped, order kept
    for box, row in zip(boxes, rows):
        assert box.truncated == float(row[1]) and box.occluded == int(row[2])
        assert box.box2d == tuple(float(v) for v in row[4:8])
        l, w, h = box.size
        np.testing.assert_allclose([h, w, l], [float(v) for v in row[8:11]])
    write_kitti_labels(tmp_path / "out.txt", boxes, calib, image_size=KITTI_IMAGE)
    again = _objects(tmp_path / "out.txt")
    assert len(again) == len(rows)
    for new, old in zip(again, rows):
        assert new[0] == old[0] and new[1:3] == [f"{float(old[1]):.2f}", old[2]]
        # location, dimensions and rotation_y back within 1e-3 (alpha: the original is rounded to 0.01)
        np.testing.assert_allclose([float(v) for v in new[8:15]], [float(v) for v in old[8:15]], atol=1e-3)
        assert abs(float(new[3]) - float(old[3])) <= 0.011
        # the recomputed 2D box is the projection of the 3D box: close to KITTI's annotated box
        assert _iou2d([float(v) for v in new[4:8]], [float(v) for v in old[4:8]]) > 0.85


def test_lidar_frame_of_real_boxes(kitti_object: Path):
    """Boxes land where the LiDAR points are: bottoms on the ground, yaw = -rotation_y - pi/2."""
    from squeezeseg.io import read_points

    calib = read_kitti_calib(kitti_object / "calib" / "000001.txt")
    boxes = read_kitti_labels(kitti_object / "label_2" / "000001.txt", calib)
    rows = _objects(kitti_object / "label_2" / "000001.txt")
    points = read_points(kitti_object / "velodyne" / "000001.bin")
    for box, row in zip(boxes, rows):
        ry = float(row[14])
        assert abs(np.angle(np.exp(1j * (box.yaw - (-ry - np.pi / 2))))) < 0.02
        x, z = float(row[11]), float(row[13])  # camera x right, z forward -> LiDAR -y, x
        assert abs(box.center[0] - z) < 0.5 and abs(box.center[1] + x) < 0.5
        inside = points[box.contains(points)]
        assert len(inside) >= 5, box
        bottom = box.center[2] - box.size[2] / 2
        assert inside[:, 2].min() < box.center[2]  # the lowest return is in the lower half
        if len(inside) >= 50:  # dense enough for a beam to hit near the ground
            assert abs(inside[:, 2].min() - bottom) < 0.3


def test_score_column_and_missing_projection(tmp_path: Path):
    calib = _synthetic_calib()
    ahead = Box3D((12.0, 1.0, -0.9), (4.0, 1.7, 1.5), yaw=0.3, label="Car", score=0.87)
    behind = Box3D((-10.0, 0.0, -0.9), (4.0, 1.7, 1.5), label="Van", box2d=(1, 2, 3, 4))
    bare = Box3D((-10.0, 0.0, -0.9), (4.0, 1.7, 1.5), label="Truck")
    write_kitti_labels(tmp_path / "d.txt", [ahead, behind, bare], calib)
    rows = [line.split() for line in (tmp_path / "d.txt").read_text().splitlines()]
    assert [len(r) for r in rows] == [16, 15, 15]
    assert rows[1][4:8] == ["1.00", "2.00", "3.00", "4.00"] and rows[2][4:8] == ["-1.00"] * 4
    back = read_kitti_labels(tmp_path / "d.txt", calib)
    assert back[0].score == pytest.approx(0.87)
    assert back[0].iou3d(ahead) > 0.999 and back[0].label == "Car"
    # 2D box of the box ahead inside the image when the size is known, spilling out otherwise
    clipped = ahead.image_box(calib, KITTI_IMAGE)
    assert clipped is not None and 0 <= clipped[0] < clipped[2] <= KITTI_IMAGE[0] - 1


def test_malformed_lines(tmp_path: Path):
    calib = _synthetic_calib()
    good = [
        "Misc 0.00 0 -1.82 804.79 167.34 995.43 327.94 1.63 1.48 2.37 3.23 1.59 8.55 -1.47",
        "Car 0.00 0 -1.67 657.39 190.13 700.07 223.39 1.41 1.58 4.36 3.18 2.27 34.38 -1.58",
    ]
    text = "\n".join([good[0], "Car 0.00 0 1.0 1 2 3", good[1], "Car 0 0 x 1 2 3 4 1 1 1 1 1 1 0", ""])
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match="line 2: expected 15 or 16 values, got 7") as info:
        read_kitti_labels(path, calib)
    assert info.value.path == path
    errors: list[InputError] = []
    boxes = read_kitti_labels(path, calib, strict=False, errors=errors)
    assert [b.label for b in boxes] == [r.split()[0] for r in good[:2]]
    assert [str(e).split(": ")[1] for e in errors] == ["line 2", "line 4"]
    assert "non-numeric" in str(errors[1])
    path.write_text("Car 0 0 0 1 2 3 4 1.5 -1.6 4 1 1 10 0\n")
    with pytest.raises(InputError, match="negative dimensions"):
        read_kitti_labels(path, calib)
    with pytest.raises(InputError, match="not found"):
        read_kitti_labels(tmp_path / "none.txt", calib)
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not text"):
        read_kitti_labels(tmp_path / "bin.txt", calib)


# ---- tracking labels -----------------------------------------------------------------------------
def test_real_tracking_labels(tracking):
    for seq, (_calib, frames, path) in tracking.items():
        rows = _tracking_rows(path)
        assert sum(len(b) for b in frames.values()) == len(rows), seq
        assert list(frames) == sorted({int(r[0]) for r in rows})
        first = rows[0]
        box = frames[int(first[0])][0]
        assert box.track_id == int(first[1]) and box.label == first[2]
        assert all(b.track_id is not None and b.track_id >= 0 for bs in frames.values() for b in bs)


def test_tracking_round_trip(tmp_path: Path, tracking):
    calib, frames, path = tracking["0003"]
    write_tracking_labels(tmp_path / "t.txt", frames, calib, image_size=KITTI_IMAGE)
    new_rows, old_rows = _tracking_rows(tmp_path / "t.txt"), _tracking_rows(path)
    key = lambda r: (int(r[0]), int(r[1]))  # noqa: E731
    new_rows.sort(key=key)
    old_rows.sort(key=key)
    assert [key(r) + (r[2],) for r in new_rows] == [key(r) + (r[2],) for r in old_rows]
    new = np.array([[float(v) for v in r[10:17]] for r in new_rows])
    old = np.array([[float(v) for v in r[10:17]] for r in old_rows])
    np.testing.assert_allclose(new, old, atol=1e-3)
    again = read_tracking_labels(tmp_path / "t.txt", calib)
    assert again.keys() == frames.keys()
    for f in frames:
        assert [b.track_id for b in again[f]] == [b.track_id for b in frames[f]]


def test_tracking_needs_track_ids_and_integer_frames(tmp_path: Path, tracking):
    calib, frames, _ = tracking["0000"]
    with pytest.raises(InputError, match="no track_id"):
        write_tracking_labels(tmp_path / "t.txt", {0: [frames[0][0].replace(track_id=None)]}, calib)
    assert not (tmp_path / "t.txt").exists()
    (tmp_path / "b.txt").write_text("0.5 1 Car 0 0 0 1 2 3 4 1 1 1 1 1 10 0\n")
    with pytest.raises(InputError, match="line 1: value 1 '0.5' is not an integer"):
        read_tracking_labels(tmp_path / "b.txt", calib)
    assert read_tracking_labels(tmp_path / "b.txt", calib, strict=False) == {}


def test_projected_2d_boxes_match_kitti_annotations(tracking):
    """The 2D box of each non-truncated 3D box, projected with the calibration, matches KITTI's own."""
    for seq, (calib, frames, _) in tracking.items():
        ious = {"vehicle": [], "other": []}
        for frame, boxes in frames.items():
            for b in boxes:
                if b.truncated == 0 and frame % 2 == 0:  # every other frame keeps the test short
                    group = "vehicle" if b.label in ("Car", "Van", "Truck") else "other"
                    ious[group].append(_iou2d(b.image_box(calib, KITTI_IMAGE), b.box2d))
        assert min(ious["vehicle"]) >= 0.7, seq
        # pedestrians are tighter in 2D than their 3D box seen at an angle; most still agree
        both = np.array(ious["vehicle"] + ious["other"])
        assert np.mean(both >= 0.7) > 0.95 and np.median(both) > 0.95, seq
