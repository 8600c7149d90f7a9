"""SqueezeDet image detection: anchors, targets, loss, post-processing, KITTI data and evaluation.

The network itself is :mod:`squeezeseg.detection.model`; inference is
:class:`squeezeseg.detection.detect.SqueezeDetector`.
"""
