"""The SqueezeDet multi-task loss, normalised as in the paper (Wu et al. 2017, eq. 2).

* box regression: lambda_bbox / N_obj * sum over responsible anchors of the squared delta errors;
* confidence: lambda+ / N_obj * sum over responsible anchors of (IoU(pred, gt) - gamma)^2
  + lambda- / N_neg * sum over the other anchors of gamma^2 (IoU target not differentiated), N_neg
  = A_total - N_obj - anchors in ignore regions (mask -1, DontCare: see targets.assign);
* class: 1 / N_obj * cross-entropy over responsible anchors.
N_obj counts the responsible anchors of the whole batch (one per object, the paper's assignment, unless
the config's ``positive_iou`` makes more anchors responsible), A_total its anchors.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from squeezeseg.detection.postprocess import decode_boxes, split_output


def _corner_iou(a, b):
    """Element-wise IoU of corner boxes (..., 4)."""
    iw = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    ih = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (
        b[..., 3] - b[..., 1]
    )
    return inter / ops.maximum(union - inter, 1e-6)


def loss_terms(
    y_true,
    y_pred,
    anchors: np.ndarray,
    num_classes: int,
    image_size: tuple[int, int],
    coef: tuple[float, float, float, float] = (5.0, 75.0, 100.0, 1.0),
) -> dict:
    """The three weighted loss terms: packed targets ``y_true`` (B, A, 9 + C) vs. ConvDet ``y_pred``."""
    c_bbox, c_pos, c_neg, c_cls = coef
    K = anchors.shape[0] // (int(y_pred.shape[1]) * int(y_pred.shape[2]))
    cls_logits, conf_logits, deltas = split_output(y_pred, K, num_classes, xp=ops)
    mask = ops.maximum(y_true[..., 0], 0.0)  # responsible anchors
    negative = 1.0 - ops.abs(y_true[..., 0])  # neither responsible nor ignored (mask -1)
    gt_deltas, gt_boxes, onehot = y_true[..., 1:5], y_true[..., 5:9], y_true[..., 9:]
    n_obj = ops.maximum(ops.sum(mask), 1.0)
    n_neg = ops.maximum(ops.sum(negative), 1.0)

    bbox = c_bbox * ops.sum(mask[..., None] * ops.square(deltas - gt_deltas)) / n_obj

    anchors_t = ops.convert_to_tensor(anchors[None], dtype="float32")
    pred_boxes = decode_boxes(anchors_t, deltas, image_size, xp=ops)
    gt_corners = ops.concatenate(
        [gt_boxes[..., :2] - gt_boxes[..., 2:] / 2, gt_boxes[..., :2] + gt_boxes[..., 2:] / 2], -1
    )
    iou = ops.stop_gradient(_corner_iou(pred_boxes, gt_corners) * mask)
    conf = ops.sigmoid(conf_logits)
    conf_loss = (
        c_pos * ops.sum(mask * ops.square(iou - conf)) / n_obj
        + c_neg * ops.sum(negative * ops.square(conf)) / n_neg
    )

    logp = ops.log_softmax(cls_logits, axis=-1)
    cls = c_cls * ops.sum(mask * -ops.sum(onehot * logp, axis=-1)) / n_obj
    return {"bbox": bbox, "conf": conf_loss, "class": cls}


@keras.saving.register_keras_serializable(package="squeezeseg")
class SqueezeDetLoss(keras.losses.Loss):
    """Keras loss: packed targets (from :meth:`Targets.packed`) vs. the ConvDet output; returns the total.

    Built from the model config (a dict), so a saved model stores the config, not 10^4 anchors.
    """

    def __init__(self, config: dict, name="squeezedet_loss", **kwargs):
        from squeezeseg.config import from_dict
        from squeezeseg.detection.model import SqueezeDetConfig

        super().__init__(name=name, **kwargs)
        self.config = dict(config)
        cfg = from_dict(SqueezeDetConfig, self.config)
        self.anchors = cfg.anchors()
        self.num_classes = len(cfg.classes)
        self.image_size = cfg.input_size
        self.coef = (cfg.loss_bbox, cfg.loss_conf_pos, cfg.loss_conf_neg, cfg.loss_class)

    def call(self, y_true, y_pred):
        t = loss_terms(y_true, y_pred, self.anchors, self.num_classes, self.image_size, self.coef)
        return t["bbox"] + t["conf"] + t["class"]

    def get_config(self):
        return {"config": self.config, "name": self.name}
