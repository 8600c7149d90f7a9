"""Evaluation of a segmenter: class-level and instance-level precision/recall/IoU (SqueezeSeg's
definitions, :mod:`squeezeseg.metrics`) and point-level mIoU, written as JSON and Markdown.

Sources: range-image datasets (SqueezeSeg ``.npy`` folders and the simulator's ``squeezeseg`` layout;
ground-truth instances there come from DBSCAN on the ground-truth classes, since those formats carry
none), scans with SemanticKITTI ``.label`` files (SemanticKITTI, the simulator's ``kitti-raw`` layout:
every labelled point of the whole scan, the model run on all windows of the circle, with
:data:`VALIDATION_LABEL_MAP`) and KITTI object frames (``velodyne``, ``calib``, ``label_2``: boxes
become point labels and instance ids, evaluated on the points inside the model's field of view).

:func:`evaluate_real` is the real validation of issue #19 in one call: the labelled real sets of
``../shared/data`` (SemanticKITTI, KITTI object, the SqueezeSeg sample) and the share of points called
car inside the camera view of KITTI object frame 000000, which holds no vehicle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_write_text
from squeezeseg.errors import InputError

log = logging.getLogger(__name__)

#: SemanticKITTI ids scored as "unknown" in validation, on top of squeezeseg.classes' table: car = car +
#: moving car, pedestrian = person + moving person, cyclist = bicyclist + moving bicyclist. Vans (other
#: vehicle), parked bicycles and motorcyclists count as background, so a car called on them is a false car.
VALIDATION_LABEL_MAP: dict[int, str] = {
    20: "unknown", 259: "unknown", 11: "unknown", 32: "unknown", 255: "unknown",
}
#: SemanticKITTI ids left out of scoring (unlabeled, outlier), as in the SemanticKITTI benchmark.
IGNORED_SEMANTICKITTI_IDS: tuple[int, ...] = (0, 1)
#: The real labelled sets under the shared data folder: name -> (sub-folder, kind).
REAL_SETS: dict[str, tuple[str, str]] = {
    "semantickitti": ("semantickitti/sequences/00", "semantickitti"),
    "kitti_object": ("kitti_object/training", "kitti-object"),
    "kitti_object_more": ("kitti_object_more/training", "kitti-object"),
    "squeezeseg_sample": ("squeezeseg_sample", "squeezeseg"),
}
#: (set, frame) whose camera view holds no vehicle: the share of its points called car there is a
#: direct count of false cars.
NO_VEHICLE_FRAME: tuple[str, str] = ("kitti_object", "000000")

@dataclass
class Accumulator:
    """Collects per-point ground truth and predictions of many frames (instance ids made unique)."""

    num_classes: int
    gt_class: list = field(default_factory=list)
    gt_inst: list = field(default_factory=list)
    pred_class: list = field(default_factory=list)
    pred_inst: list = field(default_factory=list)
    frames: int = 0
    _offset: int = 0

    def add(self, gt_class, gt_inst, pred_class, pred_inst) -> None:
        off = self._offset
        self.gt_class.append(np.asarray(gt_class, np.int64))
        self.pred_class.append(np.asarray(pred_class, np.int64))
        gi, pi = np.asarray(gt_inst, np.int64), np.asarray(pred_inst, np.int64)
        self.gt_inst.append(np.where(gi > 0, gi + off, 0))
        self.pred_inst.append(np.where(pi > 0, pi + off, 0))
        self._offset = off + int(max(gi.max(initial=0), pi.max(initial=0))) + 1
        self.frames += 1

    def class_report(self, class_names: list[str]) -> dict:
        """{frames, points, class: {...}, miou, miou_classes, confusion}: class scores only (cheap)."""
        from squeezeseg.metrics import confusion_matrix, scores_from_confusion

        if not self.frames:
            raise InputError("nothing to evaluate: no frames")
        gc, pc = np.concatenate(self.gt_class), np.concatenate(self.pred_class)
        conf = confusion_matrix(gc, pc, self.num_classes)
        cls = scores_from_confusion(conf)
        objects = [c for c in range(1, self.num_classes) if not np.isnan(cls.iou[c])]
        miou = float(np.mean(cls.iou[objects])) if objects else float("nan")
        return {"frames": self.frames, "points": int(len(gc)), "class": cls.as_dict(class_names),
                "miou": None if np.isnan(miou) else miou, "miou_classes": [class_names[c] for c in objects],
                "confusion": conf.tolist()}

    def report(self, class_names: list[str]) -> dict:
        """{frames, points, class: {...}, instance: {...}, miou, miou_classes, confusion}."""
        from squeezeseg.metrics import confusion_matrix, instance_scores, scores_from_confusion

        if not self.frames:
            raise InputError("nothing to evaluate: no frames")
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
        gc, gi, pc, pi = cat(self.gt_class), cat(self.gt_inst), cat(self.pred_class), cat(self.pred_inst)
        conf = confusion_matrix(gc, pc, self.num_classes)
        cls = scores_from_confusion(conf)
        inst = instance_scores(gc, gi, pc, pi, self.num_classes, ignore=(0,))
        objects = [c for c in range(1, self.num_classes) if not np.isnan(cls.iou[c])]
        miou = float(np.mean(cls.iou[objects])) if objects else float("nan")
        return {
            "frames": self.frames,
            "points": int(len(gc)),
            "class": cls.as_dict(class_names),
            "instance": inst.as_dict(class_names),
            "miou": None if np.isnan(miou) else miou,
            "miou_classes": [class_names[c] for c in objects],
            "confusion": conf.tolist(),
        }


def evaluate_range_images(segmenter, frames: Iterable[tuple[np.ndarray, np.ndarray]],
                          progress: bool = False, instances: bool = True) -> dict:
    """Report over (image (H, W, 6), labels (H, W), -1 = empty) frames; every valid pixel is a point.
    ``instances=False``: class scores only (no DBSCAN)."""
    from tqdm import tqdm

    from squeezeseg.instances import dbscan_instances

    acc = Accumulator(len(segmenter.classes))
    for image, labels in tqdm(frames, desc="evaluate", unit="frame", disable=not progress):
        valid = labels >= 0
        pred = segmenter.predict_range_image(image[..., :5])
        pts = image[valid][:, :3]
        gt, pr = labels[valid], pred[valid]
        if instances:
            acc.add(gt, dbscan_instances(pts, gt), pr, dbscan_instances(pts, pr))
        else:
            acc.add(gt, np.zeros(len(gt)), pr, np.zeros(len(pr)))
    return acc.report(segmenter.classes) if instances else acc.class_report(segmenter.classes)


#: Range bands (m, from the sensor in the ground plane) of the per-range class scores of the
#: whole-scan real set: a far object shows few points, and the shipped model misses far cars most.
RANGE_BANDS: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, float("inf"))


def band_name(lo: float, hi: float) -> str:
    """'10-20 m' style name of a range band ('30+ m' when open)."""
    return f"{lo:g}+ m" if np.isinf(hi) else f"{lo:g}-{hi:g} m"


def evaluate_point_labels(segmenter, pairs, label_map: dict | None = None, instances: bool = True,
                          progress: bool = False, range_bands: Sequence[float] | None = None) -> dict:
    """Report over whole scans with SemanticKITTI ``.label`` files, per point: ``pairs`` are (scan,
    label file); the model labels the full circle (all of its windows); unlabeled and outlier points
    are left out; ``label_map`` (default :data:`VALIDATION_LABEL_MAP`) adds id -> class pairs to
    :func:`squeezeseg.classes.semantickitti_lookup`. ``instances``: instance scores too (ground truth
    from the files' instance ids, predictions by DBSCAN), else class scores only. ``range_bands``
    (edges, m) adds ``by_range``: class scores of the points in each band."""
    from tqdm import tqdm

    from squeezeseg.classes import semantickitti_lookup
    from squeezeseg.instances import dbscan_instances
    from squeezeseg.io import read_points, read_semantickitti_labels

    table = semantickitti_lookup(segmenter.classes, VALIDATION_LABEL_MAP if label_map is None else label_map)
    acc = Accumulator(len(segmenter.classes))
    edges = list(range_bands or [])
    bands = {band_name(lo, hi): Accumulator(len(segmenter.classes)) for lo, hi in zip(edges, edges[1:])}
    for scan, lab in tqdm(list(pairs), desc="evaluate", unit="scan", disable=not progress):
        points = read_points(scan)
        ids, inst = read_semantickitti_labels(lab, n_points=len(points))
        pred = segmenter.predict_points(points, full_circle=True)
        keep = ~np.isin(ids, IGNORED_SEMANTICKITTI_IDS)
        gt = table[ids[keep]]
        pr = pred[keep]
        if instances:
            gi = np.where(gt > 0, gt.astype(np.int64) * 65536 + inst[keep], 0)
            pi = dbscan_instances(points[keep][:, :3], pr)
        else:
            gi = pi = np.zeros(len(gt), np.int64)
        acc.add(gt, gi, pr, pi)
        if bands:
            band = np.digitize(np.hypot(points[keep][:, 0], points[keep][:, 1]), edges) - 1
            zeros = np.zeros(len(gt), np.int64)
            for k, b_acc in enumerate(bands.values()):
                b_acc.add(gt[band == k], zeros[band == k], pr[band == k], zeros[band == k])
    rep = acc.report(segmenter.classes) if instances else acc.class_report(segmenter.classes)
    if bands:
        rep["by_range"] = {}
        for name, b_acc in bands.items():
            b_rep = b_acc.class_report(segmenter.classes)
            b_rep.pop("confusion", None)
            rep["by_range"][name] = b_rep
    return rep


def kitti_object_frames(root: str | Path, class_names: list[str]):
    """Yield (frame id, points, gt classes, gt instances) of the labelled frames of a KITTI object folder
    (boxes become point labels; KITTI types map to ``class_names`` as :mod:`squeezeseg.classes` says)."""
    from squeezeseg.datasets import open_dataset

    ds = open_dataset(root, kind="kitti_object")
    for i in range(len(ds)):
        if ds.frames[i].labels is None:
            continue
        points = ds.points(i)
        gc, gi = ds.point_classes(i, class_names, points=points)
        yield ds.frame_id(i), points, gc, gi


def evaluate_kitti_object(segmenter, root: str | Path, progress: bool = False,
                          instances: bool = True) -> dict:
    """Report over KITTI object frames, on the points inside the model's field of view (its front
    window). ``instances=False``: class scores only (no DBSCAN)."""
    from tqdm import tqdm

    from squeezeseg.instances import dbscan_instances

    acc = Accumulator(len(segmenter.classes))
    for _, points, gc, gi in tqdm(list(kitti_object_frames(root, segmenter.classes)), desc="evaluate",
                                  unit="frame", disable=not progress):
        pred = segmenter.predict_points(points, full_circle=False)
        inside = segmenter.projection.project(points[:, :4]).rows >= 0
        pts = points[inside]
        pr = pred[inside]
        pi = dbscan_instances(pts[:, :3], pr) if instances else np.zeros(len(pr))
        acc.add(gc[inside], gi[inside] if instances else np.zeros(len(pr)), pr, pi)
    return acc.report(segmenter.classes) if instances else acc.class_report(segmenter.classes)


def format_markdown(report: dict, title: str = "Evaluation") -> str:
    """The papers' table: one row per class, class-level and instance-level P/R/IoU, then mIoU."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}"

    lines = [f"# {title}", "", f"{report['frames']} frames, {report['points']} points.", "",
             "| class | class P | class R | class IoU | inst. P | inst. R | inst. IoU |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, c in report["class"].items():
        i = report["instance"][name]
        lines.append(f"| {name} | {pct(c['precision'])} | {pct(c['recall'])} | {pct(c['iou'])} | "
                     f"{pct(i['precision'])} | {pct(i['recall'])} | {pct(i['iou'])} |")
    lines += ["", f"Point-level mIoU over {', '.join(report['miou_classes']) or 'no classes'}: "
              f"{pct(report['miou'])} %", ""]
    return "\n".join(lines)


def write_report(report: dict, out_dir: str | Path, title: str = "Evaluation") -> tuple[Path, Path]:
    """``out_dir/eval.json`` and ``out_dir/eval.md``, written atomically."""
    out = Path(out_dir)
    j, m = out / "eval.json", out / "eval.md"
    atomic_write_text(j, json.dumps(report, indent=1) + "\n")
    atomic_write_text(m, format_markdown(report, title))
    return j, m


# ---- the real validation (issue #19) -----------------------------------------------------------------
def camera_view_car_share(segmenter, root: str | Path, frame: str) -> dict:
    """Share of the points of KITTI object ``frame`` under ``root`` inside camera 2's image that the
    model (whole circle, as ``squeezeseg infer``) calls car: {points, car_points, share}."""
    from squeezeseg.datasets import open_dataset

    ds = open_dataset(root, kind="kitti_object")
    i = ds.index_of(frame)
    points, calib = ds.points(i), ds.calib(i)
    if calib is None or calib.image_size is None:
        raise InputError(f"frame {frame} needs its calibration and image to find the camera view", root)
    from squeezeseg.calib import project_points

    _, inside = project_points(points, calib)
    pred = segmenter.predict_points(points, full_circle=True)
    car = list(segmenter.classes).index("car")
    n, k = int(inside.sum()), int((pred[inside] == car).sum())
    return {"frame": frame, "points": n, "car_points": k, "share": k / n if n else None}


def evaluate_real(segmenter, data_root: str | Path | None = None, progress: bool = False,
                  sets: Iterable[str] | None = None) -> dict:
    """The real validation in one call: class reports (no instances) of every set of :data:`REAL_SETS`
    found under ``data_root`` (default ``../shared/data``) and the camera-view car share of
    :data:`NO_VEHICLE_FRAME`. Sets that are absent are left out (with a log line). Real labels only
    measure here: nothing of this feeds training."""
    from squeezeseg.data.sources import semantickitti_frames
    from squeezeseg.resources import shared_data_dir

    root = Path(data_root) if data_root is not None else shared_data_dir()
    out: dict = {"data": str(root), "sets": {}}
    for name in sets or REAL_SETS:
        sub, kind = REAL_SETS[name]
        path = root / sub
        if not path.is_dir():
            log.info("real validation: %s not found, left out", path)
            continue
        if kind == "semantickitti":
            rep = evaluate_point_labels(segmenter, semantickitti_frames(path, "all"), instances=False,
                                        progress=progress, range_bands=RANGE_BANDS)
            rep["window"] = "360 degrees, per point"
        elif kind == "kitti-object":
            rep = evaluate_kitti_object(segmenter, path, progress=progress, instances=False)
            rep["window"] = f"front {segmenter.config.fov_deg:g} degrees, box labels"
        else:
            from squeezeseg.datasets import open_dataset

            ds = open_dataset(path, kind="squeezeseg")
            frames = (ds.labelled_input(i) for i in range(len(ds)))
            rep = evaluate_range_images(segmenter, (f for f in frames if f is not None), progress=progress,
                                        instances=False)
            rep["window"] = "front 90 degrees, range image as given"
        rep.pop("confusion", None)
        out["sets"][name] = rep
    set_name, frame = NO_VEHICLE_FRAME
    path = root / REAL_SETS[set_name][0]
    if path.is_dir():
        out["no_vehicle_view"] = camera_view_car_share(segmenter, path, frame)
    return out


def real_summary(result: dict) -> dict:
    """{set: {class: {iou, precision, recall}}, no_vehicle_car_share} of :func:`evaluate_real`'s result."""
    out = {name: {c: {k: rep["class"][c][k] for k in ("iou", "precision", "recall")}
                  for c in ("car", "pedestrian", "cyclist") if c in rep["class"]}
           for name, rep in result["sets"].items()}
    nv = result.get("no_vehicle_view")
    out["no_vehicle_car_share"] = None if nv is None else nv["share"]
    return out


def compare_real(new: dict, old: dict, max_car_iou_drop: float = 0.02) -> tuple[bool, str]:
    """Is summary ``new`` better than ``old`` on the real validation (:func:`real_summary` results)?

    Better means: mean car IoU over the real sets higher, no set's car IoU lower by more than
    ``max_car_iou_drop``, and no more false cars in the no-vehicle camera view. Returns (better, why).
    """
    sets = [s for s in new if s != "no_vehicle_car_share" and s in old and "car" in new[s]]
    if not sets:
        return False, "no real set in common"

    def iou(summary, s):
        v = summary[s]["car"]["iou"]
        return 0.0 if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

    mean_new = float(np.mean([iou(new, s) for s in sets]))
    mean_old = float(np.mean([iou(old, s) for s in sets]))
    worse = [s for s in sets if iou(new, s) < iou(old, s) - max_car_iou_drop]
    share_new, share_old = new.get("no_vehicle_car_share"), old.get("no_vehicle_car_share")
    more_false = share_new is not None and share_old is not None and share_new > share_old
    why = (f"mean car IoU over {', '.join(sets)}: {mean_new:.3f} vs {mean_old:.3f}; car share in the "
           f"no-vehicle view: {share_new} vs {share_old}")
    if worse:
        return False, why + f"; car IoU lower on {', '.join(worse)}"
    if more_false:
        return False, why + "; more false cars in the no-vehicle view"
    return mean_new > mean_old, why


def format_real_table(results: dict[str, dict]) -> str:
    """Markdown table of :func:`real_summary` results, one column group per model: car, pedestrian,
    cyclist IoU / precision / recall per set (percent), then the no-vehicle car share."""
    names = list(results)
    sets = [s for s in REAL_SETS if any(s in r for r in results.values())]

    def pct(v):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}"

    head = "| set | class | " + " | ".join(f"{n} IoU | {n} P | {n} R" for n in names) + " |"
    lines = [head, "| --- | --- | " + " | ".join("---: | ---: | ---:" for _ in names) + " |"]
    for s in sets:
        for c in ("car", "pedestrian", "cyclist"):
            cells = []
            for n in names:
                m = results[n].get(s, {}).get(c)
                cells.append("- | - | -" if m is None else f"{pct(m['iou'])} | {pct(m['precision'])} | "
                             f"{pct(m['recall'])}")
            lines.append(f"| {s} | {c} | " + " | ".join(cells) + " |")
    shares = " | ".join(f"{pct(results[n].get('no_vehicle_car_share'))} | | " for n in names)
    lines.append(f"| {NO_VEHICLE_FRAME[0]}/{NO_VEHICLE_FRAME[1]} camera view | % called car | {shares}|")
    return "\n".join(lines) + "\n"
