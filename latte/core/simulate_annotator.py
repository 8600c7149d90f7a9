"""A simulated annotator: ground-truth objects replayed as clicks, counting the operations a person
would still need per feature set. The reproducible stand-in for the LATTE paper's
time-and-operations table.

Feature sets: ``baseline`` (draw every box: an axis-aligned drag, then rotate / resize / relabel as
needed), ``fusion`` (frustum proposals from the image detector's 2D boxes), ``oneclick`` (a click at
the object's nearest non-ground point), ``tracking`` (the Kalman prediction adjusted in the new frame,
for objects seen in the previous frame; drawing otherwise) and ``all`` (tracking, else fusion, else
one-click, with the class from the detector). A proposal needs: ``accept`` when it is within
tolerance, else one ``relabel`` / ``move`` / ``resize`` / ``rotate`` per wrong attribute.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from latte.core.config import LatteConfig, load_latte_config
from squeezeseg.boxes import Box3D, heading_error_deg

FEATURE_SETS = ("baseline", "fusion", "oneclick", "tracking", "all")


@dataclass(frozen=True)
class Tolerance:
    """How far a proposal may be off before the person corrects it."""

    center: float = 0.2  # metres (BEV)
    size: float = 0.2  # metres, length or width
    yaw_deg: float = 5.0  # degrees, modulo 180


def operations_for(proposal: Box3D | None, gt: Box3D, tol: Tolerance = Tolerance()) -> list[str]:
    """The operations that turn ``proposal`` into ``gt``.

    Drawing from scratch (``proposal`` None) is a create (class chosen, an axis-aligned drag), a
    rotate when the object is not axis-aligned, and a resize to refine the dragged extents.
    """
    if proposal is None:
        ops = ["create"]
        yaw = abs(float(np.angle(np.exp(4j * gt.yaw)))) / 4  # distance to the nearest axis
        if np.degrees(yaw) > tol.yaw_deg:
            ops.append("rotate")
        return [*ops, "resize"]
    ops = []
    if proposal.label != gt.label:
        ops.append("relabel")
    if np.hypot(*(np.asarray(proposal.center[:2]) - gt.center[:2])) > tol.center:
        ops.append("move")
    if np.max(np.abs(np.asarray(proposal.size[:2]) - gt.size[:2])) > tol.size:
        ops.append("resize")
    if heading_error_deg(proposal.yaw, gt.yaw) > tol.yaw_deg:
        ops.append("rotate")
    return ops or ["accept"]


@dataclass
class FeatureResult:
    objects: int = 0
    operations: Counter = field(default_factory=Counter)
    accepted: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return int(sum(self.operations.values()))


def _best(proposals: list[Box3D], gt: Box3D, min_iou: float = 0.1) -> Box3D | None:
    best, best_iou = None, min_iou
    for p in proposals:
        iou = p.bev_iou(gt)
        if iou > best_iou:
            best, best_iou = p, iou
    return best


def _click_point(points: np.ndarray, non_ground: np.ndarray, gt: Box3D) -> tuple[float, float] | None:
    inside = gt.contains(points) & non_ground
    if not inside.any():
        return None
    cand = np.flatnonzero(inside)
    d = np.hypot(points[cand, 0] - gt.center[0], points[cand, 1] - gt.center[1])
    p = points[cand[int(np.argmin(d))]]
    return float(p[0]), float(p[1])


def simulate(
    frames: list[tuple[np.ndarray | None, list[Box3D], list[Box3D]]],
    config: LatteConfig | str | None = None,
    tol: Tolerance = Tolerance(),
    min_points: int = 1,
    dt: float | None = None,
    times: list[float] | None = None,
    linked: Callable[[int, int], bool] | None = None,
) -> dict[str, FeatureResult]:
    """Operations per feature set over ``frames`` [(points or None, ground truth, detector proposals)].

    Frames are consecutive (tracking links boxes by ``track_id``) unless ``linked(i - 1, i)`` says
    otherwise; ``times`` are their times in seconds (default ``i * dt``). With points, tracking is
    what the app does on the next frame (:func:`latte.core.tracking.track_proposals`: ego-motion by
    scan registration, the Kalman filter, the object's points registered, rigid boxes re-centred);
    with ``points`` None (labels only) the one-click set falls back to drawing and tracking uses
    the Kalman prediction unadjusted. ``detector proposals`` are the fusion proposals of that frame
    (e.g. from :func:`latte.core.fusion.frustum_proposals`). Each result also holds the seconds the
    tool spent making its proposals (``seconds``).
    """
    from latte.core.ego_motion import EgoMotion
    from latte.core.oneclick import OneClickAnnotator

    cfg = load_latte_config(config)
    dt = cfg.tracking.dt if dt is None else dt
    time_of = (lambda i: times[i]) if times is not None else (lambda i: i * dt)
    linked = linked or (lambda a, b: True)
    with_points = all(f[0] is not None for f in frames)
    ann = OneClickAnnotator(cfg)
    ego = EgoMotion(lambda i: frames[i][0], cfg, time_of) if with_points and cfg.tracking.ego_motion else None
    results = {k: FeatureResult() for k in FEATURE_SETS}
    done: dict[int, list[Box3D]] = {}  # the person's (corrected) boxes per frame: the ground truth
    for i, (points, gts, proposals) in enumerate(frames):
        t0 = time.perf_counter()
        if points is not None:
            ann.set_frame(points)
        t_frame = time.perf_counter() - t0
        kept = [g for g in gts if points is None or min_points <= 1
                or int(g.contains(points).sum()) >= min_points]
        tracked_by_id, t_track = _tracked(kept, done, i, time_of, ann if points is not None else None, ego,
                                          linked, frames)
        for gt in kept:
            fused = _best(proposals, gt)
            clicked, t_click = None, 0.0
            if points is not None:
                t0 = time.perf_counter()
                xy = _click_point(points, ~ann.is_ground, gt)
                clicked = None if xy is None else ann.click(xy[0], xy[1])
                t_click = time.perf_counter() - t0
            tracked = tracked_by_id.get(gt.track_id)
            label_from_detector = fused.label if fused is not None else None
            combined = (
                tracked
                or fused
                or (
                    clicked.replace(label=label_from_detector or clicked.label)
                    if clicked is not None
                    else None
                )
            )
            share = t_track / max(len(tracked_by_id), 1) if tracked is not None else 0.0
            for name, prop, secs in (
                ("baseline", None, 0.0),
                ("fusion", fused, 0.0),
                ("oneclick", clicked, t_click + t_frame / max(len(kept), 1)),
                ("tracking", tracked, share + (t_frame / max(len(kept), 1) if tracked is not None else 0.0)),
                ("all", combined, share if tracked is not None else t_click),
            ):
                ops = operations_for(prop, gt, tol)
                r = results[name]
                r.objects += 1
                r.operations.update(ops)
                r.accepted += ops == ["accept"]
                r.seconds += secs
        done[i] = [g for g in kept if g.track_id is not None]  # the corrected boxes feed the tracker
    return results


def _tracked(gts, done, i, time_of, ann, ego, linked, frames) -> tuple[dict[int, Box3D], float]:
    """{track id: proposal} for frame ``i`` from the boxes done in frame ``i - 1``, and the seconds
    it took (the app's next-frame tracking)."""
    from latte.core.tracking import predict_track, track_proposals

    if i == 0 or not linked(i - 1, i):
        return {}, 0.0
    want = {g.track_id for g in gts if g.track_id is not None}
    t0 = time.perf_counter()
    if ann is None:  # labels only: the filter's prediction as it is
        out = {}
        for b in done.get(i - 1, []):
            if b.track_id in want:
                hist = [(time_of(j), x) for j in range(max(i - 10, 0), i) for x in done.get(j, [])
                        if x.track_id == b.track_id]
                out[b.track_id] = predict_track(hist, time_of(i))
        return out, time.perf_counter() - t0
    prev = [b for b in done.get(i - 1, []) if b.track_id in want]
    props = track_proposals(
        lambda j: prev if j == i - 1 else done.get(j, []) if j < i - 1 else [],
        i - 1, i, time_of, ann, ego, linked, points_of=lambda j: frames[j][0],
    )
    return {p.track_id: p for p in props}, time.perf_counter() - t0


def format_table(results: dict[str, FeatureResult]) -> str:
    """The operations table; ``tool ms/obj`` is the time the tool took to propose a box per object
    (one-click clustering and fit, tracking with registration), not a person's time."""
    ops = ("create", "accept", "move", "resize", "rotate", "relabel")
    head = f"{'features':<10}{'objects':>8}{'ops':>7}{'ops/obj':>9}{'accepted':>10}" + "".join(
        f"{o:>8}" for o in ops
    ) + f"{'tool ms/obj':>13}"
    rows = [head]
    for name, r in results.items():
        per = r.total / r.objects if r.objects else float("nan")
        acc = 100.0 * r.accepted / r.objects if r.objects else float("nan")
        ms = 1000.0 * r.seconds / r.objects if r.objects else float("nan")
        rows.append(
            f"{name:<10}{r.objects:>8}{r.total:>7}{per:>9.2f}{acc:>9.1f}%"
            + "".join(f"{r.operations.get(o, 0):>8}" for o in ops)
            + f"{ms:>13.1f}"
        )
    return "\n".join(rows)
