"""The ``lidarsim`` command: ``generate`` datasets and fit the ``dropout-model``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from squeezeseg.cli.common import build_parser, run_main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lidarsim`` (exit 2 with a one-line message on bad input)."""
    parser = build_parser(
        "lidarsim", "LiDAR and camera simulator for labelled driving sequences.", sys.modules[__name__]
    )
    return run_main(parser, argv)
