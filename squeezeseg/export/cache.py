"""A float32 LiteRT copy of a ``.keras`` segmentation model, exported once and kept in the user's cache.

Why: importing TensorFlow, loading the Keras model and compiling its first call take 5-15 s on a
small CPU before ``squeezeseg infer`` gives its first result; LiteRT (``ai-edge-litert``) loads the
same network in a fraction of a second and runs it about as fast. The copy is exported by the first
run that has TensorFlow loaded anyway (``squeezeseg infer`` with ``--engine auto``), checked against
the Keras model on the windows of real scans (class agreement at least ``MIN_AGREEMENT`` of the
valid pixels) and only then kept; every later run starts from it. A copy that disagrees is not kept,
and a marker records that, so later runs stay on Keras without trying again.

The copy is keyed by the SHA-1 of the ``.keras`` file, so new weights (same architecture or not)
get a new copy and a stale one is never used, and by ``LAYOUT`` (the form of the file: since layout 2
the CRF runs after the network as a compiled kernel, :mod:`squeezeseg.crf_kernel`), so copies of an
earlier form are not used either. Location: ``$SQUEEZESEG_CACHE_DIR``, else
``$XDG_CACHE_HOME/squeezeseg``, else ``~/.cache/squeezeseg``; where none is writable there is no copy
and commands run the Keras model as before. ``SQUEEZESEG_MODEL_CACHE=0`` turns the copies off (none
made, none used).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from squeezeseg.errors import InputError
from squeezeseg.model_cache import (  # noqa: F401  (the lookup half, re-exported for callers of this module)
    CACHE_ENV,
    ENABLE_ENV,
    FORMAT,
    LAYOUT,
    MIN_AGREEMENT,
    cache_dir,
    copy_path,
    enabled,
    file_sha1,
    find_copy,
    record_path,
    was_refused,
)

log = logging.getLogger(__name__)


def agreement(keras_fn, litert_fn, windows: np.ndarray) -> tuple[float, int]:
    """Share of valid pixels (mask channel > 0) whose argmax class both functions give, and how many."""
    same = total = 0
    for i in range(len(windows)):
        x = windows[i : i + 1]
        valid = x[0, ..., 5] > 0
        a = np.asarray(keras_fn(x))[0].argmax(-1)[valid]
        b = np.asarray(litert_fn(x))[0].argmax(-1)[valid]
        same += int(np.count_nonzero(a == b))
        total += int(valid.sum())
    return (same / total if total else 0.0), total


def make_copy(keras_path: str | Path, keras_fn, windows: np.ndarray) -> Path | None:
    """Export the float32 LiteRT copy of ``keras_path`` into the cache if it agrees with ``keras_fn``.

    ``keras_fn`` maps a (B, H, W, 6) network input to logits (the Keras segmenter's ``predict_fn``);
    ``windows`` are network inputs of real scans to compare on. Returns the copy, or None when it
    disagrees (a marker then stops later runs from trying again) or cannot be written (logged).
    Needs TensorFlow (the converter) and ai-edge-litert.
    """
    from squeezeseg.atomic import atomic_write_text
    from squeezeseg.export.exporter import export_model
    from squeezeseg.runtime import TFLiteRunner

    keras_path = Path(keras_path)
    sha1 = file_sha1(keras_path)
    copy = copy_path(keras_path, sha1)
    t0 = time.perf_counter()
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=copy.parent, prefix=".export-") as tmp:
            trial = Path(tmp) / copy.name
            export_model(keras_path, FORMAT, trial)
            share, pixels = agreement(keras_fn, TFLiteRunner(trial), np.asarray(windows, np.float32))
            accepted = pixels > 0 and share >= MIN_AGREEMENT
            if accepted:
                os.replace(trial, copy)
    except OSError as exc:
        log.warning("no LiteRT copy of %s cached in %s: %s", keras_path, copy.parent, exc.strerror or exc)
        return None
    except InputError as exc:
        log.warning("no LiteRT copy of %s: %s", keras_path, exc.message)
        return None
    record = {"source": str(keras_path), "sha1": sha1, "format": FORMAT, "layout": LAYOUT,
              "accepted": accepted, "agreement": share, "pixels": pixels, "min_agreement": MIN_AGREEMENT,
              "export_s": round(time.perf_counter() - t0, 2)}
    atomic_write_text(record_path(copy), json.dumps(record, indent=1) + "\n")
    if not accepted:
        log.warning("the LiteRT copy of %s gives the Keras class on %.3f %% of %d pixels (needs %.1f %%): "
                    "not used; runs stay on Keras", keras_path, 100 * share, pixels, 100 * MIN_AGREEMENT)
        return None
    log.info("cached a LiteRT copy of %s (%.3f %% class agreement on %d pixels, %.1f s): later runs start "
             "without TensorFlow", keras_path, 100 * share, pixels, record["export_s"])
    return copy
