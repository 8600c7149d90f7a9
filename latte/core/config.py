"""LATTE settings (configs/latte.yaml) as typed dataclasses: classes, colours and algorithm thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from squeezeseg.config import load_config
from squeezeseg.errors import InputError
from squeezeseg.resources import config_dir


@dataclass(frozen=True)
class ClassConfig:
    """One annotation class: display colour, rigid (keeps its size when tracked), typical size (l, w, h).

    ``rigid``, ``size`` and ``semantic_id`` default to the KITTI type of the same name in
    :mod:`squeezeseg.classes` (the one taxonomy); a class of its own gets rigid, 1 m and id 0 unless
    the config says otherwise. ``size`` is the class's mean size in the KITTI annotation convention;
    one-click grows a partial view to it unless ``grow_to_size`` is false (a catch-all class such as
    Misc, whose mean describes no object in particular).
    """

    name: str
    color: tuple[int, int, int] = (200, 200, 200)
    rigid: bool | None = None
    size: tuple[float, float, float] | None = None
    semantic_id: int | None = None
    grow_to_size: bool = True

    def __post_init__(self) -> None:
        from squeezeseg.classes import KITTI_TYPE, kitti_type

        known = KITTI_TYPE.get(kitti_type(self.name) or "")
        defaults = {
            "rigid": known.rigid if known else True,
            "size": (known.size if known and known.size else (1.0, 1.0, 1.0)),
            "semantic_id": known.semantickitti if known else 0,
        }
        for key, value in defaults.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)


# Display colours of the KITTI types the annotator offers by default.
DEFAULT_COLORS: dict[str, tuple[int, int, int]] = {
    "Car": (0, 220, 255), "Van": (255, 0, 220), "Truck": (255, 130, 0), "Pedestrian": (255, 40, 40),
    "Person_sitting": (255, 150, 200), "Cyclist": (80, 255, 80), "Tram": (150, 110, 255),
    "Misc": (170, 170, 170),
}


@dataclass(frozen=True)
class GroundConfig:
    range_bands: tuple[float, ...] = (0.0, 8.0, 16.0, 30.0, 50.0, 200.0)
    sectors: int = 8
    sensor_height: float = 1.73
    seed_height: float = 0.4
    distance_threshold: float = 0.2
    iterations: int = 3
    min_points: int = 30
    max_slope_deg: float = 15.0

    def __post_init__(self) -> None:
        if len(self.range_bands) < 2 or any(b <= a for a, b in zip(self.range_bands, self.range_bands[1:])):
            raise ValueError("ground.range_bands must be at least two increasing values")
        if self.sectors < 1 or self.iterations < 1:
            raise ValueError("ground.sectors and ground.iterations must be at least 1")


@dataclass(frozen=True)
class OneClickConfig:
    seed_radius: float = 1.5
    seed_reach: float = 0.8
    default_class: str = "Car"
    sensor: str = "hdl64e"
    base_radius: float = 0.25
    gap_factor: float = 8.0
    z_scale: float = 0.35
    radial_scale: float = 0.3
    max_radius: float = 1.5
    max_object_size: float = 14.0
    min_points: int = 3
    max_height_above_ground: float = 4.0
    fitter: Literal["search", "pca"] = "search"
    criterion: Literal["variance", "closeness", "area"] = "closeness"
    angle_step_deg: float = 1.0
    angle_refine_deg: float = 0.1
    edge_trim: float = 0.03
    use_size_prior: bool = True
    plausible_factor: float = 1.3
    shrink_steps: int = 3
    pca_classes: tuple[str, ...] = ("Cyclist",)
    completion_inside: float = 0.5
    completion_gap: float = 2.0
    silhouette_tol: float = 1.0
    whole_view_classes: tuple[str, ...] = ("Pedestrian", "Person_sitting")
    whole_side_steps: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < self.angle_step_deg <= 10:
            raise ValueError("oneclick.angle_step_deg must be in (0, 10]")
        if not self.angle_refine_deg >= 0:  # 0, or not below angle_step_deg: no refinement
            raise ValueError("oneclick.angle_refine_deg must be >= 0 (0: no refinement)")
        if not 0 <= self.edge_trim < 0.5:
            raise ValueError("oneclick.edge_trim must be in [0, 0.5)")
        if self.base_radius <= 0 or self.max_radius < self.base_radius:
            raise ValueError("oneclick radii must satisfy 0 < base_radius <= max_radius")
        if self.gap_factor <= 0 or not (0 < self.z_scale <= 1 and 0 < self.radial_scale <= 1):
            raise ValueError("oneclick.gap_factor must be > 0, z_scale and radial_scale in (0, 1]")
        if not (0 <= self.completion_inside <= 1 and self.completion_gap > 0 and self.silhouette_tol >= 0):
            raise ValueError(
                "oneclick.completion_inside must be in [0, 1], completion_gap > 0, silhouette_tol >= 0"
            )
        if not self.whole_side_steps >= 0:
            raise ValueError("oneclick.whole_side_steps must be >= 0")


@dataclass(frozen=True)
class TrackingConfig:
    dt: float = 0.1
    process_noise: float = 2.0
    observation_noise: float = 0.02
    initial_velocity_std: float = 8.2
    initial_acceleration_std: float = 6.7
    max_gap_s: float = 0.6
    ego_motion: bool = True
    recentre_margin: float = 0.6

    def __post_init__(self) -> None:
        if self.dt <= 0 or self.observation_noise <= 0 or self.process_noise < 0:
            raise ValueError("tracking.dt and tracking.observation_noise must be > 0, process_noise >= 0")
        if self.max_gap_s <= 0:
            raise ValueError("tracking.max_gap_s must be > 0")


@dataclass(frozen=True)
class EgoMotionConfig:
    """Scan registration between consecutive frames (latte.core.ego_motion)."""

    voxel_size: float = 0.5
    min_range: float = 3.0
    max_range: float = 60.0
    max_correspondence: float = 1.0
    max_iterations: int = 30
    robust_k: float = 0.3
    min_fitness: float = 0.3
    min_points: int = 50

    def __post_init__(self) -> None:
        if self.voxel_size <= 0 or self.max_correspondence <= 0 or self.robust_k <= 0:
            raise ValueError("ego_motion.voxel_size, max_correspondence and robust_k must be > 0")
        if not 0 <= self.min_range < self.max_range:
            raise ValueError("ego_motion.min_range must be >= 0 and below max_range")
        if self.max_iterations < 1 or not 0 <= self.min_fitness <= 1:
            raise ValueError("ego_motion.max_iterations must be >= 1 and min_fitness in [0, 1]")


#: Sensor axes conventions: how a scan's (x, y) map to the toolkit's (x forward, y left).
AXES = ("auto", "kitti", "nuscenes")


@dataclass(frozen=True)
class SensorInputConfig:
    """How scans are read: ``axes`` "kitti" (x forward, y left: KITTI, SemanticKITTI, most
    scanners), "nuscenes" (x right, y forward: nuScenes LIDAR_TOP, turned -90 degrees about z on
    reading) or "auto" (nuScenes for ``.pcd.bin`` files, else kitti)."""

    axes: str = "auto"

    def __post_init__(self) -> None:
        if self.axes not in AXES:
            raise ValueError(f"sensor.axes must be one of {', '.join(AXES)}, got {self.axes!r}")


@dataclass(frozen=True)
class FusionConfig:
    min_points: int = 5
    score_threshold: float = 0.3
    crop_margin: float = 0.1


@dataclass(frozen=True)
class SessionConfig:
    idle_limit_s: float = 60.0
    ground_semantic_id: int = 49
    background_semantic_id: int = 0


@dataclass(frozen=True)
class LatteConfig:
    """All LATTE settings; ``LatteConfig()`` gives the shipped defaults without reading a file."""

    # Sizes, rigidity and SemanticKITTI ids come from squeezeseg.classes.KITTI_TYPES.
    classes: tuple[ClassConfig, ...] = tuple(
        ClassConfig(name, color, grow_to_size=name != "Misc") for name, color in DEFAULT_COLORS.items()
    )
    ground: GroundConfig = field(default_factory=GroundConfig)
    oneclick: OneClickConfig = field(default_factory=OneClickConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    ego_motion: EgoMotionConfig = field(default_factory=EgoMotionConfig)
    sensor: SensorInputConfig = field(default_factory=SensorInputConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    session: SessionConfig = field(default_factory=SessionConfig)

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        if not names or len(set(names)) != len(names):
            raise ValueError("classes must be a non-empty list of unique names")

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def class_config(self, name: str) -> ClassConfig | None:
        """The class ``name`` means (any spelling :func:`squeezeseg.classes.canonical` resolves: case,
        plurals, aliases such as "person"), or None."""
        from squeezeseg.classes import match_class

        hit = match_class(name, self.class_names)
        return None if hit is None else self.classes[self.class_names.index(hit)]

    def is_rigid(self, name: str) -> bool:
        c = self.class_config(name)
        return True if c is None else c.rigid


def default_config_path() -> Path:
    return config_dir() / "latte.yaml"


def load_latte_config(path: str | Path | LatteConfig | None = None) -> LatteConfig:
    """The settings of ``path`` (default ``configs/latte.yaml``; built-in defaults if that file is absent).

    A LatteConfig is passed through; a file is read once and the same (immutable) object is returned
    until the file changes, so the components of one app or command share one configuration.
    """
    if isinstance(path, LatteConfig):
        return path
    if path is None:
        path = default_config_path()
        if not path.exists():
            return LatteConfig()
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise InputError("LATTE config file not found", path) from None
    return _load_cached(path.resolve(), stamp)


@lru_cache(maxsize=8)
def _load_cached(path: Path, _stamp: int) -> LatteConfig:
    return load_config(LatteConfig, path)
