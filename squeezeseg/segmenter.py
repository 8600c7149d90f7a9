"""The segmenter behind :func:`squeezeseg.load_model`: a trained network plus the projection it was
trained with, so callers hand in points or range images and get class ids back.

``load_model()`` with no path loads the shipped default (``squeezeseg/weights/default.keras``).

A model trained on a front window (90 degrees) covers the whole circle: the scan is projected once
to a full-circle image of ``360 / fov`` windows side by side, and all windows go through the network
as one batch. :meth:`Segmenter.stream` runs a sequence of scans with reading and projection in a
background thread, overlapped with the network.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.models.config import ModelConfig

log = logging.getLogger(__name__)
OUT_OF_RANGE_M = 1e4  # metres; no LiDAR return is farther: such points are corrupt values
MIN_RANGE_M = 1e-3  # squeezeseg.projection.MIN_RANGE: closer points are no return
#: Share of a full-circle scan's points outside the elevations of the model's sensor above which
#: the scan is reported as another sensor's: real HDL-64E scans have none there, an Ouster OS1-128
#: scan 56-65 %, a nuScenes 32-beam scan 38 %; those points are left unsegmented (class 0).
OTHER_SENSOR_SHARE = 0.25


@dataclass
class ScanPrediction:
    """One segmented scan: classes (and instances) of every point, and the range image they came from.

    ``image`` (H, W', 6) and ``image_labels`` / ``image_instances`` (H, W') cover the full circle
    (``W' = 360 / fov * width``) when the model's window divides it, else the model's window.
    """

    points: np.ndarray  # (N, >=4) as given
    classes: np.ndarray  # (N,) int32
    image: np.ndarray  # (H, W', 6) float32
    image_labels: np.ndarray  # (H, W') int32
    instances: np.ndarray | None = None  # (N,) int32, 0: background or noise
    image_instances: np.ndarray | None = None  # (H, W') int32
    source: Path | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # NaN/inf, out of range, zero range
    front_cols: np.ndarray | None = None  # columns of the model's front window in ``image``

    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 6) image and (H, W) labels of the front window (the whole image when it is one)."""
        if self.front_cols is None:
            return self.image, self.image_labels
        return self.image[:, self.front_cols], self.image_labels[:, self.front_cols]


@dataclass
class _Prepared:
    """A projected scan waiting for the network (made in the reader thread)."""

    points: np.ndarray
    keep: np.ndarray | None  # indices of the valid points, None when all are
    ri: object  # RangeImage of the valid points
    windows: np.ndarray  # (T, H, W, 6) network input
    starts: np.ndarray | None  # first column of each window in ri, None: ri is the one window
    source: Path | None
    dropped: dict[str, int]


class Segmenter:
    """Per-pixel and per-point classes from a model whose ``predict_fn`` maps a (B, H, W, 6) raw
    range image batch (x, y, z, intensity, range, mask) to (B, H, W, C) logits.

    With ``shape_check`` (the default) car segments shaped like no vehicle are relabelled background
    (:func:`squeezeseg.plausibility.suppress_implausible_cars`) before anything is returned.
    """

    def __init__(self, predict_fn: Callable[[np.ndarray], np.ndarray], config: ModelConfig,
                 source: str | Path = "<model>", keras_model=None, engine: str = "keras",
                 shape_check: bool = True):
        self.predict_fn = predict_fn
        self.shape_check = shape_check
        self.config = config
        self.source = Path(source)
        self.keras_model = keras_model
        self.engine = engine  # what runs predict_fn: keras, tflite or onnx
        self._projection = None
        self._circle = None

    @property
    def classes(self) -> list[str]:
        """Class names, index = class id."""
        return list(self.config.classes)

    @property
    def projection(self):
        """The spherical projection of the training data (sensor, width, field of view)."""
        if self._projection is None:
            from squeezeseg.projection import SphericalProjection

            c = self.config
            self._projection = SphericalProjection.from_sensor(c.sensor, width=c.width, fov_deg=c.fov_deg)
            if self._projection.height != c.height:
                raise InputError(f"model/config mismatch: sensor '{c.sensor}' has {self._projection.height} "
                                 f"beams but the model takes {c.height} rows", self.source)
        return self._projection

    @property
    def windows(self) -> int:
        """Windows of the model's field of view around the circle (1 when it does not divide 360)."""
        turns = 360.0 / self.config.fov_deg
        return int(round(turns)) if self.config.fov_deg < 360 and turns.is_integer() else 1

    def _circle_projection(self):
        """Full-circle projection whose columns hold the model's windows side by side, or None."""
        if self._circle is None:
            from squeezeseg.projection import SphericalProjection

            T, W = self.windows, self.config.width
            ok = T > 1 and ((T - 1) * W) % 2 == 0
            sensor = self.projection.sensor
            self._circle = SphericalProjection(sensor, width=T * W, fov_deg=360.0) if ok else False
        return self._circle or None

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(B, H, W, C) logits of (B, H, W, 5 or 6) raw range images (mask derived from range if absent)."""
        batch = self._as_input(images)
        return np.asarray(self.predict_fn(batch))

    def predict_range_image(self, image: np.ndarray) -> np.ndarray:
        """(H, W) int32 class ids of one (H, W, 5) x, y, z, intensity, range image; empty pixels get 0."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 3:
            raise InputError(f"range image must be (H, W, 5), got shape {img.shape}", self.source)
        batch = self._as_input(img[None])
        labels = np.asarray(self.predict_fn(batch))[0].argmax(-1).astype(np.int32)
        labels = np.where(batch[0, ..., 5] > 0, labels, 0).astype(np.int32)
        return self.check_shapes(img, labels, full_circle=False)

    def check_shapes(self, image: np.ndarray, labels: np.ndarray, full_circle: bool) -> np.ndarray:
        """``labels`` of a range image with implausible car segments made class 0, when
        ``shape_check`` is on and the model has a car class."""
        if not self.shape_check or "car" not in self.classes:
            return labels
        from squeezeseg.plausibility import suppress_implausible_cars

        return suppress_implausible_cars(image, labels, self.classes.index("car"), full_circle=full_circle)

    def predict_points(self, points: np.ndarray, full_circle: bool = True) -> np.ndarray:
        """(N,) int32 class ids of points (N, >=4) x, y, z, intensity in the LiDAR frame.

        A model trained on a front window (e.g. 90 degrees) covers the whole circle by running on all
        ``360 / fov`` windows of the scan in one batch (``full_circle``); otherwise points outside the
        window, like points with no return, get class 0. NaN/inf points, points farther than 10 km
        and zero-range points get class 0 (one warning). A scan with no point in view gives all class
        0 and a warning.
        """
        pts = self._check_points(points)
        if len(pts) == 0:
            log.warning("empty point cloud: nothing to segment")
            return np.zeros(0, np.int32)
        return self.predict_scan(pts, full_circle=full_circle).classes

    def predict_scan(self, points: np.ndarray, full_circle: bool = True, instances: bool = False,
                     source: str | Path | None = None) -> ScanPrediction:
        """:meth:`predict_points` with everything around it: the range image, its labels and, with
        ``instances``, instance ids (:func:`squeezeseg.instances.range_image_instances`)."""
        prep = self.prepare(points, full_circle, source)
        return self.finish(prep, self.run_batch([prep])[0], instances)

    def stream(self, scans: str | Path | Iterable[str | Path], batch: int = 1, prefetch: int = 2,
               instances: bool = True, full_circle: bool = True) -> Iterator[ScanPrediction]:
        """Segment a sequence of scan files (a folder: its scan files in name order) one
        :class:`ScanPrediction` at a time, in order.

        A background thread reads and projects the next ``prefetch`` batches while the network runs
        on the current one; ``batch`` scans go through the network together. A bad scan raises its
        InputError (naming the file) when its turn comes.
        """
        paths = scan_paths(scans)
        if batch < 1 or prefetch < 1:
            raise InputError(f"batch and prefetch must be at least 1, got {batch} and {prefetch}")
        for group in _prefetch(self.prepare_files(paths, batch, full_circle), prefetch):
            outputs = self.run_batch(group)
            for prep, out in zip(group, outputs):
                yield self.finish(prep, out, instances)

    # ------------------------------------------------------------------------------------ stages
    def prepare(self, points: np.ndarray, full_circle: bool = True,
                source: str | Path | None = None) -> _Prepared:
        """Validate and project one scan; the network input of all its windows."""
        src = None if source is None else Path(source)
        pts = self._check_points(points, src)
        if len(pts) == 0:
            raise InputError("the scan holds no points", src)
        keep, dropped = valid_points(pts)
        n_drop = sum(dropped.values())
        if n_drop:
            if keep is not None and len(keep) == 0:
                raise InputError(f"no valid point: {_dropped_text(dropped, len(pts))}", src)
            level = logging.WARNING if n_drop > dropped.get("zero range", 0) else logging.DEBUG
            log.log(level, "%sdropped %s", f"{src}: " if src else "", _dropped_text(dropped, len(pts)))
        kept = pts if keep is None else pts[keep]
        circle = self._circle_projection() if full_circle else None
        T, W = self.windows, self.config.width
        if circle is not None:
            ri = circle.project(kept[:, :4])
            self._warn_other_sensor(ri, src)
            starts = (((T - 1) * W) // 2 - np.arange(T) * W) % (T * W)
            cols = (starts[:, None] + np.arange(W)[None, :]) % (T * W)
            windows = np.moveaxis(ri.image[:, cols], 1, 0)  # (T, H, W, 6)
            _turn_to_front(windows, self.config.fov_deg)
        elif full_circle and T > 1:  # windows that do not tile the circle's columns: turn the scan
            return self._prepare_turned(pts, kept, keep, src, dropped)
        else:
            ri = self.projection.project(kept[:, :4])
            starts, windows = None, ri.image[None]
        return _Prepared(pts, keep, ri, self._as_input(windows), starts, src, dropped)

    def _warn_other_sensor(self, ri, src: Path | None) -> None:
        """Warn when more than :data:`OTHER_SENSOR_SHARE` of a full-circle scan's points lie outside
        the elevations of the sensor the model was trained for: a scan of another sensor (or one
        mounted tilted), most of which the model cannot label."""
        outside = float(np.mean(ri.rows < 0)) if len(ri.rows) else 0.0
        if outside > OTHER_SENSOR_SHARE:
            log.warning("%s%.0f %% of the points lie outside the elevations of the %s the model was "
                        "trained for and are left class 0 (%s): a scan of another sensor, or one mounted "
                        "tilted, is mostly not segmented", f"{src}: " if src else "", 100 * outside,
                        self.config.sensor, self.classes[0])

    def finish(self, prep: _Prepared, logits: np.ndarray, instances: bool = False) -> ScanPrediction:
        """Per-point classes (and instances) of a prepared scan from its windows' logits."""
        from squeezeseg.projection import unproject

        labels = np.asarray(logits).argmax(-1).astype(np.int32)  # (T, H, W)
        labels[prep.windows[..., 5] <= 0] = 0
        if isinstance(prep.ri, list):  # turned windows
            return self._finish_turned(prep, labels, instances)
        ri = prep.ri
        cols = None
        if prep.starts is None:
            image_labels = labels[0]
        else:
            T, W = labels.shape[0], labels.shape[2]
            image_labels = np.zeros(ri.index.shape, np.int32)
            cols = (prep.starts[:, None] + np.arange(W)[None, :]) % (T * W)
            image_labels[:, cols] = np.moveaxis(labels, 0, 1)
        image_labels = self.check_shapes(ri.image, image_labels, ri.full_circle)
        n = len(prep.points)
        if not (image_labels.size and ri.mask.any()):
            log.warning("%sno points in the field of view of the model (%s): all points are class 0 (%s)",
                        f"{prep.source}: " if prep.source else "", self.config.sensor, self.classes[0])
        classes = _scatter(n, prep.keep, unproject(image_labels, ri))
        result = ScanPrediction(prep.points, classes, ri.image, image_labels, source=prep.source,
                                dropped=prep.dropped, front_cols=None if prep.starts is None else cols[0])
        if instances:
            from squeezeseg.instances import range_image_instances

            inst_img = range_image_instances(ri.image, image_labels, full_circle=ri.full_circle)
            result.image_instances = inst_img
            result.instances = _scatter(n, prep.keep, unproject(inst_img, ri))
        return result

    def run_batch(self, group: list[_Prepared]) -> list[np.ndarray]:
        """Logits of every prepared scan of ``group``, all windows in one network batch."""
        batch = np.concatenate([p.windows for p in group], axis=0)
        out = np.asarray(self.predict_fn(batch))
        sizes = np.cumsum([len(p.windows) for p in group])[:-1]
        return np.split(out, sizes, axis=0)

    def prepare_files(self, paths: list[Path], batch: int, full_circle: bool = True
                      ) -> Iterator[list[_Prepared]]:
        """Read and :meth:`prepare` scan files, ``batch`` at a time."""
        from squeezeseg.io import read_points

        group = []
        for path in paths:
            group.append(self.prepare(read_points(path), full_circle, path))
            if len(group) == batch:
                yield group
                group = []
        if group:
            yield group

    def _prepare_turned(self, pts, kept, keep, src, dropped) -> _Prepared:
        """Windows by turning the scan about z (models whose window does not tile the circle)."""
        fov, T = self.config.fov_deg, self.windows
        ris, wins = [], []
        for k in range(T):
            a = np.deg2rad(-k * fov)  # rotate so window k faces forward
            rot = kept[:, :4].copy()
            c, s = np.cos(a), np.sin(a)
            rot[:, 0], rot[:, 1] = c * kept[:, 0] - s * kept[:, 1], s * kept[:, 0] + c * kept[:, 1]
            ri = self.projection.project(rot)
            ris.append(ri)
            wins.append(ri.image)
        return _Prepared(pts, keep, ris, self._as_input(np.stack(wins)), None, src, dropped)

    def _finish_turned(self, prep: _Prepared, labels: np.ndarray, instances: bool) -> ScanPrediction:
        from squeezeseg.projection import unproject

        out = np.zeros(len(prep.points) if prep.keep is None else len(prep.keep), np.int32)
        inst = np.zeros_like(out) if instances else None
        next_id = 0
        for k, ri in enumerate(prep.ri):
            labels[k] = self.check_shapes(ri.image, labels[k], full_circle=False)
            inside = ri.rows >= 0
            out[inside] = unproject(labels[k], ri)[inside]
            if instances:
                from squeezeseg.instances import range_image_instances

                img_inst = range_image_instances(ri.image, labels[k], full_circle=False)
                img_inst[img_inst > 0] += next_id
                next_id = max(next_id, int(img_inst.max()))
                inst[inside] = unproject(img_inst, ri)[inside]
        front = prep.ri[0]
        classes = _scatter(len(prep.points), prep.keep, out)
        result = ScanPrediction(prep.points, classes, front.image, labels[0], source=prep.source,
                                dropped=prep.dropped)
        if instances:
            result.instances = _scatter(len(prep.points), prep.keep, inst)
        return result

    def _check_points(self, points: np.ndarray, source: Path | None = None) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] < 4:
            raise InputError(f"points must be (N, >=4) x, y, z, intensity, got {pts.shape}",
                             source or self.source)
        return pts

    def _as_input(self, images: np.ndarray) -> np.ndarray:
        imgs = np.asarray(images, dtype=np.float32)
        c = self.config
        if imgs.ndim != 4 or imgs.shape[1:3] != (c.height, c.width) or imgs.shape[3] not in (5, 6):
            raise InputError(
                f"model/input mismatch: the model takes {c.height}x{c.width} range images with 5 channels "
                f"(x, y, z, intensity, range), got shape {imgs.shape[1:]}", self.source)
        from squeezeseg.datasets.network_input import network_input

        return network_input(imgs)


# ---------------------------------------------------------------------------------------- helpers
def valid_points(points: np.ndarray) -> tuple[np.ndarray | None, dict[str, int]]:
    """Indices of the points a projection keeps (None: all of them) and how many of each kind it drops:
    ``NaN/inf`` (any of x, y, z, intensity), ``out of range`` (farther than 10 km: corrupt values such
    as 1e30, whose float32 range would overflow) and ``zero range`` (no return)."""
    xyz = points[:, :3]
    finite = np.isfinite(xyz).all(axis=1)
    if points.shape[1] >= 4:
        finite &= np.isfinite(points[:, 3])
    r = np.sqrt(np.einsum("ij,ij->i", xyz, xyz, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        far = finite & (r > OUT_OF_RANGE_M)
        zero = finite & (r.astype(np.float32) <= np.float32(MIN_RANGE_M))
    ok = finite & ~far & ~zero
    dropped = {"NaN/inf": int(len(ok) - finite.sum()), "out of range (> 10 km)": int(far.sum()),
               "zero range": int(zero.sum())}
    if ok.all():
        return None, {k: 0 for k in dropped}
    return np.flatnonzero(ok), dropped


def _turn_to_front(windows: np.ndarray, fov_deg: float) -> None:
    """Rotate x, y of window k (in place) by -k * fov about z, so that every window looks like the front
    one the network was trained on (as if the scan had been turned)."""
    for k in range(1, len(windows)):
        a = np.deg2rad(-k * fov_deg)
        c, s = np.float32(np.cos(a)), np.float32(np.sin(a))
        x, y = windows[k, ..., 0].copy(), windows[k, ..., 1].copy()
        windows[k, ..., 0] = c * x - s * y
        windows[k, ..., 1] = s * x + c * y


def _dropped_text(dropped: dict[str, int], n: int) -> str:
    parts = ", ".join(f"{v} {k}" for k, v in dropped.items() if v)
    return f"{sum(dropped.values())} of {n} points ({parts})"


def _scatter(n: int, keep: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """(n,) int32 with ``values`` at ``keep`` (all points when None) and 0 elsewhere."""
    if keep is None:
        return values.astype(np.int32, copy=False)
    out = np.zeros(n, np.int32)
    out[keep] = values
    return out


def scan_paths(scans: str | Path | Iterable[str | Path]) -> list[Path]:
    """Scan files of ``scans``: one file, a folder (its scan files in name order) or a list of both.

    A missing path, or a folder without scan files, is an InputError naming it.
    """
    from squeezeseg.io import SCAN_SUFFIXES, is_scan

    items = [scans] if isinstance(scans, (str, Path)) else list(scans)
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and is_scan(f))
            if not found:
                raise InputError(f"a folder without scan files ({', '.join(SCAN_SUFFIXES)})", p)
            paths.extend(found)
        elif not p.exists():
            raise InputError("file not found", p)
        else:
            paths.append(p)
    if not paths:
        raise InputError("no scans given")
    return paths


_END = object()


def _prefetch(items: Iterator, depth: int) -> Iterator:
    """``items`` produced by a background thread up to ``depth`` ahead; its exceptions re-raised here,
    in order. Abandoning the iterator stops the thread after its current item."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer)
            q.put((None, exc))
            return
        q.put((_END, None))

    thread = threading.Thread(target=work, name="squeezeseg-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
