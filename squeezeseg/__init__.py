"""SqueezeSeg toolkit: LiDAR I/O, spherical projection, SqueezeSeg/SqueezeSegV2/SqueezeDet networks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load_model", "__version__"]


def load_model(path=None, engine: str = "keras"):
    """Load a segmenter (the shipped default when ``path`` is None); see :mod:`squeezeseg.runtime`."""
    from squeezeseg.runtime import load_model as _load

    return _load(path, engine=engine)
