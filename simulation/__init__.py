"""LiDAR and camera simulator that makes labelled driving sequences (the open replacement for the
GTA-V data of the SqueezeSeg papers). No TensorFlow here.

Main entry points (imported lazily so ``import simulation`` stays cheap):

- :func:`generate_dataset` writes a dataset (``kitti-raw``, ``kitti-object`` or ``squeezeseg`` layout).
- :func:`simulate_sequence` returns in-memory :class:`Frame` objects (points, labels, boxes, image, calib).
- :class:`SequenceSimulator` gives frame by frame access; :func:`estimate_dropout_map` fits the dropout model.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "generate_dataset": "simulation.dataset",
    "simulate_sequence": "simulation.sequence",
    "SequenceSimulator": "simulation.sequence",
    "Frame": "simulation.sequence",
    "generate_scene": "simulation.scene",
    "LidarSimulator": "simulation.lidar",
    "CameraSimulator": "simulation.camera",
    "kitti_calibration": "simulation.camera",
    "DropoutMap": "simulation.dropout",
    "estimate_dropout_map": "simulation.dropout",
    "load_dropout_map": "simulation.dropout",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simulation' has no attribute {name!r}")
