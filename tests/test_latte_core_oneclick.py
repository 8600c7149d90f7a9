"""One-click annotation: synthetic scenes (near, far and adjacent objects, empty clicks, bad clouds)
and the real KITTI frames."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.oneclick import OneClickAnnotator
from latte.core.synthetic import demo_scene, scan_scene
from squeezeseg.boxes import Box3D

H = 1.73


@pytest.fixture(scope="module")
def demo():
    pts, boxes = demo_scene()
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    return ann, pts, boxes


def test_click_on_each_object_gives_its_box(demo):
    ann, pts, boxes = demo
    for gt in boxes:
        box = ann.click(gt.center[0], gt.center[1], gt.label)
        assert box is not None, gt.label
        # The demo pedestrian is a solid block (0.7 x 0.6 m, its box the block), not a body:
        # people get the KITTI mean (0.84 x 0.66 m) around the centre of a human trunk (its near
        # side 0.1 m short of it) facing across the longer side (the shoulders), so the block is
        # boxed 0.2 m near and turned: IoU 0.54 (tests below use people shaped as people).
        assert box.bev_iou(gt) > (0.5 if gt.label == "Pedestrian" else 0.7), (gt.label, box)
        assert box.label == gt.label
        assert gt.contains(pts[box.point_indices], margin=0.3).mean() > 0.95


def test_unlabelled_click_guesses_a_class(demo):
    ann, _, boxes = demo
    car = boxes[0]
    assert ann.click(car.center[0], car.center[1]).label == "Car"


def test_click_on_empty_space_or_ground_is_no_object(demo):
    ann, _, _ = demo
    assert ann.click(40.0, 30.0) is None  # nothing there
    assert ann.click(5.0, 0.5) is None  # bare road in front of the car
    assert ann.click(float("nan"), 0.0) is None


def test_far_sparse_object_is_found():
    car = Box3D((55.0, 8.0, -H + 0.75), (4.2, 1.8, 1.5), 0.6, "Car")
    pts = scan_scene([car], beams=64, azimuth_steps=2048)
    n = int(car.contains(pts).sum())
    assert 10 <= n <= 150  # tens of points, as in KITTI at this range
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    box = ann.click(car.center[0], car.center[1], "Car")
    assert box is not None and box.bev_iou(car) > 0.5


def test_adjacent_near_objects_do_not_merge():
    a = Box3D((10.0, 1.2, -H + 0.75), (4.2, 1.8, 1.5), 0.0, "Car")
    b = Box3D((10.0, -1.2, -H + 0.75), (4.2, 1.8, 1.5), 0.0, "Car")  # 0.6 m gap beside a
    pts = scan_scene([a, b], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    box = ann.click(a.center[0], a.center[1])
    assert box is not None
    idx = box.point_indices
    assert a.contains(pts[idx], margin=0.2).all()
    assert not b.contains(pts[idx], margin=0.1).any()


def test_nan_points_single_point_and_no_frame(demo):
    ann = OneClickAnnotator()
    with pytest.raises(RuntimeError):
        ann.click(1.0, 1.0)
    _, pts, boxes = demo
    pts = pts.copy()
    pts[::7, :3] = np.nan
    ann.set_frame(pts)
    box = ann.click(boxes[0].center[0], boxes[0].center[1], "Car")
    assert box is not None and np.isfinite(box.center).all()
    assert not np.isnan(pts[box.point_indices, :3]).any()
    ann.set_frame(np.array([[10.0, 0.0, -1.0, 0.0]], np.float32))
    assert ann.click(10.0, 0.0) is None
    with pytest.raises(ValueError):
        ann.set_frame(np.zeros((5, 2), np.float32))


def test_radius_grows_with_range():
    ann = OneClickAnnotator()
    assert ann.radius_at(5.0) < ann.radius_at(40.0) < ann.radius_at(70.0) <= ann.config.oneclick.max_radius


def test_real_kitti_objects_all_get_a_box(kitti_object):
    """Every labelled object with >= 30 points gets a box from a click at its nearest non-ground
    point; the BEV IoU figures are printed by scripts/bench_latte_oneclick.py."""
    from squeezeseg.io import read_kitti_calib, read_kitti_labels, read_points

    ann = OneClickAnnotator()
    ious, heading_err = [], {}
    for fid in ("000000", "000001", "000002"):
        pts = read_points(kitti_object / "velodyne" / f"{fid}.bin")
        calib = read_kitti_calib(kitti_object / "calib" / f"{fid}.txt")
        ann.set_frame(pts)
        for gt in read_kitti_labels(kitti_object / "label_2" / f"{fid}.txt", calib):
            inside = gt.contains(pts)
            if inside.sum() < 30:
                continue
            cand = np.flatnonzero(inside & ~ann.is_ground)
            p = pts[cand[np.argmin(np.hypot(*(pts[cand, :2] - gt.center[:2]).T))]]
            box = ann.click(float(p[0]), float(p[1]), gt.label)
            assert box is not None, (fid, gt.label)
            ious.append(box.bev_iou(gt))
            heading_err[gt.label] = np.degrees(abs(np.angle(np.exp(2j * (box.yaw - gt.yaw)))) / 2)
    assert len(ious) == 4
    assert np.median(ious) > 0.74
    # The trailer (Misc, 1,346 points) has 41 stray returns beyond its faces; with the rectangle's
    # edges on the extreme points its heading was 10.8 degrees off (oneclick.edge_trim).
    assert heading_err["Misc"] < 2.0


def _rows_behind_wall() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A car 35 m ahead seen from behind: three rows on its sloped rear (0.6 m apart along the
    ray, 0.25 m apart in height), and a 7 m wall 0.45 m beside it running along the ray."""
    lat = np.arange(-0.7, 0.71, 0.1)
    car = np.concatenate(
        [np.c_[np.full_like(lat, 35.0 + 0.6 * k), lat, np.full_like(lat, -1.2 + 0.25 * k)] for k in range(3)]
    )
    along = np.arange(33.0, 40.0, 0.1)
    wall = np.concatenate(
        [np.c_[along, np.full_like(along, -1.15 - 0.1 * k), np.full_like(along, -1.0)] for k in range(3)]
    )
    ground = np.c_[np.random.default_rng(0).uniform(5, 60, (3000, 2)) * [1, 0.2] - [0, 5], np.full(3000, -H)]
    pts = np.r_[car, wall, ground].astype(np.float32)
    return pts, np.arange(len(car)), np.arange(len(car), len(car) + len(wall))


def test_rows_along_the_ray_join_and_a_wall_beside_stays_apart():
    # Rows 0.6 m apart along the ray but a neighbour only 0.45 m away across it: no single
    # isotropic radius separates them; the sensor-ray frame (radial gaps shrunk) does.
    pts, car, wall = _rows_behind_wall()
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    idx = ann.cluster(35.0, 0.0, "Car")
    assert set(car) <= set(idx.tolist())
    assert not set(wall) & set(idx.tolist())


def test_radius_follows_the_sensor_angular_step():
    ann = OneClickAnnotator()
    c = ann.config.oneclick
    assert ann.angular_step == pytest.approx(np.radians(0.17578125))  # HDL-64E azimuth step
    assert ann.radius_at(40.0) == pytest.approx(c.gap_factor * 40.0 * ann.angular_step)
    assert ann.radius_at(1.0) == c.base_radius


def test_car_seen_from_behind_gets_its_heading_and_grows_forward():
    # A car 30 m ahead, slightly to the side, heading away: rear face and a short part of the
    # near side are seen. The box keeps the rear fixed and extends away from the sensor.
    car = Box3D((30.0, 3.0, -H + 0.75), (4.4, 1.8, 1.5), 0.0, "Car")
    pts = scan_scene([car], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    inside = np.flatnonzero(car.contains(pts) & ~ann.is_ground)
    p = pts[inside[np.argmin(np.hypot(*(pts[inside, :2] - car.center[:2]).T))]]
    box = ann.click(float(p[0]), float(p[1]), "Car")
    assert box is not None
    assert abs(np.angle(np.exp(2j * (box.yaw - car.yaw)))) / 2 < np.radians(5)
    assert box.bev_iou(car) > 0.7


@pytest.mark.slow
def test_simulated_street_one_click_accuracy():
    """Every object with >= 30 points of simulated HDL-64E street scenes gets a box; median BEV
    IoU >= 0.75 with the class given (scripts/bench_latte_oneclick_sim.py runs 16 scenes). Since the
    traffic comes from the KITTI tracking layouts (issue #18, third round) a scene holds 1-5 such
    objects; seeds 1, 2, 4, 5, 8 and 11 hold 21."""
    simulation = pytest.importorskip("simulation")
    ann = OneClickAnnotator()
    ious = []
    for seed in (1, 2, 4, 5, 8, 11):
        frame = simulation.simulate_sequence(sensor="hdl64e", frames=1, seed=seed)[0]
        ann.set_frame(frame.points)
        for gt in frame.boxes:
            if len(gt.point_indices) < 30:
                continue
            cand = np.flatnonzero(gt.contains(frame.points) & ~ann.is_ground)
            p = frame.points[cand[np.argmin(np.hypot(*(frame.points[cand, :2] - gt.center[:2]).T))]]
            box = ann.click(float(p[0]), float(p[1]), gt.label)
            assert box is not None, gt
            ious.append(box.bev_iou(gt))
    assert len(ious) >= 15
    assert np.median(ious) >= 0.75


def _cyclist_parts(x: float, y: float, yaw: float) -> list[Box3D]:
    """A bicycle (two wheels, frame, handlebar) with a rider, as thin boxes: no planar side faces."""
    c, s = np.cos(yaw), np.sin(yaw)

    def part(u, v, z, size):
        return Box3D((x + u * c - v * s, y + u * s + v * c, -H + z), size, yaw, "Cyclist")

    return [
        part(0.5, 0, 0.34, (0.68, 0.05, 0.68)),
        part(-0.5, 0, 0.34, (0.68, 0.05, 0.68)),
        part(0.0, 0, 0.75, (0.9, 0.05, 0.08)),
        part(0.55, 0, 1.0, (0.05, 0.5, 0.05)),
        part(-0.1, 0, 1.25, (0.3, 0.36, 0.6)),
        part(0.0, 0, 1.65, (0.2, 0.2, 0.22)),
    ]


@pytest.mark.parametrize("yaw", [0.3, 0.9, -0.5, 1.4, 2.2])
@pytest.mark.parametrize("rng", [8.0, 15.0])
def test_cyclist_heading_is_its_principal_axis(yaw, rng):
    # An L-shape search on a bicycle (wheels and frame 5 cm wide) follows noise (up to 14 degrees
    # off here); the principal axis of its points is its heading.
    gt = Box3D((rng * np.cos(0.4), rng * np.sin(0.4), -H + 0.87), (1.76, 0.6, 1.74), yaw, "Cyclist")
    ann = OneClickAnnotator()
    assert "Cyclist" in ann.config.oneclick.pca_classes
    ann.set_frame(scan_scene(_cyclist_parts(gt.center[0], gt.center[1], yaw)))
    box = ann.click(gt.center[0], gt.center[1], "Cyclist")
    assert box is not None
    assert abs(np.angle(np.exp(2j * (box.yaw - yaw)))) / 2 < np.radians(4)
    assert box.bev_iou(gt) > 0.65


def test_catch_all_class_is_not_grown_to_its_mean_size():
    # Misc covers trailers and bins alike: a 0.6 m bin keeps its own size (the Misc mean of
    # 3.6 m x 1.5 m only bounds the plausible size), while a car's partial view is grown.
    ann = OneClickAnnotator()
    misc = ann.config.class_config("Misc")
    assert misc is not None and not misc.grow_to_size and misc.size[0] > 3
    bin_ = Box3D((9.0, 3.0, -H + 0.55), (0.6, 0.6, 1.1), 0.2, "Misc")
    ann.set_frame(scan_scene([bin_]))
    box = ann.click(bin_.center[0], bin_.center[1], "Misc")
    assert box is not None and max(box.size[:2]) < 0.8
    assert box.bev_iou(bin_) > 0.5


def test_class_sizes_are_the_kitti_means_in_code_and_yaml():
    from latte.core.config import LatteConfig, load_latte_config

    shipped, builtin = load_latte_config(), LatteConfig()
    assert [(c.name, c.size, c.grow_to_size) for c in shipped.classes] == [
        (c.name, c.size, c.grow_to_size) for c in builtin.classes
    ]
    assert shipped.class_config("Car").size == (3.88, 1.63, 1.53)  # KITTI train mean (l, w, h)
    assert shipped.class_config("Pedestrian").size == (0.84, 0.66, 1.76)
    assert shipped.oneclick.pca_classes == builtin.oneclick.pca_classes


def test_edge_trim_is_shipped_in_code_and_yaml_and_validated():
    import dataclasses

    from latte.core.config import LatteConfig, OneClickConfig, load_latte_config

    assert load_latte_config().oneclick.edge_trim == LatteConfig().oneclick.edge_trim == 0.03
    with pytest.raises(ValueError, match="edge_trim"):
        dataclasses.replace(OneClickConfig(), edge_trim=0.5)


def test_heading_refinement_is_shipped_in_code_and_yaml_and_validated():
    import dataclasses

    from latte.core.config import LatteConfig, OneClickConfig, load_latte_config

    assert load_latte_config().oneclick.angle_refine_deg == LatteConfig().oneclick.angle_refine_deg == 0.1
    with pytest.raises(ValueError, match="angle_refine_deg"):
        dataclasses.replace(OneClickConfig(), angle_refine_deg=-0.1)
    # A step not below the grid's means no refinement (configs with a fine grid still load).
    assert dataclasses.replace(OneClickConfig(), angle_step_deg=0.1).angle_refine_deg == 0.1


def _grid(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float], step: float = 0.05):
    """Points on an axis-aligned patch (one of x, y, z fixed) at ``step`` spacing."""
    axes = [np.arange(a, b + step / 2, step) if b > a else np.array([a]) for a, b in (x, y, z)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def test_parts_inside_the_footprint_join_and_a_neighbour_reaching_in_does_not():
    # A car-sized object seen at 10-14 m: its rear (x = 10) and near side (y = 1) faces. Inside
    # its footprint, 0.6 m across the ray from the side face (more than the neighbour radius), a
    # clump the growth cannot reach (the inside of a trailer's front wall seen over a low side).
    # Behind it a second object whose bar (a drawbar) reaches 0.1 m into the footprint: with it
    # the object would be 6 m long, implausible for a car (at most 1.3 x 3.88 m), so it stays out.
    rear = _grid((10.0, 10.0), (1.0, 2.6), (-1.5, -0.3))
    side = _grid((10.0, 14.0), (1.0, 1.0), (-1.5, -0.3))
    clump = _grid((13.3, 13.6), (1.6, 1.6), (-1.2, -0.8))
    bar = _grid((13.9, 16.0), (2.4, 2.4), (-1.4, -1.4))
    other = np.r_[_grid((16.0, 16.0), (1.0, 2.6), (-1.5, -0.3)), bar]
    road = _grid((5.0, 20.0), (-3.0, 5.0), (-H, -H), step=0.2)
    pts = np.r_[rear, side, clump, other, road]
    pts = np.c_[pts, np.zeros(len(pts))]
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    grown = set(ann.cluster(12.0, 1.0, "Car").tolist())
    n0 = len(rear) + len(side)
    clump_idx = set(range(n0, n0 + len(clump)))
    other_idx = set(range(n0 + len(clump), n0 + len(clump) + len(other)))
    assert not grown & clump_idx and not grown & other_idx  # the growth alone misses the clump
    box = ann.click(12.0, 1.0, "Car")
    idx = set(box.point_indices.tolist())
    assert clump_idx <= idx
    assert not idx & other_idx
    assert box.size[0] == pytest.approx(4.0, abs=0.1)


def test_a_branch_over_the_footprint_does_not_join():
    # The same object without a class (no height bound): a tree's branches 1.3 m above its top,
    # inside its footprint, are not part of it (it would be guessed a truck and grown to 10 m).
    rear = _grid((10.0, 10.0), (1.0, 2.6), (-1.5, -0.3))
    side = _grid((10.0, 14.0), (1.0, 1.0), (-1.5, -0.3))
    branch = _grid((11.0, 13.5), (2.1, 2.1), (1.0, 1.2))
    road = _grid((5.0, 20.0), (-3.0, 5.0), (-H, -H), step=0.2)
    pts = np.r_[rear, side, branch, road]
    ann = OneClickAnnotator()
    ann.set_frame(np.c_[pts, np.zeros(len(pts))])
    box = ann.click(12.0, 1.0)
    n0 = len(rear) + len(side)
    assert not set(box.point_indices.tolist()) & set(range(n0, n0 + len(branch)))
    assert box.label == "Car" and box.size[0] == pytest.approx(4.0, abs=0.1)


def _annotator(**oneclick) -> OneClickAnnotator:
    """An annotator with the shipped settings except ``oneclick``."""
    import dataclasses

    from latte.core.config import load_latte_config

    cfg = load_latte_config()
    return OneClickAnnotator(dataclasses.replace(cfg, oneclick=dataclasses.replace(cfg.oneclick, **oneclick)))


def test_a_piece_of_a_car_is_completed_by_the_class_size_box():
    # A car 24 m ahead, its side to the sensor, with 0.8 m of that side returning nothing (a dark
    # door): the growth reaches only the piece clicked on, whose box alone says neither which end
    # the rest is on nor which side is the length. The piece mostly inside one of the car-sized
    # boxes around it, within two neighbour radii, joins.
    car = Box3D((24.0, 3.0, -H + 0.75), (3.9, 1.65, 1.5), 1.45, "Car")
    pts = scan_scene([car], beams=64, azimuth_steps=2048)
    loc = car.to_local(pts[:, :3])
    on = car.contains(pts, margin=0.05)
    pts = pts[~(on & (loc[:, 0] > -1.0) & (loc[:, 0] < -0.2))]
    loc = car.to_local(pts[:, :3])
    front = np.flatnonzero(car.contains(pts, margin=0.05) & (loc[:, 0] > 0))
    x, y = pts[front[np.argmin(np.abs(loc[front, 0] - 1.0))], :2]
    boxes = {}
    for inside in (0.5, 1.0):
        ann = _annotator(completion_inside=inside)
        ann.set_frame(pts)
        boxes[inside] = ann.click(float(x), float(y), "Car")
    assert boxes[1.0].bev_iou(car) < 0.5  # without completion: the piece alone, grown the wrong way
    assert boxes[0.5].bev_iou(car) > 0.9
    assert car.contains(pts[boxes[0.5].point_indices], margin=0.1).all()


def test_silhouette_excess_counts_only_what_nothing_hides():
    # A rear face 30 m ahead (1.6 m wide). A car-sized box grown from it along the ray stays
    # within its silhouette; grown across the ray it reaches 3.1 m to the left, where the sensor
    # saw past it, unless something nearer stands there: then only the part of the silhouette
    # up to that occluder is contradicted.
    face = _grid((30.0, 30.0), (-0.8, 0.8), (-1.5, -0.3))
    road = _grid((5.0, 40.0), (-5.0, 5.0), (-H, -H), step=0.25)
    along = Box3D((31.94, 0.0, -0.9), (3.88, 1.6, 1.2), 0.0, "Car")
    across = Box3D((30.8, 1.14, -0.9), (3.88, 1.6, 1.2), np.pi / 2, "Car")
    pole = _grid((20.0, 20.0), (1.5, 1.5), (-1.5, 0.5))  # azimuth 4.3 degrees, 10 m nearer
    for extra, expected in ((np.zeros((0, 3)), np.arctan2(3.08, 30.0) - np.arctan2(0.8, 30.0)),
                            (pole, np.arctan2(1.5, 20.0) - np.arctan2(0.8, 30.0))):
        pts = np.r_[face, road, extra]
        ann = OneClickAnnotator()
        ann.set_frame(np.c_[pts, np.zeros(len(pts))])
        assert ann._silhouette_excess(along, face) * 30.0 < 0.05
        assert ann._silhouette_excess(across, face) == pytest.approx(expected, abs=2e-3)


def test_real_kitti_one_click_accuracy(shared_data):
    """Median BEV IoU of one click (class given) over the Car/Van/Pedestrian/Cyclist objects with
    >= 30 points of the six labelled KITTI frames (scripts/bench_latte_oneclick.py prints them)."""
    from latte.core.sequence import open_sequence
    from squeezeseg.io import read_kitti_labels

    folders = [shared_data / "kitti_object" / "training", shared_data / "kitti_object_more" / "training"]
    if not all(f.is_dir() for f in folders):
        pytest.skip(f"labelled KITTI object frames not found under {shared_data}")
    ann = OneClickAnnotator()
    ious = []
    for folder in folders:
        seq = open_sequence(folder)
        for i in range(len(seq)):
            pts = seq.points(i)
            ann.set_frame(pts)
            for gt in read_kitti_labels(seq.frames[i].labels, seq.calib(i)):
                inside = gt.contains(pts)
                if inside.sum() < 30 or gt.label not in ("Car", "Van", "Pedestrian", "Cyclist"):
                    continue
                cand = np.flatnonzero(inside & ~ann.is_ground)
                p = pts[cand[np.argmin(np.hypot(*(pts[cand, :2] - gt.center[:2]).T))]]
                box = ann.click(float(p[0]), float(p[1]), gt.label)
                ious.append(0.0 if box is None else box.bev_iou(gt))
    assert len(ious) == 14
    assert np.median(ious) >= 0.70


def test_completion_and_silhouette_settings_are_shipped_in_code_and_yaml():
    from latte.core.config import LatteConfig, load_latte_config

    shipped, code = load_latte_config().oneclick, LatteConfig().oneclick
    keys = (
        "completion_inside",
        "completion_gap",
        "silhouette_tol",
        "whole_view_classes",
        "whole_side_steps",
    )
    for key in keys:
        assert getattr(shipped, key) == getattr(code, key), key
    import dataclasses

    from latte.core.config import OneClickConfig

    bad_values = (
        ("completion_inside", 1.5),
        ("completion_gap", 0.0),
        ("silhouette_tol", -1.0),
        ("whole_side_steps", -1.0),
    )
    for key, bad in bad_values:
        with pytest.raises(ValueError, match=key):
            dataclasses.replace(OneClickConfig(), **{key: bad})


def _round_body(x: float, y: float, radius: float = 0.13, height: float = 1.7) -> list[Box3D]:
    """A standing person as a 12-sided column of radius ``radius`` (thin slabs, one per side):
    round seen from any side, as a trunk is (0.26 m deep, a chest with clothes)."""
    out = []
    for a in np.radians(np.arange(0.0, 360.0, 30.0)):
        r = radius - 0.01
        size = (0.02, 2 * radius * np.tan(np.radians(15.0)) + 0.01, height)
        out.append(Box3D((x + r * np.cos(a), y + r * np.sin(a), -H + height / 2), size, a, "Pedestrian"))
    return out


@pytest.mark.parametrize("rng", [8.0, 15.0, 25.0])
def test_a_round_person_is_centred_behind_the_half_the_sensor_sees(rng):
    # The sensor sees the near half of a round body: the box around those points alone stands
    # half the body's depth too near the sensor. The centre is the median of the upper body's
    # points across the ray and their median range plus a trunk's 0.1 m: on the body. A hand
    # held out 0.35 m to one side at hip height (below the upper body) moves nothing, a forearm
    # held out at chest height little (the midpoint of the outermost points, used before,
    # moved 0.1 m with it). The box is KITTI's mean person (0.84 x 0.66 m).
    x, y = rng * np.cos(0.3), rng * np.sin(0.3)
    side = np.array([-np.sin(0.3), np.cos(0.3)])

    def held_out(z: float) -> Box3D:
        at = (x + 0.3 * side[0], y + 0.3 * side[1], -H + z)
        return Box3D(at, (0.1, 0.3, 0.1), 0.3, "Pedestrian")

    body = _round_body(x, y)
    centres = []
    for parts in (body, body + [held_out(0.75)], body + [held_out(1.25)]):
        pts = scan_scene(parts, beams=64, azimuth_steps=2048)
        ann = OneClickAnnotator()
        ann.set_frame(pts)
        box = ann.click(x - 0.1 * np.cos(0.3), y - 0.1 * np.sin(0.3), "Pedestrian")
        seen = pts[box.point_indices, :2]
        seen_error = np.hypot(*((seen.min(axis=0) + seen.max(axis=0)) / 2 - (x, y)))
        error = np.hypot(box.center[0] - x, box.center[1] - y)
        assert error < min(0.05, 0.75 * seen_error), (rng, len(parts), error, seen_error)
        assert box.size[:2] == pytest.approx((0.84, 0.66))
        centres.append(np.asarray(box.center[:2]))
    assert np.hypot(*(centres[1] - centres[0])) < 0.005  # the hand moved nothing
    assert np.hypot(*(centres[2] - centres[0])) < 0.03  # the forearm little


def test_a_lone_face_of_a_person_is_boxed_around_the_body_behind_it():
    # A flat face seen head-on: the person's near side. Their box is KITTI's mean person around
    # the body's centre, a trunk's 0.1 m beyond the face (the growth from the near side used
    # before put it 0.33 m beyond, at the box's far edge).
    face = Box3D((12.0, 0.0, -H + 0.8), (0.05, 0.6, 1.6), 0.0, "Pedestrian")
    pts = scan_scene([face], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    box = ann.click(12.0, 0.0, "Pedestrian")
    assert box.size[:2] == pytest.approx((0.84, 0.66))
    assert box.center[0] == pytest.approx(11.975 + 0.1, abs=0.02)
    assert abs(box.center[1]) < 0.02


def _striding_person(
    x: float, y: float, yaw: float, stride: float = 0.7, swing_deg: float = 25.0
) -> list[Box3D]:
    """A person 1.75 m tall with human proportions, walking along ``yaw``: trunk 0.38 m across
    the shoulders and 0.24 m deep, head, legs from the hips to feet ``stride`` apart along the
    walking direction (three segments and a foot each), arms swinging ``swing_deg`` about the
    shoulders, opposite to the legs."""
    c, s = np.cos(yaw), np.sin(yaw)

    def part(u: float, v: float, z: float, size: tuple[float, float, float]) -> Box3D:
        return Box3D((x + u * c - v * s, y + u * s + v * c, -H + z), size, yaw, "Pedestrian")

    parts = [part(0.0, 0.0, 1.2, (0.24, 0.38, 0.55)), part(0.0, 0.0, 1.62, (0.2, 0.17, 0.24))]
    for side in (1, -1):
        foot = side * stride / 2
        parts += [part(foot * (1 - z / 0.9), side * 0.1, z, (0.14, 0.13, 0.3)) for z in (0.15, 0.45, 0.75)]
        parts.append(part(foot + 0.05, side * 0.1, 0.04, (0.26, 0.1, 0.08)))
        a = -side * np.radians(swing_deg)
        for d in (0.1, 0.3, 0.5):  # upper arm, forearm, hand
            size = (0.09, 0.09, 0.2 * np.cos(a) + 0.02)
            parts.append(part(d * np.sin(a), side * 0.24, 1.42 - d * np.cos(a), size))
    return parts


def test_a_walking_person_gets_the_kitti_box_around_their_body():
    # KITTI boxes a person with about its class mean, 0.84 m along the walking direction and
    # 0.66 m across (longer when the stride is), around the body. One-click, over 12 poses
    # (4 headings, 8-25 m): that box, centred within 0.1 m of the body's centre (0.06 m at
    # most here), its length along the walking direction to 20 degrees (median; the arms
    # swing in the chest band, and one pose comes out 45 degrees off). Before, the box was
    # the extent of the points mirrored through the outermost ones: up to 0.2 m off centre,
    # its length across the walker (85 degrees).
    heading_errors = []
    for yaw in (0.0, 0.8, 1.57, -2.0):
        for rng in (8.0, 16.0, 25.0):
            x, y = rng * np.cos(0.3), rng * np.sin(0.3)
            pts = scan_scene(_striding_person(x, y, yaw), beams=64, azimuth_steps=2048)
            ann = OneClickAnnotator()
            ann.set_frame(pts)
            box = ann.click(x - 0.1 * np.cos(0.3), y - 0.1 * np.sin(0.3), "Pedestrian")
            # at least the mean length, at most the stride heel to toe (0.96 m) and 0.1 m: KITTI
            # boxes a walker around the whole stride (the feet, when not taken for ground, are
            # in the shin band and counted twice)
            assert 0.84 <= box.size[0] <= 1.06 and box.size[1] == pytest.approx(0.66)
            assert np.hypot(box.center[0] - x, box.center[1] - y) < 0.1, (yaw, rng, box)
            heading_errors.append(np.degrees(abs(np.angle(np.exp(2j * (box.yaw - yaw)))) / 2))
    assert np.median(heading_errors) < 20.0 and max(heading_errors) < 50.0, heading_errors


def test_a_person_standing_gets_the_mean_box_and_a_long_stride_a_longer_one():
    # Feet side by side: the class mean, 0.84 x 0.66 m. A 1.1 m stride (1.4 m heel to toe,
    # the walking person of kitti_object/000000 is boxed 1.20 m long): the box covers the
    # stride, within 0.1 m, still 0.66 m across.
    for stride, expected in ((0.0, 0.84), (1.1, 1.39)):
        pts = scan_scene(_striding_person(10.0, 3.0, 0.5, stride=stride), beams=64, azimuth_steps=2048)
        ann = OneClickAnnotator()
        ann.set_frame(pts)
        box = ann.click(9.9, 2.97, "Pedestrian")
        assert box.size[0] == pytest.approx(expected, abs=0.1), (stride, box)
        assert box.size[1] == pytest.approx(0.66)


def test_a_short_car_seen_whole_is_not_grown_to_the_mean():
    # A 3.4 m car 9 m away, its rear and its whole near side in view: grown to the KITTI mean
    # length (3.88 m) its front would stand 1 degree (5 azimuth steps) past its points' silhouette,
    # where the sensor saw nothing. The side is seen whole and keeps its length.
    car = Box3D((8.0, 5.0, -H + 0.75), (3.4, 1.6, 1.5), 0.0, "Car")
    pts = scan_scene([car], beams=64, azimuth_steps=2048)
    lengths = {}
    for steps in (3.0, 0.0):
        ann = _annotator(whole_side_steps=steps)
        ann.set_frame(pts)
        box = ann.click(7.0, 4.3, "Car")
        lengths[steps] = box.size[0]
        assert box.bev_iou(car) > (0.9 if steps else 0.8)
    assert lengths[3.0] == pytest.approx(3.4, abs=0.1)
    assert lengths[0.0] == pytest.approx(3.88, abs=0.01)


def _walking_person(x: float, y: float, yaw: float, stride: float = 0.7) -> list[Box3D]:
    """A person as boxes: two legs a stride apart, torso, head, arms swinging."""
    c, s = np.cos(yaw), np.sin(yaw)

    def part(u, v, z, size):
        return Box3D((x + u * c - v * s, y + u * s + v * c, -H + z), size, yaw, "Pedestrian")

    return [
        part(stride / 2, 0.08, 0.45, (0.14, 0.14, 0.9)),
        part(-stride / 2, -0.08, 0.45, (0.14, 0.14, 0.9)),
        part(0.0, 0.0, 1.25, (0.3, 0.45, 0.7)),
        part(0.0, 0.0, 1.7, (0.2, 0.2, 0.22)),
        part(0.3, 0.27, 1.1, (0.4, 0.08, 0.08)),
        part(-0.3, -0.27, 1.1, (0.4, 0.08, 0.08)),
    ]


@pytest.mark.parametrize("rng", [8.0, 15.0])
@pytest.mark.parametrize("gap", [0.1, 0.25])
def test_two_people_side_by_side_are_cut_apart(rng, gap):
    # Two people 0.1-0.25 m apart across the ray join at any radius that keeps one whole; the
    # cluster (1.1-1.25 m) is within 1.3 x the class's length, so no shrink step parts them.
    # Two heads with the cluster lower between them: the click keeps its own person.
    a = Box3D((rng, -(0.5 + gap) / 2, -H + 0.85), (0.5, 0.5, 1.7), 0.0, "Pedestrian")
    b = Box3D((rng, (0.5 + gap) / 2, -H + 0.85), (0.5, 0.5, 1.7), 0.0, "Pedestrian")
    pts = scan_scene([a, b], beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    assert b.contains(pts[ann.cluster(rng - 0.2, a.center[1], "Pedestrian")], margin=0.05).any()
    box = ann.click(rng - 0.2, a.center[1], "Pedestrian")
    assert not b.contains(pts[box.point_indices], margin=0.05).any()
    assert a.contains(pts[box.point_indices], margin=0.05).all()


@pytest.mark.parametrize("yaw", [0.0, 0.8, 1.57, 2.4])
@pytest.mark.parametrize("rng", [6.0, 16.0, 25.0])
def test_one_walking_person_is_not_cut(yaw, rng):
    # Legs a stride apart and arms held out make one person longer than the class's length, but
    # the cluster has one head: nothing is cut.
    parts = _walking_person(rng, 0.0, yaw, stride=1.0)
    pts = scan_scene(parts, beams=64, azimuth_steps=2048)
    ann = OneClickAnnotator()
    ann.set_frame(pts)
    grown = set(ann.cluster(rng - 0.1, 0.0, "Pedestrian").tolist())
    box = ann.click(rng - 0.1, 0.0, "Pedestrian")
    assert grown <= set(box.point_indices.tolist())
