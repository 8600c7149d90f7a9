"""Class and material tables of the simulator.

Every triangle carries a fine class (for SemanticKITTI output and the per-point class table) and a
material (colour and LiDAR reflectivity). Fine classes map to the papers' coarse classes
(0 unknown/background, 1 car, 2 pedestrian, 3 cyclist) and to KITTI box types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COARSE_NAMES = ("unknown", "car", "pedestrian", "cyclist")


@dataclass(frozen=True)
class SimClass:
    """One fine class: ``coarse`` is the SqueezeSeg label, ``semantickitti`` the SemanticKITTI id."""

    id: int
    name: str
    coarse: int
    semantickitti: int


CLASSES: tuple[SimClass, ...] = (
    SimClass(0, "unlabeled", 0, 0),
    SimClass(1, "car", 1, 10),
    SimClass(2, "van", 1, 20),  # SemanticKITTI "other-vehicle"; a car for the papers' classes
    SimClass(3, "truck", 0, 18),  # KITTI keeps trucks out of the Car class
    SimClass(4, "pedestrian", 2, 30),
    SimClass(5, "bicyclist", 3, 31),
    SimClass(6, "bicycle", 3, 11),
    SimClass(7, "road", 0, 40),
    SimClass(8, "sidewalk", 0, 48),
    SimClass(9, "building", 0, 50),
    SimClass(10, "fence", 0, 51),
    SimClass(11, "vegetation", 0, 70),
    SimClass(12, "trunk", 0, 71),
    SimClass(13, "terrain", 0, 72),
    SimClass(14, "pole", 0, 80),
    SimClass(15, "traffic-sign", 0, 81),
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
