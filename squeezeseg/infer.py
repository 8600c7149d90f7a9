"""Inference on scan files: project, segment, unproject to every point, DBSCAN instances, then a
SemanticKITTI ``.label`` file (class ids in SemanticKITTI numbering) and a PNG per scan."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

# Model class names -> SemanticKITTI ids written to .label files (everything else: 0 "unlabeled").
NAME_TO_SEMANTICKITTI = {"car": 10, "pedestrian": 30, "person": 30, "cyclist": 31, "bicyclist": 31}


def scan_stem(path: Path) -> str:
    """Output name of a scan: the file name up to the first dot (``000000.bin``, ``x.pcd.bin`` -> ``x``)."""
    return path.name.split(".")[0] or path.stem


def semantickitti_ids(class_names: Sequence[str]) -> np.ndarray:
    """(C,) SemanticKITTI id of each model class."""
    return np.array([NAME_TO_SEMANTICKITTI.get(n.lower(), 0) for n in class_names], np.uint16)


def render_png(points: np.ndarray, classes: np.ndarray, image: np.ndarray, image_labels: np.ndarray):
    """Range image panel (depth, intensity, classes) above a bird's-eye view coloured by class."""
    from squeezeseg.visualize import bev_image, range_image_panel

    top = range_image_panel(image, image_labels, scale=2)
    bev = bev_image(points, classes, x_range=(-40.0, 40.0), y_range=(-40.0, 40.0), resolution=0.1)
    w = max(top.shape[1], bev.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)))  # noqa: E731
    return np.concatenate([pad(top), np.full((4, w, 3), 255, np.uint8), pad(bev)], axis=0)


def infer_scans(segmenter, scans: Sequence[str | Path], out_dir: str | Path, png: bool = True,
                progress: bool = True) -> list[Path]:
    """Segment every scan into ``out_dir/<name>.label`` (+ ``<name>.png``); returns the label paths.

    Unreadable scans are InputErrors naming the file; two scans with the same name are refused
    before anything is written.
    """
    from tqdm import tqdm

    from squeezeseg.instances import dbscan_instances
    from squeezeseg.io import read_points, write_semantickitti_labels

    paths = [Path(s) for s in scans]
    if not paths:
        raise InputError("no scans given")
    names = [scan_stem(p) for p in paths]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"several scans would write '{dup[0]}.label'; run them into separate --out folders")
    out = Path(out_dir)
    ids = semantickitti_ids(segmenter.classes)
    written = []
    for path, name in tqdm(list(zip(paths, names)), desc="infer", unit="scan", disable=not progress):
        points = read_points(path)
        classes = segmenter.predict_points(points)
        instances = dbscan_instances(points[:, :3], classes)
        label_path = out / f"{name}.label"
        write_semantickitti_labels(label_path, ids[classes], instances.astype(np.uint16))
        written.append(label_path)
        if png:
            from squeezeseg.visualize import save_png

            ri = segmenter.projection.project(points[:, :4])
            image_labels = segmenter.predict_range_image(ri.image[..., :5])
            save_png(out / f"{name}.png", render_png(points, classes, ri.image, image_labels))
        counts = np.bincount(classes, minlength=len(segmenter.classes))
        log.info("%s: %s", path.name, ", ".join(f"{n} {c}" for n, c in zip(segmenter.classes, counts)))
    return written
