"""Where the float32 LiteRT copies of ``.keras`` models live in the user's cache, and finding a checked
one (what :mod:`squeezeseg.runtime` needs to start without TensorFlow). Making and checking a copy is
:mod:`squeezeseg.export.cache`, which needs the converter; this module needs neither.

The copy is keyed by the SHA-1 of the ``.keras`` file, so new weights (same architecture or not)
get a new copy and a stale one is never used, and by ``LAYOUT``, the form of the exported file.
Location: ``$SQUEEZESEG_CACHE_DIR``, else
``$XDG_CACHE_HOME/squeezeseg``, else ``~/.cache/squeezeseg``; where none is writable there is no copy
and commands run the Keras model as before. ``SQUEEZESEG_MODEL_CACHE=0`` turns the copies off (none
made, none used).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
CACHE_ENV = "SQUEEZESEG_CACHE_DIR"
ENABLE_ENV = "SQUEEZESEG_MODEL_CACHE"  # 0/no/off/false: no LiteRT copies made or used
MIN_AGREEMENT = 0.999  # share of valid pixels whose class the copy must give as Keras does
FORMAT = "float32"
#: Form of the copies, part of their file names: a new one makes earlier copies unused (they stay
#: valid files, just slower). 2: the CRF runs after the network as a compiled kernel
#: (``squeezeseg export --crf kernel``, :mod:`squeezeseg.crf_kernel`) instead of inside the graph.
LAYOUT = 2


def enabled() -> bool:
    """False when $SQUEEZESEG_MODEL_CACHE turns the copies off."""
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


def cache_dir() -> Path:
    """Folder of the cached model copies (see the module docstring); not created here."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "squeezeseg"


def file_sha1(path: str | Path) -> str:
    """SHA-1 (hex) of a file's bytes."""
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_path(keras_path: str | Path, sha1: str | None = None) -> Path:
    """Where the LiteRT copy of ``keras_path`` lives (whether or not it exists)."""
    keras_path = Path(keras_path)
    sha1 = sha1 or file_sha1(keras_path)
    return cache_dir() / "tflite" / f"{keras_path.stem}-{sha1[:20]}.{FORMAT}.v{LAYOUT}.tflite"


def record_path(copy: Path) -> Path:
    return copy.with_suffix(".json")


def find_copy(keras_path: str | Path) -> Path | None:
    """The checked LiteRT copy of ``keras_path``, or None (none yet, refused, unreadable, or copies
    turned off)."""
    if not enabled():
        return None
    try:
        copy = copy_path(keras_path)
        record = json.loads(record_path(copy).read_text())
    except (OSError, ValueError):
        return None
    if not record.get("accepted") or not copy.is_file():
        return None
    return copy


def was_refused(keras_path: str | Path) -> bool:
    """True when a copy of ``keras_path`` was made and refused (it disagreed with Keras)."""
    try:
        record = json.loads(record_path(copy_path(keras_path)).read_text())
    except (OSError, ValueError):
        return False
    return record.get("accepted") is False
