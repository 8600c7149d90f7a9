"""Inference on scan files: project, segment, unproject to every point, group instances on the range
image, then a SemanticKITTI ``.label`` file (class ids in SemanticKITTI numbering) and a PNG per scan.

The work runs as a pipeline: a reader thread reads and projects the next scans while the network runs
on the current batch, and a writer thread maps labels back to the points, groups instances and writes
the files of the previous one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from squeezeseg.classes import semantickitti_ids
from squeezeseg.errors import InputError
from squeezeseg.io import scan_stem

log = logging.getLogger(__name__)

PNG_COMPRESSION = 1  # zlib level: a 1200 x 800 panel in ~10 ms instead of ~50 ms at PIL's default


def render_png(points: np.ndarray, classes: np.ndarray, image: np.ndarray, image_labels: np.ndarray):
    """Range image panel (depth, intensity, classes) above a bird's-eye view coloured by class."""
    from squeezeseg.visualize import bev_image, range_image_panel

    top = range_image_panel(image, image_labels, scale=2)
    bev = bev_image(points, classes, x_range=(-40.0, 40.0), y_range=(-40.0, 40.0), resolution=0.1)
    w = max(top.shape[1], bev.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)))  # noqa: E731
    return np.concatenate([pad(top), np.full((4, w, 3), 255, np.uint8), pad(bev)], axis=0)


def output_names(paths: Sequence[Path]) -> list[str]:
    """Output stem of every scan; two scans with one name are an InputError (before any work)."""
    names = [scan_stem(p) for p in paths]
    seen: dict[str, Path] = {}
    for p, n in zip(paths, names):
        if n in seen:
            raise InputError(f"{seen[n]} and {p} would both write '{n}.label'; run them into separate "
                             "--out folders")
        seen[n] = p
    return names


def infer_scans(segmenter, scans: str | Path | Sequence[str | Path], out_dir: str | Path, png: bool = True,
                progress: bool = True, batch: int = 1, prefetch: int = 2) -> list[Path]:
    """Segment every scan into ``out_dir/<name>.label`` (+ ``<name>.png``); returns the label paths.

    ``scans`` are files or folders (their scan files in name order). ``batch`` scans go through the
    network together. Unreadable scans are InputErrors naming the file; two scans with the same name
    are refused before anything is written. Every file is written atomically, so an interrupted run
    leaves whole files only.
    """
    from tqdm import tqdm

    from squeezeseg.segmenter import _prefetch, scan_paths

    paths = scan_paths(scans)
    names = output_names(paths)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output folder is a file", out)
    out.mkdir(parents=True, exist_ok=True)
    ids = semantickitti_ids(segmenter.classes)
    written: list[Path] = []
    pending: deque[Future] = deque()
    threading.Thread(target=warm_up_instances, name="squeezeseg-warm-up", daemon=True).start()
    bar = tqdm(total=len(paths), desc="infer", unit="scan", disable=not progress, smoothing=0.1)
    i = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="squeezeseg-writer") as writer:
        try:
            for group in _prefetch(segmenter.prepare_files(paths, batch), prefetch):
                for prep, logits in zip(group, segmenter.run_batch(group)):
                    label_path = out / f"{names[i]}.label"
                    pending.append(writer.submit(_finish_and_write, segmenter, prep, logits, ids, label_path,
                                                 out / f"{names[i]}.png" if png else None))
                    i += 1
                while len(pending) > 2 * batch:  # bounded memory; errors surface here
                    written.append(pending.popleft().result())
                    bar.update(1)
            while pending:
                written.append(pending.popleft().result())
                bar.update(1)
        finally:
            for f in pending:
                f.cancel()
            bar.close()
    return written


def warm_up_instances() -> None:
    """Import the instance grouping and load its compiled loops (numba: about a second) on a tiny
    image, in a thread of its own while the first scan is read and segmented, so the writer does
    not start on it after the first network pass. A failure here is left to the writer to report."""
    try:
        from squeezeseg.instances import range_image_instances

        image = np.zeros((2, 4, 5), np.float32)
        image[..., 4] = 10.0
        range_image_instances(image, np.ones((2, 4), np.int32), full_circle=True)
    except Exception as exc:  # noqa: BLE001  (the real call raises it again where it is handled)
        log.debug("instance warm-up failed: %s", exc)


def _finish_and_write(segmenter, prep, logits, ids: np.ndarray, label_path: Path,
                      png_path: Path | None) -> Path:
    """Writer thread: classes and instances of every point, the .label file and the PNG."""
    from squeezeseg.io import write_semantickitti_labels

    res = segmenter.finish(prep, logits, instances=True)
    write_semantickitti_labels(label_path, ids[res.classes], res.instances.astype(np.uint16))
    if png_path is not None:
        save_png(png_path, render_png(res.points, res.classes, *res.front()))
    counts = np.bincount(res.classes, minlength=len(segmenter.classes))
    n_inst = int(res.instances.max()) if len(res.instances) else 0
    log.debug("%s: %s; %d instances", res.source, ", ".join(f"{n} {c}" for n, c in
                                                             zip(segmenter.classes, counts)), n_inst)
    return label_path


def save_png(path: Path, rgb: np.ndarray) -> None:
    """An (H, W, 3) uint8 PNG written atomically, with fast compression."""
    from PIL import Image

    from squeezeseg.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(rgb, np.uint8)).save(tmp, format="PNG", compress_level=PNG_COMPRESSION)
