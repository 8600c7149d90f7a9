"""Pre-labelling a whole sequence without a person: detections (image detector or LiDAR
segmentation) -> fusion proposals -> one-click boxes -> tracking through the sequence -> labels.

Tracks are associated frame to frame by the Kalman-predicted centre (greedy, nearest first, within
``gate`` metres); a track with no proposal is carried by :func:`propagate_box` for up to
``max_missed`` frames while points support it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latte.core.config import LatteConfig, load_latte_config
from latte.core.detector import Detector
from latte.core.fusion import check_calib_image, frustum_proposals
from latte.core.nms import nms_boxes
from latte.core.oneclick import OneClickAnnotator
from latte.core.sequence import Sequence
from latte.core.tracking import BoxTracker, propagate_box
from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

ProposalSource = Callable[[OneClickAnnotator, Sequence, int], list[Box3D]]


def detector_source(detector: Detector) -> ProposalSource:
    """Proposals from an image detector through the frustums of its 2D boxes."""

    def source(ann: OneClickAnnotator, seq: Sequence, i: int) -> list[Box3D]:
        calib = seq.calib(i)
        if calib is None:
            raise InputError(f"camera fusion needs a calibration; frame {seq.frame_id(i)} has none", seq.root)
        image = seq.image(i)
        if image is not None:
            check_calib_image(calib, image.shape, str(seq.frames[i].calib or ""))
        size = None if image is None else (image.shape[1], image.shape[0])
        return frustum_proposals(ann, calib, detector.detect(image, seq.frame_id(i)), image_size=size)

    return source


def segmentation_source(model, class_names: list[str], min_points: int = 10) -> ProposalSource:
    """Proposals from a point segmenter (``predict_points``): DBSCAN instances of each class, fitted.

    ``class_names`` maps the model's class ids to LATTE classes (by name, case-insensitive);
    classes without a LATTE name are skipped.
    """

    def source(ann: OneClickAnnotator, seq: Sequence, i: int) -> list[Box3D]:
        pts = np.asarray(ann.points)
        labels = np.asarray(model.predict_points(pts))
        return segmentation_proposals(ann, labels, list(getattr(model, "classes", [])), min_points)

    return source


def segmentation_proposals(
    ann: OneClickAnnotator, labels: np.ndarray, names: list[str], min_points: int = 10
) -> list[Box3D]:
    """Boxes fitted to the DBSCAN instances of a segmenter's per-point ``labels`` (ids into the
    model's class ``names``) on the annotator's frame; classes LATTE does not know are skipped."""
    from squeezeseg.instances import dbscan_instances

    pts = np.asarray(ann.points)
    skip = [k for k, n in enumerate(names) if ann.config.class_config(n) is None]
    inst = dbscan_instances(pts[:, :3], labels, background=skip or (0,))
    out = []
    for k in np.unique(inst[inst > 0]):
        idx = np.flatnonzero(inst == k)
        if len(idx) < min_points:
            continue
        name = names[int(labels[idx[0]])] if names else None
        cls = ann.config.class_config(name) if name else None
        out.append(ann.fit(idx, cls.name if cls else None))
    return out


def class_lookup(model_classes: list[str], class_names: list[str]) -> np.ndarray:
    """Index into ``class_names`` (-1 for none) of each of a segmenter's classes, matched by name as the
    taxonomy spells it (``squeezeseg.classes.match_class``: "cars" and "Car", "person" and "Pedestrian")."""
    from squeezeseg.classes import match_class

    hits = [match_class(n, class_names) for n in model_classes]
    return np.array([-1 if h is None else list(class_names).index(h) for h in hits] or [-1], dtype=np.int64)


@dataclass
class _Live:
    box: Box3D
    missed: int = 0


def prelabel_sequence(
    seq: Sequence,
    source: ProposalSource,
    config: LatteConfig | str | None = None,
    gate: float = 2.0,
    max_missed: int = 2,
    progress: bool = False,
    track: bool = True,
) -> dict[int, list[Box3D]]:
    """{frame index: boxes with track ids} for every frame of ``seq`` (``track=False``: every
    box is its own track and nothing is carried between frames)."""
    cfg = load_latte_config(config)
    ann = OneClickAnnotator(cfg)
    tracker = BoxTracker(cfg)
    live: dict[int, _Live] = {}
    next_track = 0
    out: dict[int, list[Box3D]] = {}
    frames = range(len(seq))
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc=f"prelabel {seq.name}", unit="frame")
    for i in frames:
        t = i * cfg.tracking.dt
        ann.set_frame(seq.points(i))
        proposals = nms_boxes(source(ann, seq, i))   # one proposal per object
        if not track:
            live.clear()
        preds = {tid: tracker.predict(tid, t) for tid in live}
        pairs = sorted(
            (float(np.hypot(*(np.asarray(p.center[:2]) - preds[tid].center[:2]))), k, tid)
            for k, p in enumerate(proposals)
            for tid in preds
            if p.label == preds[tid].label
        )
        used_p, used_t, boxes = set(), set(), []
        for d, k, tid in pairs:
            if d > gate or k in used_p or tid in used_t:
                continue
            used_p.add(k)
            used_t.add(tid)
            boxes.append(proposals[k].replace(track_id=tid))
        for k, p in enumerate(proposals):
            if k not in used_p:
                boxes.append(p.replace(track_id=next_track))
                next_track += 1
        for tid, lv in list(live.items()):
            if tid in used_t:
                continue
            lv.missed += 1
            prop = propagate_box(preds[tid], ann)
            if lv.missed > max_missed or prop.point_indices is None or len(prop.point_indices) < 3:
                del live[tid]
                tracker.remove(tid)
                continue
            boxes.append(prop.replace(track_id=tid))
        for b in boxes:
            tracker.update(b.track_id, b, t)
            if b.track_id in live:
                live[b.track_id].box = b
                if b.track_id in used_t:
                    live[b.track_id].missed = 0
            else:
                live[b.track_id] = _Live(b)
        out[i] = [b.replace(point_indices=None) for b in boxes]
    return out
