"""Class and material tables of the simulator.

Every triangle carries a fine class (for SemanticKITTI output and the per-point class table) and a
material (colour and LiDAR reflectivity). Fine classes map to the papers' coarse classes
(0 unknown/background, 1 car, 2 pedestrian, 3 cyclist) and to KITTI box types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from squeezeseg.classes import COARSE, SEMANTICKITTI_ID, coarse_of_semantickitti

COARSE_NAMES = COARSE


@dataclass(frozen=True)
class SimClass:
    """One fine class: ``coarse`` is the SqueezeSeg label, ``semantickitti`` the SemanticKITTI id."""

    id: int
    name: str
    coarse: int
    semantickitti: int


def _sim_class(i: int, name: str, semantickitti: str) -> SimClass:
    """Fine class ``i`` named ``name``, labelled as the SemanticKITTI class ``semantickitti``; its coarse
    class follows :data:`squeezeseg.classes.SEMANTICKITTI_TO_COARSE` (vans are cars, trucks are not)."""
    sid = SEMANTICKITTI_ID[semantickitti]
    return SimClass(i, name, COARSE.index(coarse_of_semantickitti(sid)), sid)


CLASSES: tuple[SimClass, ...] = tuple(
    _sim_class(i, *spec)
    for i, spec in enumerate((
        ("unlabeled", "unlabeled"), ("car", "car"), ("van", "other-vehicle"), ("truck", "truck"),
        # A ridden bicycle belongs to its bicyclist (SemanticKITTI); "parked-bicycle" is one nobody rides.
        ("pedestrian", "person"), ("bicyclist", "bicyclist"), ("bicycle", "bicyclist"), ("road", "road"),
        ("sidewalk", "sidewalk"), ("building", "building"), ("fence", "fence"), ("vegetation", "vegetation"),
        ("trunk", "trunk"), ("terrain", "terrain"), ("pole", "pole"), ("traffic-sign", "traffic-sign"),
        ("parked-bicycle", "bicycle"), ("other-object", "other-object"),  # street furniture
    ))
)
CLASS_ID = {c.name: c.id for c in CLASSES}
COARSE_OF = np.array([c.coarse for c in CLASSES], dtype=np.uint8)
SEMANTICKITTI_OF = np.array([c.semantickitti for c in CLASSES], dtype=np.uint16)
GROUND_CLASSES = (CLASS_ID["road"], CLASS_ID["sidewalk"], CLASS_ID["terrain"])

# KITTI box type of each kind of agent.
KITTI_TYPE = {
    "sedan": "Car",
    "van": "Van",
    "truck": "Truck",
    "pedestrian": "Pedestrian",
    "cyclist": "Cyclist",
}


@dataclass(frozen=True)
class Material:
    """Surface look: RGB colour in [0, 1], LiDAR reflectivity in [0, 1], texture kind."""

    id: int
    name: str
    color: tuple[float, float, float]
    reflectivity: float
    texture: str = "noise"


MATERIALS: tuple[Material, ...] = (
    Material(0, "none", (0.5, 0.5, 0.5), 0.2),
    Material(1, "asphalt", (0.23, 0.23, 0.24), 0.12, "road"),
    Material(2, "concrete", (0.62, 0.61, 0.58), 0.28),
    Material(3, "grass", (0.30, 0.45, 0.18), 0.35),
    Material(4, "facade", (0.70, 0.62, 0.52), 0.30, "windows"),
    Material(5, "brick", (0.55, 0.30, 0.24), 0.30),
    Material(6, "leaves", (0.18, 0.38, 0.14), 0.40),
    Material(7, "bark", (0.35, 0.25, 0.17), 0.30),
    Material(8, "metal", (0.55, 0.56, 0.58), 0.45, "flat"),
    Material(9, "sign", (0.85, 0.85, 0.90), 0.90, "flat"),
    Material(10, "paint", (0.6, 0.1, 0.1), 0.25, "flat"),  # car paint: colour varies per instance
    Material(11, "glass", (0.10, 0.12, 0.15), 0.05, "flat"),
    Material(12, "tyre", (0.05, 0.05, 0.05), 0.08, "flat"),
    Material(13, "skin", (0.80, 0.62, 0.50), 0.35, "flat"),
    Material(14, "cloth", (0.2, 0.25, 0.4), 0.30, "flat"),  # colour varies per instance
    Material(15, "curb", (0.70, 0.70, 0.68), 0.30),
)
MATERIAL_ID = {m.name: m.id for m in MATERIALS}
MATERIAL_COLOR = np.array([m.color for m in MATERIALS], dtype=np.float32)
MATERIAL_REFLECTIVITY = np.array([m.reflectivity for m in MATERIALS], dtype=np.float32)
PER_INSTANCE_COLOR = (MATERIAL_ID["paint"], MATERIAL_ID["cloth"])
