"""User-facing errors: one clear message naming the file and what is wrong."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input (file, config, argument). CLIs print it without a traceback and exit 2."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
