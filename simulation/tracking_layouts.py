"""Object layouts fitted to the KITTI tracking labels (``simulation/data/tracking_layouts.json``, made by
``scripts/fit_tracking_layouts.py``): how many cars, vans, trucks, pedestrians and cyclists a frame
holds, where they stand relative to the sensor and which way they face.

The labels cover the camera's view only (a wedge of about 81 degrees ahead, to about 80 m). The
simulator extends them to the full circle and to the whole road by treating a street's layout as
stationary along the road: an object at lateral offset ``y`` is as likely at any distance along it,
ahead, beside or behind the sensor. The camera's wedge sees lateral offset ``y`` only over the
stretch ``|y| / tan(half field of view) <= x <= X_MAX``, so each sample is weighted by the inverse of
that visible length: this undoes the wedge's bias towards objects near the road's axis, and gives
each class a density per metre of road whose camera-view count equals the labels' mean per frame.

Source of the numbers: KITTI Vision Benchmark, tracking training labels (Geiger et al.), CC BY-NC-SA
3.0; the sequences used are named in the file's "source" field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError

CLASSES = ("Car", "Van", "Truck", "Pedestrian", "Cyclist")
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "tracking_layouts.json"
LICENCE = "KITTI Vision Benchmark, tracking labels (Geiger et al.), CC BY-NC-SA 3.0"
X_MAX = 80.0  # m: the labels' reach ahead of the sensor (KITTI labels objects to about 80 m)
MIN_VISIBLE = 10.0  # m: floor of the visible stretch, so that a few far-off samples don't dominate
SAMPLE_FIELDS = ("x", "y", "heading", "l", "w", "h")


@dataclass(frozen=True)
class ClassLayout:
    """One class's statistics: per-frame count histogram and objects (x, y, heading, l, w, h)."""

    name: str
    count_histogram: np.ndarray  # (K,) frames holding 0, 1, ..., K-1 objects of the class
    samples: np.ndarray  # (S, 6) x, y (Velodyne frame, m), heading relative to the ego (rad), l, w, h
    half_fov: tuple[float, float]  # radians, left (y > 0) and right (y < 0) of the camera's view

    @property
    def mean_count(self) -> float:
        """Objects per labelled frame (camera view)."""
        k = np.arange(len(self.count_histogram))
        return float(k @ self.count_histogram / max(self.count_histogram.sum(), 1))

    def visible_length(self, y: np.ndarray) -> np.ndarray:
        """Length (m) of the stretch ahead over which the camera's wedge sees lateral offset ``y``."""
        y = np.asarray(y, np.float64)
        tan = np.where(y > 0, np.tan(self.half_fov[0]), np.tan(self.half_fov[1]))
        return np.maximum(X_MAX - np.abs(y) / tan, MIN_VISIBLE)

    @property
    def weights(self) -> np.ndarray:
        """Probability of each sample along the whole road (inverse visible length, normalised)."""
        if len(self.samples) == 0:
            return np.zeros(0)
        w = 1.0 / self.visible_length(self.samples[:, 1])
        return w / w.sum()

    @property
    def density(self) -> float:
        """Objects per metre of road, at all lateral offsets, at the labels' mean count per frame."""
        if len(self.samples) == 0:
            return 0.0
        return self.mean_count * float(np.mean(1.0 / self.visible_length(self.samples[:, 1])))

    def place(self, rng: np.random.Generator, x_lo: float, x_hi: float, level: float = 1.0) -> np.ndarray:
        """(N, 6) objects along the road stretch [x_lo, x_hi] (ego at x = 0 and y = 0): a Poisson count
        of mean ``density * level * length``, each a sample (drawn by :attr:`weights`) slid to a
        uniform position along the road; columns as :data:`SAMPLE_FIELDS`."""
        lam = self.density * level * max(x_hi - x_lo, 0.0)
        n = int(rng.poisson(lam)) if lam > 0 else 0
        if n == 0:
            return np.zeros((0, 6))
        out = self.samples[rng.choice(len(self.samples), size=n, p=self.weights)].copy()
        out[:, 0] = rng.uniform(x_lo, x_hi, n)
        return out


@dataclass(frozen=True)
class TrackingLayouts:
    """All classes' layouts and where they came from."""

    classes: dict[str, ClassLayout]
    frames: int
    source: str
    streets: np.ndarray  # (Q,) frames of each labelled drive (sequence)
    street_counts: dict[str, np.ndarray]  # class -> (Q,) mean objects per frame of each drive

    def __getitem__(self, name: str) -> ClassLayout:
        return self.classes[name]

    def draw_levels(self, rng: np.random.Generator) -> dict[str, float]:
        """A scene's traffic level per class: the mean counts of one labelled drive (picked with
        probability by its frames) relative to the labels' overall mean (1.0 = the mean density).
        A drive's mean, not one frame's count, since within the scene the objects' Poisson placement
        already gives the frame-to-frame spread."""
        q = int(rng.choice(len(self.streets), p=self.streets / self.streets.sum()))
        out = {}
        for c, layout in self.classes.items():
            mean = layout.mean_count
            out[c] = float(self.street_counts[c][q] / mean) if mean > 0 else 0.0
        return out


def validate(data: object, path: Path | str) -> None:
    """Raise :class:`InputError` naming ``path`` when ``data`` is not a layouts file's content."""
    if not isinstance(data, dict):
        raise InputError("not a JSON object", path)
    for key in ("source", "licence", "frames", "camera_half_fov_deg", "sequences", "classes"):
        if key not in data:
            raise InputError(f"missing key '{key}'", path)
    fov = data["camera_half_fov_deg"]
    if not (
        isinstance(fov, list)
        and len(fov) == 2
        and all(isinstance(v, int | float) and 0 < v < 90 for v in fov)
    ):
        raise InputError(f"camera_half_fov_deg must be two angles in (0, 90), got {fov!r}", path)
    if not isinstance(data["frames"], int) or data["frames"] <= 0:
        raise InputError(f"frames must be a positive integer, got {data['frames']!r}", path)
    _validate_sequences(data["sequences"], data["frames"], path)
    for c in CLASSES:
        entry = data["classes"].get(c) if isinstance(data["classes"], dict) else None
        if not isinstance(entry, dict):
            raise InputError(f"classes: missing class '{c}'", path)
        hist = np.asarray(entry.get("count_histogram", []), dtype=object)
        if hist.ndim != 1 or len(hist) == 0 or not all(isinstance(v, int) and v >= 0 for v in hist):
            raise InputError(f"classes.{c}.count_histogram must be a list of non-negative integers", path)
        if sum(hist) != data["frames"]:
            raise InputError(
                f"classes.{c}.count_histogram sums to {sum(hist)}, not frames {data['frames']}", path
            )
        try:
            s = np.asarray(entry.get("samples"), np.float64).reshape(-1, len(SAMPLE_FIELDS))
        except (TypeError, ValueError):
            raise InputError(
                f"classes.{c}.samples must be rows of {', '.join(SAMPLE_FIELDS)}", path
            ) from None
        if not np.all(np.isfinite(s)) or np.any(s[:, 3:] <= 0) or np.any(np.abs(s[:, :2]) > 200):
            raise InputError(f"classes.{c}.samples: non-finite values, sizes <= 0 or positions > 200 m", path)
        if sum(hist[1:]) and len(s) == 0:
            raise InputError(f"classes.{c}: frames hold objects but there are no samples", path)


def _validate_sequences(seqs: object, frames: int, path: Path | str) -> None:
    if not isinstance(seqs, dict) or not seqs:
        raise InputError("sequences must be a non-empty object of drives", path)
    total = 0
    for name, entry in seqs.items():
        ok = isinstance(entry, dict) and isinstance(entry.get("frames"), int) and entry["frames"] > 0
        counts = entry.get("mean_count") if ok else None
        if not ok or not isinstance(counts, dict):
            raise InputError(f"sequences.{name}: needs positive integer 'frames' and 'mean_count'", path)
        for c in CLASSES:
            v = counts.get(c)
            if not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise InputError(f"sequences.{name}.mean_count.{c} must be a number >= 0, got {v!r}", path)
        total += entry["frames"]
    if total != frames:
        raise InputError(f"sequences hold {total} frames, not frames {frames}", path)


@lru_cache(maxsize=4)
def load_layouts(path: str | Path | None = None) -> TrackingLayouts:
    """The layouts file (the one shipped in the package when ``path`` is None), validated."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise InputError(
            "the KITTI tracking layouts file is missing (make it with scripts/fit_tracking_layouts.py)", path
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", path) from None
    validate(data, path)
    left, right = (np.radians(v) for v in data["camera_half_fov_deg"])
    classes = {
        c: ClassLayout(
            c,
            np.asarray(data["classes"][c]["count_histogram"], np.float64),
            np.asarray(data["classes"][c]["samples"], np.float64).reshape(-1, len(SAMPLE_FIELDS)),
            (float(left), float(right)),
        )
        for c in CLASSES
    }
    seqs = list(data["sequences"].values())
    streets = np.array([e["frames"] for e in seqs], np.float64)
    counts = {c: np.array([e["mean_count"][c] for e in seqs], np.float64) for c in CLASSES}
    return TrackingLayouts(classes, int(data["frames"]), str(data["source"]), streets, counts)
