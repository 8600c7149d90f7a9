"""SqueezeDet (Wu et al., 2017): a SqueezeNet 1.1 fire backbone and the ConvDet layer.

The backbone is conv1, fire2-fire11 (the paper's Table 1: SqueezeNet 1.1 plus two extra fire modules)
with max-pooling after the layers named in ``pool_after``, total stride 16; dropout; then ConvDet, one
3x3 convolution with K x (C + 1 + 4) outputs per grid cell. SqueezeDet+ and a small variant are configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from squeezeseg.config import from_dict, read_yaml
from squeezeseg.errors import InputError
from squeezeseg.resources import config_path

STRIDE = 16

#: The paper's KITTI anchor shapes (width, height) at 1248x384.
KITTI_ANCHORS = [
    [36.0, 37.0],
    [366.0, 174.0],
    [115.0, 59.0],
    [162.0, 87.0],
    [38.0, 90.0],
    [258.0, 173.0],
    [224.0, 108.0],
    [78.0, 170.0],
    [72.0, 43.0],
]


@dataclass
class SqueezeDetConfig:
    """Architecture, anchors, loss weights and post-processing of a SqueezeDet (configs/models/*.yaml)."""

    name: str = "squeezedet"
    classes: list[str] = field(default_factory=lambda: ["Car", "Pedestrian", "Cyclist"])
    input_width: int = 1248
    input_height: int = 384
    conv1: list[int] = field(default_factory=lambda: [64, 3])  # filters, kernel (stride 2)
    fires: list[list[int]] = field(
        default_factory=lambda: [
            [16, 64, 64],
            [16, 64, 64],
            [32, 128, 128],
            [32, 128, 128],
            [48, 192, 192],
            [48, 192, 192],
            [64, 256, 256],
            [64, 256, 256],
            [96, 384, 384],
            [96, 384, 384],
        ]
    )
    pool_after: list[int] = field(default_factory=lambda: [1, 3, 5])  # 1 = conv1, n = fire n
    batch_norm: bool = False
    dropout: float = 0.5
    anchor_shapes: list[list[float]] = field(default_factory=lambda: [list(a) for a in KITTI_ANCHORS])
    anchors_at: list[int] = field(default_factory=lambda: [1248, 384])  # image size the shapes refer to
    loss_bbox: float = 5.0
    loss_conf_pos: float = 75.0
    loss_conf_neg: float = 100.0
    loss_class: float = 1.0
    # Anchor assignment: 0 = the paper's one responsible anchor per object; > 0 also makes every anchor
    # whose IoU with an object reaches it responsible (more anchors learn each box; at 0.5 it did not
    # tighten the boxes, docs/squeezedet.md "More simulated scenes, not more anchors").
    positive_iou: float = 0.0
    top_n: int = 64
    nms_threshold: float = 0.4
    score_threshold: float = 0.05
    # The operating point per class (score below it: no detection), tuned on simulated validation images
    # by `squeezedet tune`; a class not named here uses ``score_threshold``.
    class_score_thresholds: dict[str, float] = field(default_factory=dict)
    optimizer: str = (
        "adam"  # "adam" (from scratch) or "sgd" (the paper's, momentum 0.9, for pretrained backbones)
    )
    learning_rate: float = 0.001
    lr_schedule: str = "cosine"  # "cosine" decays to 0 over the run (steadier last weights), or "constant"
    weight_decay: float = 0.0001
    clip_norm: float = 1.0
    batch_size: int = 20
    # Training: also randomise what the renderer holds fixed within a sequence (data.photometric:
    # exposure per image, sensor noise); white balance, gamma, blur etc. vary per rendered sequence.
    photometric: bool = False

    def __post_init__(self) -> None:
        if (
            self.input_width % STRIDE
            or self.input_height % STRIDE
            or min(self.input_width, self.input_height) <= 0
        ):
            raise ValueError(
                f"input size {self.input_width}x{self.input_height} must be positive, divisible by {STRIDE}"
            )
        if len(self.fires) != 10 or any(len(f) != 3 for f in self.fires):
            raise ValueError(
                "'fires' must list 10 fire modules (fire2-fire11) as [squeeze, expand1x1, expand3x3]"
            )
        if sum(1 for p in self.pool_after if 1 <= p <= 11) != 3 or len(set(self.pool_after)) != 3:
            raise ValueError("'pool_after' must name 3 distinct layers in 1..11 (1 = conv1) for stride 16")
        if not self.classes:
            raise ValueError("'classes' must not be empty")
        if any(len(a) != 2 or min(a) <= 0 for a in self.anchor_shapes):
            raise ValueError("'anchor_shapes' must be positive [width, height] pairs")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"'optimizer' must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"'lr_schedule' must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not 0 <= self.positive_iou < 1:
            raise ValueError("'positive_iou' must be in [0, 1)")
        if not 0 <= self.dropout < 1:
            raise ValueError("'dropout' must be in [0, 1)")
        unknown = sorted(set(self.class_score_thresholds) - set(self.classes))
        if unknown:
            raise ValueError(f"'class_score_thresholds' names classes the model lacks: {unknown}")
        if any(not 0 <= v <= 1 for v in self.class_score_thresholds.values()):
            raise ValueError("'class_score_thresholds' values must be in [0, 1]")

    @property
    def num_anchors(self) -> int:
        return len(self.anchor_shapes)

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the network input."""
        return self.input_width, self.input_height

    @property
    def grid_size(self) -> tuple[int, int]:
        """(width, height) of the ConvDet grid."""
        return self.input_width // STRIDE, self.input_height // STRIDE

    def anchors(self) -> np.ndarray:
        """(H * W * K, 4) anchors (cx, cy, w, h) at the input size."""
        from squeezeseg.detection.anchors import anchor_grid, scale_shapes

        shapes = scale_shapes(self.anchor_shapes, tuple(self.anchors_at), self.input_size)
        return anchor_grid(shapes, self.input_size, self.grid_size).astype(np.float32)

    def score_thresholds(self) -> np.ndarray:
        """(C,) the operating-point score threshold of each class (tuned, else ``score_threshold``)."""
        return np.array(
            [self.class_score_thresholds.get(c, self.score_threshold) for c in self.classes], np.float32
        )

    def to_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)


def load_squeezedet_config(name_or_path: str | Path = "squeezedet", **overrides) -> SqueezeDetConfig:
    """Config from `configs/models/<name>.yaml` (or a YAML path), with keyword ``overrides`` applied."""
    path = config_path("models", str(name_or_path))
    data = {**read_yaml(path), **overrides}
    return from_dict(SqueezeDetConfig, data, source=path)


def build_squeezedet(config: SqueezeDetConfig | None = None):
    """The Keras model: float RGB image (H, W, 3) in 0..255 -> ConvDet output (H/16, W/16, K*(C+1+4)).

    Input scaling lives inside the model so every engine (Keras, TFLite, ONNX) takes raw pixel values.
    """
    import keras
    from keras import layers

    from squeezeseg.nn import Fire

    cfg = config or SqueezeDetConfig()
    reg = keras.regularizers.L2(cfg.weight_decay) if cfg.weight_decay > 0 else None
    inp = keras.Input((cfg.input_height, cfg.input_width, 3), name="image")
    x = layers.Rescaling(1.0 / 128.0, offset=-1.0, name="scale")(inp)
    x = layers.Conv2D(
        cfg.conv1[0], cfg.conv1[1], strides=2, padding="same", name="conv1", kernel_regularizer=reg
    )(x)
    if cfg.batch_norm:
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    if 1 in cfg.pool_after:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for i, (s, e1, e3) in enumerate(cfg.fires, start=2):
        x = Fire(s, e1, e3, batch_norm=cfg.batch_norm, name=f"fire{i}")(x)
        if i in cfg.pool_after:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    if cfg.dropout > 0:
        x = layers.Dropout(cfg.dropout, name="drop11")(x)
    out = layers.Conv2D(
        cfg.num_anchors * (len(cfg.classes) + 5),
        3,
        padding="same",
        name="conv_det",
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.0001),
        kernel_regularizer=reg,
    )(x)
    return keras.Model(inp, out, name=cfg.name)


def check_image_size(width: int, height: int) -> None:
    """Raise InputError unless the size is one the network accepts."""
    if width % STRIDE or height % STRIDE:
        raise InputError(f"input size {width}x{height} must be divisible by {STRIDE}")
