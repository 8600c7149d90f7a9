"""SavedModel export (Keras 3 ``model.export``) into a folder that appears only when complete, with
the model description written beside the graph as ``squeezeseg_model.json``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from squeezeseg.errors import InputError


def export_savedmodel(model, out: str | Path, meta: dict[str, Any]) -> Path:
    """Write a TF SavedModel folder ``out`` (serving signature ``serve``, batch of any size)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("SavedModel output must be a folder, a file of that name exists", out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
        (tmp / "squeezeseg_model.json").write_text(
            json.dumps({**meta, "format": "savedmodel"}, sort_keys=True), encoding="utf-8"
        )
        old = None
        if out.exists():  # keep the previous export until the new one is in place
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
        raise
    return out
