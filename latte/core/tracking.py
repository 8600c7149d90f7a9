"""Box tracking through a sequence (LATTE): a Kalman filter on each box centre.

State (px, py, vx, vy, ax, ay) with the constant-acceleration transition and the sensor interval as
dt; the observation is the centre only. Q (the process noise of a piecewise-constant jerk) and R
(the scanner's resolution) come from the config, as do the initial velocity and acceleration spreads
(estimated from the KITTI tracking ground truth by scripts/bench_latte_tracking.py --estimate).
Each adjusted box becomes the next observation. :func:`propagate_box` turns a prediction into a
proposal: rigid classes keep their size and re-estimate only the yaw at the predicted position,
non-rigid ones re-run the one-click fit at the predicted centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter

from latte.core.config import LatteConfig, TrackingConfig, load_latte_config
from squeezeseg.boxes import Box3D


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


def propagate_box(predicted: Box3D, annotator, label: str | None = None) -> Box3D:
    """Proposal for the next frame from a predicted box and a OneClickAnnotator set to that frame.

    Rigid classes keep their size: only the yaw is re-estimated from the points inside the
    (slightly grown) box at the predicted position. Non-rigid classes re-run the one-click fit at
    the predicted centre. Falls back to the prediction when the frame has no points there.
    """
    from latte.core.rectangle_fit import search_heading

    label = label or predicted.label
    cfg = annotator.config
    if not cfg.is_rigid(label):
        box = annotator.click(predicted.center[0], predicted.center[1], label)
        return predicted if box is None else box.replace(track_id=predicted.track_id)
    idx = annotator._obj_idx
    grown = predicted.replace(
        size=(predicted.size[0] + 0.6, predicted.size[1] + 0.6, predicted.size[2] + 0.4)
    )
    inside = idx[grown.contains(annotator._obj_xyz)] if len(idx) else idx
    if len(inside) < 3:
        return predicted
    xy = np.asarray(annotator.points)[inside, :2].astype(np.float64)
    c = cfg.oneclick
    heading = search_heading(
        xy, c.criterion, c.angle_step_deg, edge_trim=c.edge_trim, refine_deg=c.angle_refine_deg
    )
    # The fitted heading is known modulo 90 degrees: take the one closest to the previous yaw.
    cands = heading + np.arange(4) * np.pi / 2
    diff = np.abs(np.angle(np.exp(1j * (cands - predicted.yaw))))
    yaw = float(np.angle(np.exp(1j * cands[int(np.argmin(diff))])))
    return predicted.replace(yaw=yaw, point_indices=inside)
