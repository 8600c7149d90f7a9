"""Box tracking through a sequence (LATTE): a Kalman filter on each box centre.

State (px, py, vx, vy, ax, ay) with the constant-acceleration transition and the sensor interval as
dt; the observation is the centre only. Q (the process noise of a piecewise-constant jerk) and R
(the scanner's resolution) come from the config, as do the initial velocity and acceleration spreads
(estimated from the KITTI tracking ground truth by scripts/bench_latte_tracking.py --estimate).
Each adjusted box becomes the next observation. The filter models the object's own motion only:
:func:`predict_track` expects the track's boxes moved into the coordinates of the frame to predict
(the sensor's motion removed by scan registration, :mod:`latte.core.ego_motion`).
:func:`propagate_box` turns a prediction into a proposal: rigid classes keep their size, re-estimate
the yaw and are re-centred on their points (:func:`recentre`); non-rigid ones re-run the one-click
fit at the predicted centre.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter

from latte.core.config import LatteConfig, TrackingConfig, load_latte_config
from squeezeseg.boxes import Box3D, points_in_boxes


def transition(dt: float) -> np.ndarray:
    """6x6 constant-acceleration transition for the state (px, py, vx, vy, ax, ay)."""
    F = np.eye(6)
    F[0, 2] = F[1, 3] = F[2, 4] = F[3, 5] = dt
    F[0, 4] = F[1, 5] = 0.5 * dt * dt
    return F


def make_filter(center_xy: np.ndarray, cfg: TrackingConfig) -> KalmanFilter:
    """A filterpy KalmanFilter started at ``center_xy`` with the config's noises."""
    kf = KalmanFilter(dim_x=6, dim_z=2)
    kf.x = np.array([center_xy[0], center_xy[1], 0.0, 0.0, 0.0, 0.0])
    kf.F = transition(cfg.dt)
    kf.H = np.zeros((2, 6))
    kf.H[0, 0] = kf.H[1, 1] = 1.0
    kf.R = np.eye(2) * cfg.observation_noise**2
    kf.Q = _process_noise(cfg.dt, cfg.process_noise)
    kf.P = np.diag(
        [cfg.observation_noise**2] * 2
        + [cfg.initial_velocity_std**2] * 2
        + [cfg.initial_acceleration_std**2] * 2
    )
    return kf


def _process_noise(dt: float, q: float) -> np.ndarray:
    # Per axis (p, v, a) white-noise jerk; filterpy orders blocks per axis with order_by_dim=False.
    return Q_discrete_white_noise(dim=3, dt=dt, var=q, block_size=2, order_by_dim=False)


@dataclass
class _Track:
    kf: KalmanFilter
    box: Box3D
    t: float


class BoxTracker:
    """Kalman trackers keyed by track id: ``start``, ``predict``, ``update``."""

    def __init__(self, config: LatteConfig | str | None = None):
        self.config = load_latte_config(config)
        self._tracks: dict[int, _Track] = {}

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._tracks

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    def start(self, track_id: int, box: Box3D, t: float) -> None:
        """Begin (or restart) track ``track_id`` from ``box`` observed at time ``t`` (seconds)."""
        kf = make_filter(np.asarray(box.center[:2]), self.config.tracking)
        self._tracks[track_id] = _Track(kf, box.replace(track_id=track_id), float(t))

    def _advance(self, tr: _Track, t: float) -> None:
        dt = float(t) - tr.t
        if dt < 0:
            raise ValueError(f"time goes backwards: {t} after {tr.t}")
        if dt > 0:
            tr.kf.predict(F=transition(dt), Q=_process_noise(dt, self.config.tracking.process_noise))
            tr.t = float(t)

    def predict(self, track_id: int, t: float) -> Box3D:
        """The track's box moved to its predicted centre at time ``t`` (the filter is not changed)."""
        tr = self._tracks[track_id]
        dt = float(t) - tr.t
        x = transition(dt) @ tr.kf.x if dt > 0 else tr.kf.x
        b = tr.box
        return b.replace(center=(x[0], x[1], b.center[2]), point_indices=None, score=None)

    def update(self, track_id: int, box: Box3D, t: float) -> None:
        """Feed the annotator's (adjusted) ``box`` at time ``t`` as the next observation."""
        if track_id not in self._tracks:
            self.start(track_id, box, t)
            return
        tr = self._tracks[track_id]
        self._advance(tr, t)
        tr.kf.update(np.asarray(box.center[:2]))
        tr.box = box.replace(track_id=track_id)

    def velocity(self, track_id: int) -> np.ndarray:
        """Estimated (vx, vy) of the track in m/s."""
        return self._tracks[track_id].kf.x[2:4].copy()

    def remove(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)


def predict_track(
    history: list[tuple[float, Box3D]], t: float, config: LatteConfig | str | None = None
) -> Box3D:
    """The box of a track at time ``t`` from its earlier boxes [(time, box)], oldest first, all in the
    coordinates of the frame at ``t`` (the caller removes the sensor's own motion first, see
    :mod:`latte.core.ego_motion`): the Kalman filter adds the object's motion."""
    if not history:
        raise ValueError("a track needs at least one box to predict from")
    tracker = BoxTracker(config)
    tid = history[-1][1].track_id if history[-1][1].track_id is not None else 0
    t0, first = history[0]
    tracker.start(tid, first, t0)
    for tk, box in history[1:]:
        tracker.update(tid, box, tk)
    return tracker.predict(tid, t)


def propagate_box(
    predicted: Box3D, annotator, label: str | None = None, margin: float | None = None
) -> Box3D:
    """Proposal for the next frame from a predicted box and a OneClickAnnotator set to that frame.

    Rigid classes keep their size: the yaw is re-estimated from the points inside the (slightly
    grown) box at the predicted position, then the box is re-centred on those points
    (:func:`recentre`, at most ``margin`` metres, default ``tracking.recentre_margin``). Non-rigid
    classes re-run the one-click fit at the predicted centre. Falls back to the prediction when
    the frame has no points there.
    """
    label = label or predicted.label
    cfg = annotator.config
    if not cfg.is_rigid(label):
        box = annotator.click(predicted.center[0], predicted.center[1], label)
        return predicted if box is None else box.replace(track_id=predicted.track_id)
    margin = cfg.tracking.recentre_margin if margin is None else margin
    inside = _points_near(predicted, annotator, margin)
    if len(inside) < 3:
        return predicted
    xy = np.asarray(annotator.points)[inside, :2].astype(np.float64)
    yaw = _heading_near(xy, predicted.yaw, cfg) if len(inside) >= 10 else predicted.yaw
    box = recentre(predicted.replace(yaw=yaw), xy, margin)
    return box.replace(point_indices=_points_near(box, annotator, 0.1))


def follow_points(
    predicted: Box3D, object_points: np.ndarray, annotator, reach: float = 2.0, min_fitness: float = 0.5
) -> Box3D:
    """``predicted`` moved by registering the object's points of the previous frame (``object_points``
    (M, 3), already moved to where ``predicted`` puts them) onto the new frame's non-ground points
    nearby (point-to-point ICP, coarse then fine): the object's own motion measured from its points,
    which the Kalman filter cannot know before it has seen the object move (the first propagation of
    a track: a car ahead driving with the sensor stays put in the sensor's coordinates, a parked one
    moves back by the sensor's step). Only the shift in x, y and the turn about z are taken; the
    prediction stands when too few points pair up (an occluded or far object)."""
    import open3d as o3d

    src = np.asarray(object_points, np.float64)[:, :3]
    if len(src) < 10 or not len(annotator._obj_idx):
        return predicted
    near = predicted.replace(size=(predicted.size[0] + 2 * reach, predicted.size[1] + 2 * reach,
                                   predicted.size[2] + 0.6))
    dst = annotator._obj_xyz[_inside(near, annotator._obj_xyz)]
    if len(dst) < 10:
        return predicted
    reg = o3d.pipelines.registration
    pcd = [o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p)).voxel_down_sample(0.15) for p in (src, dst)]
    T = np.eye(4)
    for dist in (reach, reach / 4):
        res = reg.registration_icp(pcd[0], pcd[1], dist, T, reg.TransformationEstimationPointToPoint(),
                                   reg.ICPConvergenceCriteria(max_iteration=30))
        T = np.asarray(res.transformation)
    if res.fitness < min_fitness:
        return predicted
    yaw = np.arctan2(T[1, 0], T[0, 0])
    c, s = np.cos(yaw), np.sin(yaw)
    planar = np.eye(4)
    planar[:2, :2] = [[c, -s], [s, c]]
    planar[:2, 3] = T[:2, 3]
    from latte.core.ego_motion import transform_box

    return transform_box(predicted, planar)


def _object_points(box: Box3D, points: np.ndarray, predicted: Box3D) -> np.ndarray:
    """The points of ``box`` (its frame's ``points``) above its bottom 0.2 m (no road), placed in
    ``predicted`` as they were in ``box`` (the same offset from the centre along its heading)."""
    xyz = np.asarray(points)[:, :3]
    xyz = xyz[_inside(box, xyz, 0.1)].astype(np.float64)
    xyz = xyz[xyz[:, 2] > box.center[2] - box.size[2] / 2 + 0.2]
    local = box.to_local(xyz)
    c, s = np.cos(predicted.yaw), np.sin(predicted.yaw)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ R.T + np.asarray(predicted.center)


def _inside(box: Box3D, xyz: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(N,) bool: the points of ``xyz`` inside ``box`` (a bounding-square test first, so a frame's
    100k points cost one comparison each, not a rotation)."""
    return points_in_boxes(xyz, [box], margin) == 0


def _points_near(box: Box3D, annotator, margin: float) -> np.ndarray:
    """Indices (into the annotator's frame) of the non-ground object points inside ``box`` grown by
    ``margin`` on each side (0.2 m in height)."""
    idx = annotator._obj_idx
    if not len(idx):
        return idx
    grown = box.replace(size=(box.size[0] + 2 * margin, box.size[1] + 2 * margin, box.size[2] + 0.4))
    return idx[_inside(grown, annotator._obj_xyz)]


def _heading_near(xy: np.ndarray, yaw: float, cfg: LatteConfig) -> float:
    """The rectangle-fit heading of ``xy`` (known modulo 90 degrees) nearest to ``yaw``."""
    from latte.core.rectangle_fit import search_heading

    c = cfg.oneclick
    heading = search_heading(
        xy, c.criterion, c.angle_step_deg, edge_trim=c.edge_trim, refine_deg=c.angle_refine_deg
    )
    cands = heading + np.arange(4) * np.pi / 2
    diff = np.abs(np.angle(np.exp(1j * (cands - yaw))))
    return float(np.angle(np.exp(1j * cands[int(np.argmin(diff))])))


def recentre(box: Box3D, xy: np.ndarray, margin: float, step: float = 0.05) -> Box3D:
    """``box`` (size and heading kept) shifted along its length and its width, each by at most
    ``margin``, to cover as many of the points ``xy`` (N, 2) as it can; among equally good shifts
    the smallest wins, so a side the points do not pin down (only the rear of a car is seen) keeps
    the predicted position while a seen face snaps the box onto the car. A dedicated fit, not
    ``rectangle_fit.grow_to_prior``: the track's size and heading are known, and growing from a
    partial view may turn the box."""
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    rel = np.asarray(xy, np.float64) - np.asarray(box.center[:2])
    local = np.c_[rel @ [c, s], rel @ [-s, c]]
    offsets = np.arange(-margin, margin + step / 2, step)
    shift = np.zeros(2)
    for axis, (ext, other) in enumerate(((box.size[0], box.size[1]), (box.size[1], box.size[0]))):
        across = np.abs(local[:, 1 - axis]) <= other / 2 + margin  # the points beside the box
        u = local[across, axis]
        counts = (np.abs(u[None, :] - offsets[:, None]) <= ext / 2).sum(axis=1)
        best = np.flatnonzero(counts == counts.max())
        shift[axis] = offsets[best[np.argmin(np.abs(offsets[best]))]]
    dx = shift[0] * c - shift[1] * s
    dy = shift[0] * s + shift[1] * c
    return box.replace(center=(box.center[0] + dx, box.center[1] + dy, box.center[2]))


def track_proposals(
    boxes_of: Callable[[int], list[Box3D]],
    prev: int,
    cur: int,
    time_of: Callable[[int], float],
    annotator=None,
    ego=None,
    linked: Callable[[int, int], bool] | None = None,
    history: int = 10,
    points_of: Callable[[int], np.ndarray] | None = None,
) -> list[Box3D]:
    """Proposals in frame ``cur`` for every track of frame ``prev`` that ``cur`` does not have yet.

    ``boxes_of(j)`` gives frame ``j``'s boxes; up to ``history`` earlier frames of a track (while
    ``linked(j, j + 1)``) are moved into frame ``cur``'s coordinates by ``ego``
    (:class:`latte.core.ego_motion.EgoMotion`; None: the sensor stands still), the Kalman filter
    predicts the object's own motion to ``time_of(cur)``, the object's points in frame ``prev``
    (``points_of(prev)``; None: not used) are registered onto the new frame (:func:`follow_points`),
    and ``annotator`` (a OneClickAnnotator set to frame ``cur``; None: no points) fits the result to
    the new points (:func:`propagate_box`).
    """
    from latte.core.ego_motion import transform_box

    linked = linked or (lambda a, b: True)
    present = {b.track_id for b in boxes_of(cur) if b.track_id is not None}
    prev_points: list[np.ndarray] = []  # frame prev's points, read once for all its tracks
    out = []
    for box in boxes_of(prev):
        tid = box.track_id
        if tid is None or tid in present:
            continue
        frames = [(prev, box)]
        for j in range(prev - 1, max(prev - history, -1), -1):
            match = [b for b in boxes_of(j) if b.track_id == tid] if linked(j, j + 1) else []
            if not match:
                break
            frames.insert(0, (j, match[0]))
        moved = [
            (time_of(j), b if ego is None else transform_box(b, ego.transform(j, cur))) for j, b in frames
        ]
        pred = predict_track(moved, time_of(cur), annotator.config if annotator is not None else None)
        if annotator is not None and annotator.points is not None and len(annotator.points):
            if points_of is not None:
                prev_points = prev_points or [points_of(prev)]
                pred = follow_points(pred, _object_points(box, prev_points[0], pred), annotator)
            pred = propagate_box(pred, annotator, box.label)
        out.append(pred.replace(track_id=tid, score=None))
    return out
