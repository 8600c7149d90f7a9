"""The `latte` command: `latte [--demo] [SEQUENCE]` opens the annotation app; `latte COMMAND ...`
runs a headless tool (each in a `cmd_*.py` module of this package)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from squeezeseg.cli.common import build_parser, discover_commands, run_main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `latte`."""
    import latte.cli as pkg

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {m.__name__.rsplit(".", 1)[1][len("cmd_"):].replace("_", "-") for m in discover_commands(pkg)}
    if argv and argv[0] in commands:
        parser = build_parser("latte", "LATTE headless tools.", pkg)
        return run_main(parser, argv)
    from latte.app.main import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
