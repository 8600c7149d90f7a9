"""Model configuration: architecture, input size, classes, CRF and training hyper-parameters.

Loaded from ``configs/models/*.yaml``; the same dict is stored inside every saved model so inference
uses exactly the numbers (classes, normalisation, sensor window) the model was trained with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from squeezeseg.config import bounded, check_bounds, from_dict, load_config
from squeezeseg.errors import InputError
from squeezeseg.resources import config_path

# Input normalisation of the SqueezeSeg dataset (x, y, z, intensity, range), from the original release.
SQUEEZESEG_MEAN = [10.88, 0.23, -1.04, 0.21, 12.12]
SQUEEZESEG_STD = [11.47, 6.91, 0.86, 0.16, 12.32]


@dataclass
class CRFConfig:
    """Recurrent CRF hyper-parameters (per-class lists follow ``classes``)."""

    enabled: bool = True
    iterations: int = bounded(3, ge=0)
    size: list[int] = bounded(default_factory=lambda: [3, 5], ge=1)
    bilateral_theta_a: list[float] = bounded(default_factory=lambda: [0.9, 0.9, 0.6, 0.6], gt=0)
    bilateral_theta_r: list[float] = bounded(default_factory=lambda: [0.015, 0.015, 0.01, 0.01], gt=0)
    bilateral_coef: float = bounded(0.1, ge=0)
    angular_theta_a: list[float] = bounded(default_factory=lambda: [0.9, 0.9, 0.6, 0.6], gt=0)
    angular_coef: float = bounded(0.02, ge=0)


@dataclass
class TrainConfig:
    """Optimiser and schedule (the papers': SGD 0.05, momentum 0.9, halved every 10k steps)."""

    # "sgd": SGD with momentum (the papers'); "adam": AdamW (momentum unused), steadier on small networks
    optimizer: Literal["sgd", "adam"] = "sgd"
    # "step": times lr_decay_factor every lr_decay_steps; "cosine": cosine decay to 0 at the run's last step
    lr_schedule: Literal["step", "cosine"] = "step"
    warmup_steps: int = bounded(0, ge=0)  # linear warm-up from 0 (cosine schedule only)
    learning_rate: float = bounded(0.05, gt=0)
    momentum: float = bounded(0.9, ge=0, lt=1)
    lr_decay_steps: int = bounded(10000, ge=1)
    lr_decay_factor: float = bounded(0.5, gt=0, le=1)
    grad_clip: float = bounded(1.0, ge=0)
    weight_decay: float = bounded(1e-4, ge=0)
    batch_size: int = bounded(40, ge=1)
    steps: int = bounded(10000, ge=1)
    checkpoint_every: int = bounded(500, ge=1)
    seed: int = bounded(0, ge=0, lt=2**32)
    flip: bool = True
    # train on random column crops this wide (0: whole images); the saved model takes full width
    crop_width: int = bounded(0, ge=0)
    # "dataset": mean/std measured on the training split (stored in the model); "config": as given
    normalization: Literal["dataset", "config"] = "dataset"
    normalization_frames: int = bounded(200, ge=1)
    # augmentation (squeezeseg.data.augment; 0 turns each off)
    rotate_deg: float = bounded(0.0, ge=0, le=180)  # point-cloud data: turned by U(-r, r) deg about z
    tilt_deg: float = bounded(0.0, ge=0, le=10)  # point-cloud data: pitch and roll each U(-t, t) deg
    scale: float = bounded(0.0, ge=0, lt=1)  # x, y, z, range * U(1 - s, 1 + s)
    z_shift: float = bounded(0.0, ge=0, le=2)  # sensor height jitter: z + U(-h, h) metres
    intensity_gain: float = bounded(0.0, ge=0, lt=1)  # intensity * U(1 - g, 1 + g)
    intensity_noise: float = bounded(0.0, ge=0, le=1)  # intensity + N(0, s) per pixel
    intensity_zero: float = bounded(0.0, ge=0, le=1)  # probability of a frame with intensity 0
    # object pixels (label >= 1): intensity * 2 ** U(-a, a) per class and frame; with probability p the
    # intensities of random background pixels instead (squeezeseg.data.augment.object_intensity)
    object_intensity_gain: float = bounded(0.0, ge=0, le=4)
    object_intensity_shuffle: float = bounded(0.0, ge=0, le=1)
    ring_dropout: float = bounded(0.0, ge=0, lt=1)  # probability each row (ring) is emptied
    point_dropout: float = bounded(0.0, ge=0, lt=1)  # probability each pixel is emptied
    # class-balanced loss: class_weights * (pixel share of the class in the training data) ** -p,
    # rescaled to the same mean weight per pixel; 0 uses class_weights as given
    class_balance: float = bounded(0.0, ge=0, le=1)
    # exponential moving average of the weights (Keras optimizer EMA, the saved model holds the
    # average): a flatter, steadier model than the last step's; 0 turns it off, 0.999 ~ last 1k steps
    ema: float = bounded(0.0, ge=0, lt=1)
    # range-weighted loss: each pixel weighs max(range / range_weight_ref, 1) ** p in its frame's
    # weighted mean, so that a far object's few pixels count more (an object's pixel count falls with
    # the square of its range); 0 turns it off (every pixel weighs 1)
    range_weight: float = bounded(0.0, ge=0, le=2)
    range_weight_ref: float = bounded(10.0, gt=0)


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
    height: int = bounded(64, ge=1)
    width: int = bounded(512, ge=16)
    channels: int = 5
    # false: the network reads every intensity as 0 (RangeNormalization), for sensors or simulated
    # data whose intensity does not carry over to the scans it will segment
    use_intensity: bool = True
    classes: list[str] = field(default_factory=lambda: ["unknown", "car", "pedestrian", "cyclist"])
    class_weights: list[float] = bounded(default_factory=lambda: [1 / 3, 1.0, 3.5, 3.5], ge=0)
    width_multiplier: float = bounded(1.0, gt=0)
    dropout: float = bounded(0.5, ge=0, lt=1)
    loss: Literal["cross_entropy", "focal"] = "focal"
    focal_gamma: float = bounded(2.0, ge=0)
    sensor: str = "hdl64e"
    fov_deg: float = bounded(90.0, gt=0, le=360)
    mean: list[float] = bounded(default_factory=lambda: list(SQUEEZESEG_MEAN))
    std: list[float] = bounded(default_factory=lambda: list(SQUEEZESEG_STD), gt=0)
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

    def check(self, source: str | Path = "<model config>") -> None:
        """Check every range again (after command-line overrides): InputError naming the key."""
        check_bounds(self, source)
        try:
            self.__post_init__()
        except ValueError as exc:
            raise InputError(str(exc), source) from None

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
