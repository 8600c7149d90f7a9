"""Point-cloud and label I/O: every file the toolkit reads or writes goes through here.

See docs/io.md for the formats table.
"""

from squeezeseg.calib import KittiCalib, format_kitti_calib, read_kitti_calib
from squeezeseg.io.kitti import read_kitti_labels, write_kitti_labels
from squeezeseg.io.point_labels import boxes_to_point_labels
from squeezeseg.io.points import (
    KITTI_FIELDS,
    NUSCENES_FIELDS,
    SCAN_SUFFIXES,
    drop_invalid_points,
    is_scan,
    point_format,
    read_points,
    scan_stem,
    write_points,
)
from squeezeseg.io.semantickitti import read_semantickitti_labels, write_semantickitti_labels
from squeezeseg.io.squeezeseg_format import read_split, read_squeezeseg_npy, write_split, write_squeezeseg_npy
from squeezeseg.io.tracking import read_tracking_labels, write_tracking_labels

__all__ = [
    "KITTI_FIELDS",
    "NUSCENES_FIELDS",
    "SCAN_SUFFIXES",
    "KittiCalib",
    "boxes_to_point_labels",
    "drop_invalid_points",
    "format_kitti_calib",
    "is_scan",
    "point_format",
    "read_kitti_calib",
    "read_kitti_labels",
    "read_points",
    "read_semantickitti_labels",
    "read_split",
    "read_squeezeseg_npy",
    "read_tracking_labels",
    "scan_stem",
    "write_kitti_labels",
    "write_points",
    "write_semantickitti_labels",
    "write_split",
    "write_squeezeseg_npy",
    "write_tracking_labels",
]
