"""Model pre-labels of one frame, computed in a separate process.

The desktop app never imports TensorFlow: next to Qt drawing through Mesa's LLVM, TensorFlow's
static initialisers crash the process. The app starts ``python -m latte.core.model_worker FD`` (a
fresh interpreter: nothing of the GUI process is inherited), which runs :func:`serve` on the
inherited socket ``FD``; the app sends it requests and gets back plain data (NumPy arrays, strings,
numbers). This module never imports Qt, and TensorFlow is imported only inside the worker, when a
model is first loaded.

Protocol on the socket (``multiprocessing.connection.Connection`` messages, plain data):

- request: ``dict(points, image, calib, config, source, frame_id)``; ``None`` ends the worker;
- replies: ``("progress", fraction, text)`` any number of times, then ``("result", dict)`` (see
  :func:`prelabel_frame`) or ``("error", text)``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable

import numpy as np

from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

Progress = Callable[[float, str], None]
SOURCES = ("auto", "detector", "segmentation")
BOTH = "detector+segmentation"  # what "auto" runs on a frame with a camera


def _no_progress(fraction: float, text: str) -> None:
    pass


def resolve_source(source: str, has_camera: bool) -> str:
    """'auto' is both models where the frame has a camera image and calibration (the image detector
    sees the camera's view only, the segmenter the whole circle), else the segmenter."""
    if source not in (*SOURCES, BOTH):
        raise ValueError(f"unknown pre-label source {source!r}; expected one of {', '.join(SOURCES)}")
    if source == "auto":
        return BOTH if has_camera else "segmentation"
    return source


def uses_detector(source: str) -> bool:
    """Whether a resolved source runs the image detector (and so needs the image and calibration)."""
    return source in ("detector", BOTH)


class Models:
    """The models of one worker, each loaded on first use and kept (TensorFlow starts here)."""

    def __init__(self) -> None:
        self._cache: dict[str, object] = {}

    def get(self, kind: str):
        if kind not in self._cache:
            if kind == "detector":
                from latte.core.squeezedet_detector import squeezedet_detector

                self._cache[kind] = squeezedet_detector()
            else:
                import squeezeseg

                self._cache[kind] = squeezeseg.load_model()
        return self._cache[kind]


def prelabel_frame(
    points: np.ndarray,
    image: np.ndarray | None,
    calib,
    config=None,
    source: str = "auto",
    frame_id: str = "",
    models: Models | None = None,
    progress: Progress = _no_progress,
) -> dict:
    """Pre-labels of one frame: box proposals (duplicates suppressed, :mod:`latte.core.nms`) and
    per-point class ids. Returns plain data:

    ``source`` ("detector", "segmentation" or both: :data:`BOTH`), ``boxes`` (K, 7) float64 rows
    x, y, z, l, w, h, yaw, ``labels`` (K class names), ``scores`` (K,) float64 (NaN where none),
    ``support`` (K,) int
    (points each box was fitted to), ``point_labels`` (N,) int16 (index into the config's class
    list, -1 for none), ``n_raw`` (proposals before duplicate suppression), ``pairs`` (overlapping
    proposal pairs before/after suppression: "raw"/"kept" above the NMS overlap, "raw_any"/"kept_any"
    any overlap), ``seconds`` (dict of stage times), ``pid`` (the process that ran the model).
    """
    from latte.core import fusion, prelabel
    from latte.core.config import load_latte_config
    from latte.core.nms import nms_boxes, overlapping_pairs
    from latte.core.oneclick import OneClickAnnotator

    models = models or Models()
    cfg = load_latte_config(config)
    class_names = list(cfg.class_names)
    points = np.asarray(points, dtype=np.float32)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    source = resolve_source(source, image is not None and calib is not None)
    progress(0.05, "preparing the frame (ground removal)")
    ann = OneClickAnnotator(cfg)
    ann.set_frame(points)
    seconds["ground"] = time.perf_counter() - t0
    props, point_labels = [], None
    if uses_detector(source):
        if image is None or calib is None:
            raise InputError("the image detector needs a camera image and calibration; this frame has none")
        fusion.check_calib_image(calib, image.shape, getattr(calib, "source", ""))
        progress(0.15, "loading SqueezeDet (TensorFlow)")
        t = time.perf_counter()
        detector = models.get("detector")
        seconds["load"] = time.perf_counter() - t
        progress(0.4, "detecting objects in the camera image")
        t = time.perf_counter()
        dets = detector.detect(image, frame_id)
        seconds["model"] = time.perf_counter() - t
        progress(0.5, f"fitting boxes to {len(dets)} detections")
        size = (image.shape[1], image.shape[0])
        props += fusion.frustum_proposals(ann, calib, dets, image_size=size)
        point_labels = fusion.prelabel_points(points, calib, dets, class_names, size) - 1
    if source != "detector":
        progress(0.6, "loading SqueezeSeg (TensorFlow)")
        t = time.perf_counter()
        model = models.get("segmentation")
        seconds["load"] = seconds.get("load", 0.0) + time.perf_counter() - t
        progress(0.7, "segmenting the points")
        t = time.perf_counter()
        labels = np.asarray(model.predict_points(points))
        seconds["model"] = seconds.get("model", 0.0) + time.perf_counter() - t
        progress(0.8, "fitting boxes to the segmented objects")
        names = list(getattr(model, "classes", []))
        props += prelabel.segmentation_proposals(ann, labels, names)
        lut = prelabel.class_lookup(names, class_names)
        point_labels = lut[np.clip(labels, 0, len(lut) - 1)]  # all around, not only the camera's view
    t = time.perf_counter()
    kept = nms_boxes(props)
    pairs = {"raw": len(overlapping_pairs(props)), "kept": len(overlapping_pairs(kept)),
             "raw_any": len(overlapping_pairs(props, 0.0)), "kept_any": len(overlapping_pairs(kept, 0.0))}
    seconds["fit"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    progress(1.0, f"{len(kept)} proposals")
    return {
        **boxes_to_arrays(kept),
        "source": source,
        "point_labels": np.asarray(point_labels, dtype=np.int16),
        "n_raw": len(props),
        "pairs": pairs,
        "seconds": seconds,
        "pid": os.getpid(),
    }


def boxes_to_arrays(boxes: list[Box3D]) -> dict:
    """Plain-data form of boxes (see :func:`prelabel_frame`), for a pipe between processes."""
    return {
        "boxes": np.array([[*b.center, *b.size, b.yaw] for b in boxes], dtype=np.float64).reshape(-1, 7),
        "labels": [b.label for b in boxes],
        "scores": np.array([np.nan if b.score is None else b.score for b in boxes], dtype=np.float64),
        "support": np.array([0 if b.point_indices is None else len(b.point_indices) for b in boxes],
                            dtype=np.int64),
    }


def arrays_to_boxes(result: dict) -> list[Box3D]:
    """Box3D proposals (with scores, without point indices) of a :func:`prelabel_frame` result."""
    out = []
    rows = np.asarray(result["boxes"], dtype=np.float64).reshape(-1, 7)
    for row, label, score in zip(rows, result["labels"], result["scores"]):
        out.append(Box3D(center=row[:3], size=row[3:6], yaw=float(row[6]), label=str(label),
                         score=None if np.isnan(score) else float(score)))
    return out


def serve(conn) -> None:
    """Worker main loop: answer pre-label requests on ``conn`` until ``None`` or the pipe closes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    models = Models()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):   # the app went away
            return
        if request is None:
            return
        try:
            try:
                reply = ("result", prelabel_frame(
                    request["points"], request.get("image"), request.get("calib"), request.get("config"),
                    request.get("source", "auto"), request.get("frame_id", ""), models,
                    lambda f, text: conn.send(("progress", float(f), str(text))),
                ))
            except (InputError, ValueError) as exc:
                reply = ("error", str(exc))
            except Exception as exc:  # noqa: BLE001 - a model failure is reported to the app, not fatal
                reply = ("error", f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=6)}")
            conn.send(reply)
        except (BrokenPipeError, EOFError, ConnectionError):   # the app went away
            return


def main(argv: list[str] | None = None) -> int:
    """``python -m latte.core.model_worker FD``: serve requests on the inherited socket FD."""
    import sys
    from multiprocessing.connection import Connection

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m latte.core.model_worker FD (started by the LATTE app)", file=sys.stderr)
        return 2
    serve(Connection(int(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
