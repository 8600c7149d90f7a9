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

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from latte.core.config import LatteConfig, load_latte_config
from squeezeseg.boxes import Box3D

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
    if np.degrees(abs(float(np.angle(np.exp(2j * (proposal.yaw - gt.yaw))))) / 2) > tol.yaw_deg:
        ops.append("rotate")
    return ops or ["accept"]


@dataclass
class FeatureResult:
    objects: int = 0
    operations: Counter = field(default_factory=Counter)
    accepted: int = 0

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
) -> dict[str, FeatureResult]:
    """Operations per feature set over ``frames`` [(points or None, ground truth, detector proposals)].

    Frames are consecutive (tracking links boxes by ``track_id``). With ``points`` None (labels
    only) the one-click set falls back to drawing and tracking uses the prediction unadjusted.
    ``detector proposals`` are the fusion proposals of that frame (e.g. from
    :func:`latte.core.fusion.frustum_proposals`).
    """
    from latte.core.oneclick import OneClickAnnotator
    from latte.core.tracking import BoxTracker, propagate_box

    cfg = load_latte_config(config)
    dt = cfg.tracking.dt if dt is None else dt
    ann = OneClickAnnotator(cfg)
    tracker = BoxTracker(cfg)
    results = {k: FeatureResult() for k in FEATURE_SETS}
    prev_tracks: set[int] = set()
    for i, (points, gts, proposals) in enumerate(frames):
        t = i * dt
        if points is not None:
            ann.set_frame(points)
        seen: set[int] = set()
        for gt in gts:
            if points is not None and min_points > 1 and int(gt.contains(points).sum()) < min_points:
                continue
            fused = _best(proposals, gt)
            clicked = None
            if points is not None:
                xy = _click_point(points, ~ann.is_ground, gt)
                clicked = None if xy is None else ann.click(xy[0], xy[1])
            tracked = None
            if gt.track_id is not None and gt.track_id in prev_tracks:
                pred = tracker.predict(gt.track_id, t)
                tracked = propagate_box(pred, ann) if points is not None else pred
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
            for name, prop in (
                ("baseline", None),
                ("fusion", fused),
                ("oneclick", clicked),
                ("tracking", tracked),
                ("all", combined),
            ):
                ops = operations_for(prop, gt, tol)
                r = results[name]
                r.objects += 1
                r.operations.update(ops)
                r.accepted += ops == ["accept"]
            if gt.track_id is not None:
                tracker.update(gt.track_id, gt, t)  # the person's corrected box is the next observation
                seen.add(gt.track_id)
        prev_tracks = seen
    return results


def format_table(results: dict[str, FeatureResult]) -> str:
    ops = ("create", "accept", "move", "resize", "rotate", "relabel")
    head = f"{'features':<10}{'objects':>8}{'ops':>7}{'ops/obj':>9}{'accepted':>10}" + "".join(
        f"{o:>8}" for o in ops
    )
    rows = [head]
    for name, r in results.items():
        per = r.total / r.objects if r.objects else float("nan")
        acc = 100.0 * r.accepted / r.objects if r.objects else float("nan")
        rows.append(
            f"{name:<10}{r.objects:>8}{r.total:>7}{per:>9.2f}{acc:>9.1f}%"
            + "".join(f"{r.operations.get(o, 0):>8}" for o in ops)
        )
    return "\n".join(rows)
