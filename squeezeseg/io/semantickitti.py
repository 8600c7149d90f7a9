"""SemanticKITTI point labels (``labels/*.label``): one uint32 per point, the semantic class in the
low 16 bits and the instance id in the high 16 bits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from squeezeseg.atomic import atomic_open
from squeezeseg.errors import InputError


def read_semantickitti_labels(path: str | Path, n_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(classes uint16 (N,), instances uint16 (N,)); ``n_points`` checks the count against the scan."""
    path = Path(path)
    if not path.is_file():
        raise InputError("label file not found", path)
    size = path.stat().st_size
    if size % 4:
        raise InputError(f"size {size} bytes is not a multiple of 4 (one uint32 per point)", path)
    if n_points is not None and size // 4 != n_points:
        raise InputError(f"holds {size // 4} labels but the scan has {n_points} points", path)
    try:
        raw = np.fromfile(path, dtype="<u4")
    except OSError as exc:
        raise InputError(f"cannot read label file: {exc.strerror}", path) from None
    return (raw & 0xFFFF).astype(np.uint16), (raw >> 16).astype(np.uint16)


def write_semantickitti_labels(
    path: str | Path, classes: np.ndarray, instances: np.ndarray | None = None
) -> None:
    """Write classes (and instances, default 0) as a ``.label`` file, atomically."""
    path = Path(path)
    cls = _uint16(classes, "classes", path)
    inst = np.zeros_like(cls) if instances is None else _uint16(instances, "instances", path)
    if cls.shape != inst.shape:
        raise InputError(f"{len(cls)} classes but {len(inst)} instances", path)
    packed = cls.astype("<u4") | (inst.astype("<u4") << 16)
    with atomic_open(path, "wb") as fh:
        fh.write(packed.tobytes())


def _uint16(values: np.ndarray, what: str, path: Path) -> np.ndarray:
    v = np.asarray(values)
    if v.ndim != 1 or v.dtype.kind not in "iu":
        raise InputError(f"{what} must be a 1-D integer array, got {v.dtype} {v.shape}", path)
    if len(v) and (v.min() < 0 or v.max() > 0xFFFF):
        raise InputError(f"{what} must lie in 0..65535, got {v.min()}..{v.max()}", path)
    return v.astype(np.uint16)
