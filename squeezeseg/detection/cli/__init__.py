"""The `squeezedet` command: each sub-command lives in a `cmd_*.py` module of this package."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from squeezeseg.cli.common import build_parser, run_main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `squeezedet`."""
    import squeezeseg.detection.cli as pkg

    parser = build_parser(
        "squeezedet", "SqueezeDet image detection: training, detection, KITTI evaluation.", pkg
    )
    return run_main(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
