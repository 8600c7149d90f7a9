"""Camera fusion (LATTE): LiDAR points projected into the image (P2 . R0_rect . Tr_velo_to_cam),
per-point pre-labels from 2D detections or instance masks, 3D box proposals from the points in each
detection's frustum, and the image crop of a box for the annotator to confirm its class."""

from __future__ import annotations

import numpy as np

from latte.core.detector import Detection2D
from squeezeseg.boxes import Box3D
from squeezeseg.calib import KittiCalib, project_points  # noqa: F401 - project_points is part of this API
from squeezeseg.errors import InputError


def check_calib_image(calib: KittiCalib, image_shape: tuple[int, ...], source: str = "") -> None:
    """Raise InputError when the calibration cannot belong to an image of ``image_shape`` (H, W, ...).

    The principal point of P2 must lie inside the image and a known calibration image size must match.
    """
    H, W = int(image_shape[0]), int(image_shape[1])
    cx, cy = calib.P2[0, 2], calib.P2[1, 2]
    path = source or calib.source or None
    if calib.image_size is not None and tuple(calib.image_size) != (W, H):
        raise InputError(
            f"calibration is for a {calib.image_size[0]}x{calib.image_size[1]} image "
            f"but the image is {W}x{H}",
            path,
        )
    if not (0 < cx < W and 0 < cy < H):
        raise InputError(
            f"calibration principal point ({cx:.0f}, {cy:.0f}) lies outside the "
            f"{W}x{H} image: calibration and image do not match",
            path,
        )


def box_image_box(
    box: Box3D, calib: KittiCalib, image_size: tuple[int, int] | None = None
) -> np.ndarray | None:
    """(left, top, right, bottom) of the projected 3D box, clipped to the image; None behind the camera."""
    return box.image_box(calib, image_size or calib.image_size)


def iou_2d(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def points_in_detection(uv: np.ndarray, in_image: np.ndarray, det: Detection2D) -> np.ndarray:
    """(N,) bool: points whose projection falls inside the detection's box (and mask, if any)."""
    l, t, r, b = det.box
    m = in_image & (uv[:, 0] >= l) & (uv[:, 0] <= r) & (uv[:, 1] >= t) & (uv[:, 1] <= b)
    if det.mask is not None and m.any():
        idx = np.flatnonzero(m)
        u = np.clip(uv[idx, 0].astype(int), 0, det.mask.shape[1] - 1)
        v = np.clip(uv[idx, 1].astype(int), 0, det.mask.shape[0] - 1)
        m[idx[~det.mask[v, u]]] = False
    return m


def prelabel_points(
    points: np.ndarray,
    calib: KittiCalib,
    detections: list[Detection2D],
    class_names: list[str],
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """(N,) int per-point pre-labels: 1 + index into ``class_names`` of the detection each point
    projects into (the highest-scoring one where detections overlap), 0 for none."""
    uv, ok = project_points(points, calib, image_size)
    out = np.zeros(len(points), dtype=np.int32)
    best = np.full(len(points), -np.inf)
    lookup = {n.lower(): i for i, n in enumerate(class_names)}
    for det in detections:
        k = lookup.get(det.label.lower())
        if k is None:
            continue
        m = points_in_detection(uv, ok, det) & (det.score > best)
        out[m] = k + 1
        best[m] = det.score
    return out


def frustum_proposals(
    annotator,
    calib: KittiCalib,
    detections: list[Detection2D],
    min_score: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> list[Box3D]:
    """3D box proposals from the non-ground points in each detection's frustum.

    ``annotator`` is a OneClickAnnotator already set to the frame. Per detection: the frustum's
    non-ground points are clustered by one-click growth, the cluster that best explains the 2D box
    is kept and fitted; detections with too few points give no proposal.
    """
    cfg = annotator.config.fusion
    min_score = cfg.score_threshold if min_score is None else min_score
    pts = np.asarray(annotator.points)
    obj_idx = annotator._obj_idx
    uv, ok = project_points(pts[obj_idx], calib, image_size)
    out = []
    for det in detections:
        if det.score < min_score:
            continue
        sel = obj_idx[points_in_detection(uv, ok, det)]
        if len(sel) < cfg.min_points:
            continue
        box = _dominant_cluster_box(annotator, sel, det, calib, image_size)
        if box is not None:
            out.append(box.replace(score=det.score))
    return out


def _dominant_cluster_box(
    annotator,
    sel: np.ndarray,
    det: Detection2D,
    calib: KittiCalib,
    image_size: tuple[int, int] | None,
    tries: int = 5,
) -> Box3D | None:
    """Fit the object that explains the detection among the frustum points ``sel``.

    One-click clusters are grown from the nearest remaining frustum point outwards (up to
    ``tries``); the winner is the cluster whose projected extent best matches the 2D box (IoU), so
    background seen around the object (a wall spilling out of the box) loses to the object itself.
    Only the winner's points inside the frustum are fitted.
    """
    pts = np.asarray(annotator.points)
    order = np.argsort(np.hypot(pts[sel, 0], pts[sel, 1]))
    remaining = np.ones(len(sel), bool)
    best, best_score = np.zeros(0, np.int64), 0.0
    for _ in range(tries):
        left = order[remaining[order]]
        if len(left) == 0:
            break
        j = left[0]
        cluster = annotator.cluster(float(pts[sel[j], 0]), float(pts[sel[j], 1]), det.label)
        remaining &= ~np.isin(sel, cluster)
        remaining[j] = False
        if len(cluster) < annotator.config.oneclick.min_points:
            continue
        uv, ok = project_points(pts[cluster], calib, image_size)
        if not ok.any():
            continue
        extent = np.array([uv[ok, 0].min(), uv[ok, 1].min(), uv[ok, 0].max(), uv[ok, 1].max()])
        score = iou_2d(extent, np.asarray(det.box))
        if score > best_score:
            best, best_score = np.intersect1d(cluster, sel), score
    if len(best) < annotator.config.oneclick.min_points:
        return None
    return annotator.fit(best, det.label)


def crop_box_image(
    image: np.ndarray, box: Box3D, calib: KittiCalib, margin: float = 0.1
) -> np.ndarray | None:
    """The image region of ``box`` grown by ``margin`` of its size on each side; None when not visible."""
    H, W = image.shape[:2]
    b = box.image_box(calib, (W, H))
    if b is None:
        return None
    dw, dh = (b[2] - b[0]) * margin, (b[3] - b[1]) * margin
    l, t = int(max(0, np.floor(b[0] - dw))), int(max(0, np.floor(b[1] - dh)))
    r, bt = int(min(W, np.ceil(b[2] + dw) + 1)), int(min(H, np.ceil(b[3] + dh) + 1))
    if r - l < 2 or bt - t < 2:
        return None
    return image[t:bt, l:r].copy()
