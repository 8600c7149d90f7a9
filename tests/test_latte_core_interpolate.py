"""Keyframe interpolation of a track and whole-track edits in the session (one undoable command each)."""

from __future__ import annotations

import numpy as np
import pytest

from latte.core.ego_motion import EgoMotion, transform_box
from latte.core.interpolate import blend, interpolate_track
from latte.core.session import AnnotationSession
from latte.core.synthetic_drive import drive_scan, pose_matrix
from squeezeseg.boxes import Box3D
from squeezeseg.io import write_points

H = 1.73


def test_blend_turns_the_short_way_and_keeps_class_and_track():
    a = Box3D((0.0, 0.0, -1.0), (4.0, 1.8, 1.5), np.radians(170), "Van", 3)
    b = Box3D((10.0, 2.0, -1.0), (4.4, 1.8, 1.5), np.radians(-170), "Car", 3)
    mid = blend(a, b, 0.5)
    assert mid.center == pytest.approx((5.0, 1.0, -1.0)) and mid.size == pytest.approx((4.2, 1.8, 1.5))
    assert abs(np.degrees(np.angle(np.exp(1j * (mid.yaw - np.pi))))) < 1e-6   # through 180, not 0
    assert mid.label == "Van" and mid.track_id == 3


def test_frames_1_and_10_give_2_to_9_with_uneven_times():
    keys = {0: Box3D((0.0, 0.0, -1.0), (4, 1.8, 1.5), 0.0, "Car", 1),
            9: Box3D((9.0, -4.5, -1.0), (4, 1.8, 1.5), np.radians(-40), "Car", 1)}
    out = interpolate_track(keys, lambda k: 0.1 * k)
    assert sorted(out) == list(range(1, 9))
    assert out[3].center[:2] == pytest.approx((3.0, -1.5))
    assert np.degrees(out[3].yaw) == pytest.approx(-40 / 3)
    # Frame 5 recorded late (time 0.8 s of 0.9 s): the centre follows time, not the frame index.
    times = {k: 0.1 * k for k in range(10)} | {5: 0.8}
    assert interpolate_track(keys, times.get)[5].center[0] == pytest.approx(8.0)


def test_a_parked_car_stays_parked_while_the_sensor_drives_past():
    """Keyframes in frames 0 and 4 of a drive at 1 m and 2 degrees per frame: in sensor coordinates
    the parked car's path is curved, so interpolating there cuts the corner; interpolating in one
    frame and moving the boxes by the ego-motion keeps it where it stands."""
    poses = [pose_matrix(1.0 * k, 0.0, 2.0 * k) for k in range(5)]
    scans = [drive_scan(p, seed=k) for k, p in enumerate(poses)]
    parked = Box3D((9.0, 6.5, 0.75 - H), (4.2, 1.8, 1.5), 0.0, "Car", 7)   # street coordinates
    seen = [transform_box(parked, np.linalg.inv(p)) for p in poses]         # in each frame's coordinates
    ego = EgoMotion(lambda i: scans[i])
    out = interpolate_track({0: seen[0], 4: seen[4]}, lambda k: 0.1 * k, ego)
    naive = interpolate_track({0: seen[0], 4: seen[4]}, lambda k: 0.1 * k)
    for k in (1, 2, 3):
        err = np.hypot(*(np.asarray(out[k].center[:2]) - seen[k].center[:2]))
        naive_err = np.hypot(*(np.asarray(naive[k].center[:2]) - seen[k].center[:2]))
        assert err < 0.1 and naive_err > 2 * err
        assert abs(np.angle(np.exp(1j * (out[k].yaw - seen[k].yaw)))) < np.radians(0.5)


def test_snap_fits_each_interpolated_box():
    calls = []

    def snap(frame, box):
        calls.append(frame)
        return box.replace(center=(box.center[0], 0.5, box.center[2]))

    keys = {2: Box3D((0.0, 0.0, -1.0), (4, 1.8, 1.5)), 5: Box3D((3.0, 0.0, -1.0), (4, 1.8, 1.5))}
    out = interpolate_track(keys, lambda k: 0.1 * k, snap=snap)
    assert calls == [3, 4] and all(b.center[1] == 0.5 for b in out.values())


@pytest.fixture()
def session(tmp_path):
    for k in range(10):
        write_points(tmp_path / "scans" / f"{k:06d}.bin", drive_scan(pose_matrix(0.5 * k, 0, 0), seed=k))
    from latte.core.sequence import open_sequence

    s = AnnotationSession(open_sequence(tmp_path / "scans"), tmp_path / "out", lock=False)
    yield s
    s.close()


def test_put_track_boxes_and_edit_track_are_one_undoable_command(session):
    car = Box3D((10.0, 3.0, -1.0), (4.0, 1.8, 1.5), 0.0, "Car")
    k0 = session.add_box(0, car)
    tid = session.box(0, k0).track_id
    session.add_box(9, car.replace(center=(5.5, 3.0, -1.0), track_id=tid))
    session.add_box(4, car.replace(center=(8.0, -3.0, -1.0)))  # another track in between
    filled = interpolate_track({f: session.box(f, k) for f, k in session.track_frames(tid).items()},
                               lambda k: 0.1 * k)
    assert session.put_track_boxes(tid, filled) == 8
    assert sorted(session.track_frames(tid)) == list(range(10))
    assert len(session.boxes(4)) == 2
    log = {e.track_id: e for e in session.instance_log()}
    assert log[tid].operations["interpolate"] == 1
    session.undo()
    assert sorted(session.track_frames(tid)) == [0, 9]
    session.redo()
    # Batch edit: class and size of the whole track, bottoms kept; again one command.
    bottom = {f: session.box(f, k).center[2] - 0.75 for f, k in session.track_frames(tid).items()}
    assert session.edit_track(tid, label="Van", size=(5.0, 2.0, 2.1)) == 10
    for f, k in session.track_frames(tid).items():
        b = session.box(f, k)
        assert b.label == "Van" and b.size == (5.0, 2.0, 2.1)
        assert b.center[2] - 1.05 == pytest.approx(bottom[f])
    assert session.edit_track(tid, label="Van") == 0   # nothing left to change: no command
    session.undo()
    assert {session.box(f, k).label for f, k in session.track_frames(tid).items()} == {"Car"}
    reopened = AnnotationSession(session.sequence, session.out_dir, lock=False)
    assert sorted(reopened.track_frames(tid)) == list(range(10))   # autosaved
