"""Model configuration: architecture, input size, classes, CRF and training hyper-parameters.

Loaded from ``configs/models/*.yaml``; the same dict is stored inside every saved model so inference
uses exactly the numbers (classes, normalisation, sensor window) the model was trained with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from squeezeseg.config import from_dict, load_config
from squeezeseg.errors import InputError
from squeezeseg.resources import config_path

# Input normalisation of the SqueezeSeg dataset (x, y, z, intensity, range), from the original release.
SQUEEZESEG_MEAN = [10.88, 0.23, -1.04, 0.21, 12.12]
SQUEEZESEG_STD = [11.47, 6.91, 0.86, 0.16, 12.32]


@dataclass
class CRFConfig:
    """Recurrent CRF hyper-parameters (per-class lists follow ``classes``)."""

    enabled: bool = True
    iterations: int = 3
    size: list[int] = field(default_factory=lambda: [3, 5])
    bilateral_theta_a: list[float] = field(default_factory=lambda: [0.9, 0.9, 0.6, 0.6])
    bilateral_theta_r: list[float] = field(default_factory=lambda: [0.015, 0.015, 0.01, 0.01])
    bilateral_coef: float = 0.1
    angular_theta_a: list[float] = field(default_factory=lambda: [0.9, 0.9, 0.6, 0.6])
    angular_coef: float = 0.02


@dataclass
class TrainConfig:
    """Optimiser and schedule (the papers': SGD 0.05, momentum 0.9, halved every 10k steps)."""

    learning_rate: float = 0.05
    momentum: float = 0.9
    lr_decay_steps: int = 10000
    lr_decay_factor: float = 0.5
    grad_clip: float = 1.0
    weight_decay: float = 1e-4
    batch_size: int = 40
    steps: int = 10000
    checkpoint_every: int = 500
    seed: int = 0
    flip: bool = True
    # train on random column crops this wide (0: whole images); the saved model takes full width
    crop_width: int = 0
    # "dataset": mean/std measured on the training split (stored in the model); "config": as given
    normalization: Literal["dataset", "config"] = "dataset"
    normalization_frames: int = 200


@dataclass
class DataConfig:
    """Where training data comes from (see :mod:`squeezeseg.data`)."""

    kind: Literal["squeezeseg", "semantickitti", "simulator"] = "squeezeseg"
    root: str = ""
    train_split: str = "train"
    val_split: str = "val"
    label_map: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Everything needed to build, train and run one segmentation network."""

    name: str = "squeezesegv2"
    architecture: Literal["squeezeseg", "squeezesegv2"] = "squeezesegv2"
    height: int = 64
    width: int = 512
    channels: int = 5
    classes: list[str] = field(default_factory=lambda: ["unknown", "car", "pedestrian", "cyclist"])
    class_weights: list[float] = field(default_factory=lambda: [1 / 3, 1.0, 3.5, 3.5])
    width_multiplier: float = 1.0
    dropout: float = 0.5
    loss: Literal["cross_entropy", "focal"] = "focal"
    focal_gamma: float = 2.0
    sensor: str = "hdl64e"
    fov_deg: float = 90.0
    mean: list[float] = field(default_factory=lambda: list(SQUEEZESEG_MEAN))
    std: list[float] = field(default_factory=lambda: list(SQUEEZESEG_STD))
    crf: CRFConfig = field(default_factory=CRFConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self):
        c = len(self.classes)
        if c < 2:
            raise ValueError("'classes' needs at least two classes")
        if len(self.class_weights) != c:
            raise ValueError(f"'class_weights' has {len(self.class_weights)} values for {c} classes")
        for key in ("bilateral_theta_a", "bilateral_theta_r", "angular_theta_a"):
            if len(getattr(self.crf, key)) != c:
                raise ValueError(f"'crf.{key}' has {len(getattr(self.crf, key))} values for {c} classes")
        if self.channels != 5:
            raise ValueError("'channels' must be 5 (x, y, z, intensity, range)")
        if len(self.mean) != 5 or len(self.std) != 5 or min(self.std) <= 0:
            raise ValueError("'mean' and 'std' need 5 values (x, y, z, intensity, range), std > 0")
        if self.height < 1 or self.width % 16 != 0:
            raise ValueError(f"'width' must be a multiple of 16 (got {self.width})")
        if self.train.crop_width and (self.train.crop_width % 16 or self.train.crop_width > self.width):
            raise ValueError("'train.crop_width' must be a multiple of 16 and at most 'width'")
        if self.width_multiplier <= 0:
            raise ValueError("'width_multiplier' must be positive")

    @property
    def batch_norm(self) -> bool:
        """SqueezeSegV2 puts batch norm after every convolution."""
        return self.architecture == "squeezesegv2"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "<model config>") -> ModelConfig:
        return from_dict(cls, data, source=source)


def load_model_config(name_or_path: str | Path) -> ModelConfig:
    """Load ``configs/models/<name>.yaml`` or a YAML path into a :class:`ModelConfig`."""
    path = config_path("models", str(name_or_path))
    if not path.is_file():
        raise InputError("model config not found (give a configs/models name or a YAML path)", path)
    return load_config(ModelConfig, path)
