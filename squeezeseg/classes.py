"""The one class taxonomy of the toolkit: SemanticKITTI ids, KITTI box types, the papers' coarse classes.

Every module that names a class reads it from here: the simulator's per-point classes are SemanticKITTI
classes, the networks predict coarse classes (``COARSE``), boxes carry KITTI types, and a user's
spelling ("cars", "Person", "bicyclist") is turned into one of those by :func:`canonical`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# SemanticKITTI label ids (Behley et al. 2019, semantic-kitti.yaml), moving classes 252-259 included.
SEMANTICKITTI: dict[int, str] = {
    0: "unlabeled", 1: "outlier", 10: "car", 11: "bicycle", 13: "bus", 15: "motorcycle",
    16: "on-rails", 18: "truck", 20: "other-vehicle", 30: "person", 31: "bicyclist",
    32: "motorcyclist", 40: "road", 44: "parking", 48: "sidewalk", 49: "other-ground",
    50: "building", 51: "fence", 52: "other-structure", 60: "lane-marking", 70: "vegetation",
    71: "trunk", 72: "terrain", 80: "pole", 81: "traffic-sign", 99: "other-object",
    252: "moving-car", 253: "moving-bicyclist", 254: "moving-person", 255: "moving-motorcyclist",
    256: "moving-on-rails", 257: "moving-bus", 258: "moving-truck", 259: "moving-other-vehicle",
}
SEMANTICKITTI_ID: dict[str, int] = {name: i for i, name in SEMANTICKITTI.items()}

# The papers' classes (SqueezeSeg, SqueezeSegV2): index = label in SqueezeSeg ``.npy`` files.
COARSE: tuple[str, ...] = ("unknown", "car", "pedestrian", "cyclist")

# SemanticKITTI id -> coarse class. Other vehicles (vans) count as cars, as KITTI's Van boxes do;
# trucks, buses and trams do not (KITTI keeps them out of the Car class). A bicycle (11) is one nobody
# rides (a ridden one is part of its bicyclist, 31): not a cyclist, as KITTI boxes cyclists with riders.
SEMANTICKITTI_TO_COARSE: dict[int, str] = {
    10: "car", 20: "car", 252: "car", 259: "car",
    30: "pedestrian", 254: "pedestrian",
    31: "cyclist", 32: "cyclist", 253: "cyclist", 255: "cyclist",
}
# Coarse class -> the SemanticKITTI id written for it (e.g. into ``.label`` files by ``squeezeseg infer``).
COARSE_TO_SEMANTICKITTI: dict[str, int] = {"unknown": 0, "car": 10, "pedestrian": 30, "cyclist": 31}


@dataclass(frozen=True)
class KittiType:
    """One KITTI box type: its coarse class, SemanticKITTI id, whether it keeps its shape when tracked,
    and its typical size (l, w, h): the mean over the KITTI object training labels as tabulated by
    Frustum PointNets (Qi et al. 2018, ``g_type_mean_size``)."""

    name: str
    coarse: str
    semantickitti: int
    rigid: bool
    size: tuple[float, float, float] | None


KITTI_TYPES: tuple[KittiType, ...] = (
    KittiType("Car", "car", 10, True, (3.88, 1.63, 1.53)),
    KittiType("Van", "car", 20, True, (5.07, 1.90, 2.21)),
    KittiType("Truck", "unknown", 18, True, (10.14, 2.59, 3.25)),
    KittiType("Pedestrian", "pedestrian", 30, False, (0.84, 0.66, 1.76)),
    KittiType("Person_sitting", "pedestrian", 30, False, (0.80, 0.60, 1.27)),
    KittiType("Cyclist", "cyclist", 31, False, (1.76, 0.60, 1.74)),
    KittiType("Tram", "unknown", 16, True, (16.17, 2.53, 3.53)),
    KittiType("Misc", "unknown", 99, True, (3.64, 1.54, 1.92)),
    KittiType("DontCare", "unknown", 0, True, None),
)
KITTI_TYPE: dict[str, KittiType] = {t.name: t for t in KITTI_TYPES}
KITTI_TYPE_TO_COARSE: dict[str, str] = {t.name: t.coarse for t in KITTI_TYPES if t.coarse != "unknown"}

# Spellings users and other tools use, lower case -> the canonical name (coarse or KITTI type).
ALIASES: dict[str, str] = {
    "person": "pedestrian", "people": "pedestrian", "persons": "pedestrian", "pedestrians": "pedestrian",
    "moving-person": "pedestrian", "bicyclist": "cyclist", "bicyclists": "cyclist", "cyclists": "cyclist",
    "moving-bicyclist": "cyclist", "cars": "car", "moving-car": "car", "background": "unknown",
    "unlabeled": "unknown", "vans": "van", "trucks": "truck", "trams": "tram",
    "person_sittings": "person_sitting", "persons_sitting": "person_sitting",
}


def canonical(name: str) -> str:
    """Lower-case canonical spelling of a class name: aliases and plurals resolved
    (``"Cars"`` -> ``"car"``, ``"Person"`` -> ``"pedestrian"``, ``"bicyclist"`` -> ``"cyclist"``)."""
    n = str(name).strip().lower()
    if n in ALIASES:
        return ALIASES[n]
    known = set(COARSE) | {t.lower() for t in KITTI_TYPE}
    if n not in known and n.endswith("s") and n[:-1] in known:
        return n[:-1]
    return n


def kitti_type(name: str) -> str | None:
    """The KITTI type a name stands for (``"cars"`` -> ``"Car"``), or None."""
    n = canonical(name)
    for t in KITTI_TYPES:
        if t.name.lower() == n:
            return t.name
    return None


def match_class(name: str, names: Iterable[str]) -> str | None:
    """The member of ``names`` that ``name`` means (same canonical spelling), or None."""
    want = canonical(name)
    return next((n for n in names if canonical(n) == want), None)


def coarse_of_semantickitti(sid: int) -> str:
    """Coarse class of a SemanticKITTI id ("unknown" for everything else)."""
    return SEMANTICKITTI_TO_COARSE.get(int(sid), "unknown")


def semantickitti_lookup(classes: Sequence[str], extra: Mapping[int, str] | None = None) -> np.ndarray:
    """(65536,) int32 table: SemanticKITTI id -> index in ``classes`` (0 where the id maps to none of them).

    ``extra`` adds or overrides id -> class-name pairs (a model config's ``data.label_map``).
    """
    table = np.zeros(1 << 16, np.int32)
    mapping: dict[int, str] = dict(SEMANTICKITTI_TO_COARSE)
    mapping.update({int(k): v for k, v in (extra or {}).items()})
    for sid, name in mapping.items():
        hit = match_class(name, classes)
        if hit is not None:
            table[sid] = list(classes).index(hit)
    return table


def semantickitti_ids(classes: Sequence[str]) -> np.ndarray:
    """(C,) uint16 SemanticKITTI id of each of a model's classes (0 "unlabeled" for classes it has none)."""
    out = []
    for name in classes:
        n = canonical(name)
        kt = kitti_type(n)
        fallback = KITTI_TYPE[kt].semantickitti if kt else SEMANTICKITTI_ID.get(n, 0)
        out.append(COARSE_TO_SEMANTICKITTI.get(n, fallback))
    return np.array(out, np.uint16)


def kitti_type_ids(classes: Sequence[str]) -> dict[str, int]:
    """KITTI type -> index in ``classes`` for each type whose own name or coarse class is in ``classes``."""
    out = {}
    for t in KITTI_TYPES:
        coarse = match_class(t.coarse, classes) if t.coarse != "unknown" else None
        hit = match_class(t.name, classes) or coarse
        if hit is not None:
            out[t.name] = list(classes).index(hit)
    return out
