"""Image detectors for camera fusion: one interface, a file-based implementation.

A detector returns 2D detections (box in image pixels, class, score, optional instance mask) for a
camera image. ``frame_id`` lets detectors that read precomputed results find the right file;
network detectors ignore it. The SqueezeDet network detector lives in
``latte/core/squeezedet_detector.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError

log_name = __name__


@dataclass(frozen=True)
class Detection2D:
    """A 2D detection: ``box`` (left, top, right, bottom) in pixels, class ``label``, ``score``,
    and an optional (H, W) bool instance ``mask``."""

    box: tuple[float, float, float, float]
    label: str
    score: float = 1.0
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        b = tuple(float(v) for v in self.box)
        if len(b) != 4 or not np.all(np.isfinite(b)) or b[2] < b[0] or b[3] < b[1]:
            raise ValueError(f"Detection2D box must be finite (left, top, right, bottom), got {self.box}")
        object.__setattr__(self, "box", b)


class Detector(ABC):
    """Interface of every image detector used by fusion."""

    @abstractmethod
    def detect(self, image: np.ndarray | None, frame_id: str | None = None) -> list[Detection2D]:
        """2D detections in ``image`` ((H, W, 3) uint8)."""


class FileDetector(Detector):
    """Reads 2D boxes from KITTI-style label files (``<folder>/<frame_id>.txt``; DontCare skipped).

    A line's 2D box is fields 4-7; the score is the 16th field when present (else 1). Malformed
    lines are reported (InputError naming file and line) unless ``strict=False``.
    """

    def __init__(self, folder: str | Path, strict: bool = True):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError("detection folder not found", self.folder)
        self.strict = strict
        self.errors: list[InputError] = []

    def detect(self, image: np.ndarray | None, frame_id: str | None = None) -> list[Detection2D]:
        if frame_id is None:
            raise ValueError("FileDetector needs the frame_id to find its label file")
        path = self.folder / f"{frame_id}.txt"
        if not path.exists():
            return []
        return read_detections(path, self.strict, self.errors)

    def check(self, frame_ids: list[str]) -> list[InputError]:
        """Read the label files of ``frame_ids`` ahead of the work: the malformed lines, each naming
        file and line (an unreadable file is one error too)."""
        errors: list[InputError] = []
        for fid in frame_ids:
            path = self.folder / f"{fid}.txt"
            if not path.exists():
                continue
            try:
                read_detections(path, strict=False, errors=errors)
            except InputError as exc:
                errors.append(exc)
        return errors


def read_detections(
    path: Path, strict: bool = True, errors: list[InputError] | None = None
) -> list[Detection2D]:
    """2D detections of one KITTI label file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read detections: {exc}", path) from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok or tok[0] == "DontCare":
            continue
        try:
            if len(tok) < 8:
                raise ValueError(f"expected at least 8 values, got {len(tok)}")
            score = float(tok[15]) if len(tok) > 15 else 1.0
            out.append(Detection2D(tuple(float(v) for v in tok[4:8]), tok[0], score))
        except ValueError as exc:
            err = InputError(f"line {lineno}: {exc}", path)
            if strict:
                raise err from None
            if errors is not None:
                errors.append(err)
    return out
