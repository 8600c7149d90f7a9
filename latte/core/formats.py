"""The documented LATTE JSON label format and the conversions behind the session's import/export.

JSON (``"format": "latte-json"``, version 1)::

    {"format": "latte-json", "version": 1, "sequence": "<name>",
     "frames": [{"index": 0, "frame_id": "000000",
                 "boxes": [{"id": 1, "label": "Car", "track_id": 3,
                            "center": [x, y, z], "size": [l, w, h], "yaw": 0.1,
                            "score": null, "truncated": null, "occluded": null}]}]}

Coordinates are the LiDAR frame (x forward, y left, z up, metres; yaw counter-clockwise from +x,
radians); ``center`` is the middle of the box. ``id`` is the session's box id (optional on import).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from latte.core.rectangle_fit import fit_box
from squeezeseg.atomic import atomic_write_text
from squeezeseg.boxes import Box3D
from squeezeseg.errors import InputError

JSON_FORMAT = "latte-json"
JSON_VERSION = 1


def box_to_dict(box: Box3D, box_id: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if box_id is not None:
        d["id"] = int(box_id)
    d.update(
        label=box.label,
        track_id=box.track_id,
        center=list(box.center),
        size=list(box.size),
        yaw=box.yaw,
        score=box.score,
        truncated=box.truncated,
        occluded=box.occluded,
    )
    return d


def box_from_dict(d: Any, where: str, path: Path | None) -> Box3D:
    """Box3D of one JSON box object; InputError naming ``where`` (e.g. "frames[2].boxes[0]")."""
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected an object", path)
    try:
        return Box3D(
            center=d["center"],
            size=d["size"],
            yaw=float(d.get("yaw", 0.0)),
            label=str(d.get("label", "Car")),
            track_id=d.get("track_id"),
            score=d.get("score"),
            truncated=d.get("truncated"),
            occluded=d.get("occluded"),
        )
    except KeyError as exc:
        raise InputError(f"{where}: missing key {exc}", path) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {exc}", path) from None


def write_json_labels(
    path: str | Path,
    sequence_name: str,
    frames: list[tuple[int, str, dict[int, Box3D]]],
    extra: dict[str, Any] | None = None,
    indent: int | None = 1,
    durable: bool = True,
) -> None:
    """Write ``frames`` [(index, frame_id, {box_id: box})] as LATTE JSON, atomically; ``indent``
    None writes it compact (json's C encoder: an order of magnitude faster than any indent),
    ``durable=False`` without the fsync (``squeezeseg.atomic.atomic_open``)."""
    doc = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "sequence": sequence_name,
        "frames": [
            {"index": i, "frame_id": fid, "boxes": [box_to_dict(b, k) for k, b in boxes.items()]}
            for i, fid, boxes in frames
        ],
    }
    if extra:
        doc.update(extra)
    compact = (",", ":") if indent is None else None
    atomic_write_text(path, json.dumps(doc, indent=indent, separators=compact), durable=durable)


def read_json_labels(
    path: str | Path, errors: list[InputError] | None = None
) -> tuple[dict[str, Any], list[tuple[int, str | None, list[tuple[int | None, Box3D]]]]]:
    """(document, [(index, frame_id, [(box id, box)])]) of a LATTE JSON file.

    A malformed box is skipped and appended to ``errors`` (raised when ``errors`` is None); a file
    that is not LATTE JSON at all raises InputError.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("label file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read label file: {exc}", path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path) from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise InputError(f'not a LATTE JSON file (expected "format": "{JSON_FORMAT}")', path)
    if doc.get("version") != JSON_VERSION:
        raise InputError(
            f"unsupported LATTE JSON version {doc.get('version')!r} (expected {JSON_VERSION})", path
        )
    frames = doc.get("frames")
    if not isinstance(frames, list):
        raise InputError("key 'frames' must be a list", path)
    out = []
    for fi, fr in enumerate(frames):
        if (
            not isinstance(fr, dict)
            or not isinstance(fr.get("index"), int)
            or not isinstance(fr.get("boxes"), list)
        ):
            _report(InputError(f"frames[{fi}]: needs an integer 'index' and a list 'boxes'", path), errors)
            continue
        boxes = []
        for bi, bd in enumerate(fr["boxes"]):
            try:
                box = box_from_dict(bd, f"frames[{fi}].boxes[{bi}]", path)
            except InputError as exc:
                _report(exc, errors)
                continue
            boxes.append((bd.get("id") if isinstance(bd.get("id"), int) else None, box))
        out.append((fr["index"], fr.get("frame_id"), boxes))
    return doc, out


def _report(exc: InputError, errors: list[InputError] | None) -> None:
    if errors is None:
        raise exc
    errors.append(exc)


def boxes_from_point_labels(
    points: np.ndarray,
    classes: np.ndarray,
    instances: np.ndarray,
    id_to_label: dict[int, str],
    ground_z: float | None = None,
) -> list[Box3D]:
    """One fitted box per (class, instance) group of labelled points (instance 0 and unknown classes
    skipped); the instance id becomes the track id."""
    boxes = []
    pts = np.asarray(points)
    key = classes.astype(np.int64) << 16 | instances.astype(np.int64)
    for k in np.unique(key[(instances > 0)]):
        cls, inst = int(k >> 16), int(k & 0xFFFF)
        label = id_to_label.get(cls)
        if label is None:
            continue
        idx = np.flatnonzero(key == k)
        ok = idx[np.isfinite(pts[idx, :3]).all(axis=1)]
        if len(ok) == 0:
            continue
        box = fit_box(pts[ok], label, "search", "variance", 0.1)
        # The rectangle touches its extreme points: 2 mm keep them inside after rounding.
        size = tuple(v + 0.002 for v in box.size)
        boxes.append(box.replace(size=size, track_id=inst, point_indices=ok))
    return boxes
