"""How tightly a detector's boxes fit: for each ground-truth object KITTI scores, the best IoU of any
detection of its class and how that detection's centre and size are off. AP at IoU 0.7 needs tight
boxes; this separates "found but loose" from "not found" (issue #23)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from squeezeseg.detection.box2d import iou_matrix, xyxy_to_cxcywh
from squeezeseg.detection.kitti_eval import DIFFICULTIES, within_difficulty
from squeezeseg.detection.labels import Object2D

#: Box-height bands (pixels at the image's own size) of :meth:`Localisation.by_height`; KITTI's moderate
#: difficulty starts at 25 px.
HEIGHT_EDGES = (25.0, 35.0, 50.0, 80.0, float("inf"))


@dataclass
class Localisation:
    """Per ground-truth object: its box height in pixels, best IoU (0 when no detection of the class) and,
    for the detection that gives it, centre offsets relative to the object's size and log size ratios
    (nan when none)."""

    height: np.ndarray
    best_iou: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    log_w: np.ndarray
    log_h: np.ndarray

    def summary(self, matched_iou: float = 0.3) -> dict:
        """Share of objects with best IoU >= 0.5 and >= 0.7, median best IoU, and the median offsets
        over the objects whose best IoU exceeds ``matched_iou`` (the systematic part of the error)."""
        n = len(self.best_iou)
        out = {"objects": n}
        if n == 0:
            return out
        m = self.best_iou > matched_iou
        out.update(
            median_best_iou=float(np.median(self.best_iou)),
            share_iou05=float(np.mean(self.best_iou >= 0.5)),
            share_iou07=float(np.mean(self.best_iou >= 0.7)),
            matched=int(m.sum()),
        )
        for key in ("dx", "dy", "log_w", "log_h"):
            out[f"median_{key}"] = float(np.median(getattr(self, key)[m])) if m.any() else None
        return out

    def by_height(self, edges: tuple[float, ...] = HEIGHT_EDGES) -> dict:
        """:meth:`summary` of the objects in each box-height band ``[edges[i], edges[i+1])`` pixels,
        keyed "lo-hi px": whether small boxes (resolution) or mid-size ones (generalisation) are loose."""
        out = {}
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            keep = (self.height >= lo) & (self.height < hi)
            part = Localisation(*(getattr(self, f.name)[keep] for f in fields(self)))
            out[f"{lo:g}-{hi:g} px"] = part.summary()
        return out


def scored(o: Object2D, cls: str, difficulty: str) -> bool:
    """Whether KITTI's evaluation scores ground-truth ``o`` as ``cls`` at ``difficulty``."""
    return o.label.lower() == cls.lower() and within_difficulty(o, DIFFICULTIES.index(difficulty))


def localisation(
    gts: list[list[Object2D]], dets: list[list[Object2D]], cls: str = "Car", difficulty: str = "moderate"
) -> Localisation:
    """Best-IoU match of every ``cls`` ground-truth box that KITTI scores at ``difficulty`` among the same
    frame's ``cls`` detections, whatever their score."""
    rows = []
    for gt, det in zip(gts, dets, strict=True):
        scored_gt = [o for o in gt if scored(o, cls, difficulty)]
        g = np.array([o.box for o in scored_gt]).reshape(-1, 4)
        heights = [o.height for o in scored_gt]
        d = np.array([o.box for o in det if o.label.lower() == cls.lower()]).reshape(-1, 4)
        if len(g) == 0:
            continue
        if len(d) == 0:
            rows.extend([h, 0.0, *[np.nan] * 4] for h in heights)
            continue
        iou = iou_matrix(g, d)
        best = iou.argmax(axis=1)
        gc, dc = xyxy_to_cxcywh(g), xyxy_to_cxcywh(d[best])
        for i, j in enumerate(best):
            if iou[i, j] <= 0:
                rows.append([heights[i], 0.0, *[np.nan] * 4])
                continue
            rows.append([
                heights[i],
                iou[i, j],
                (dc[i, 0] - gc[i, 0]) / gc[i, 2],
                (dc[i, 1] - gc[i, 1]) / gc[i, 3],
                np.log(dc[i, 2] / gc[i, 2]),
                np.log(dc[i, 3] / gc[i, 3]),
            ])
    n = len(fields(Localisation))
    r = np.array(rows, dtype=np.float64).reshape(-1, n)
    return Localisation(*(r[:, k] for k in range(n)))
