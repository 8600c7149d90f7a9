"""Shared CLI machinery: sub-command discovery, logging, and the user-error contract
(clear message naming the file and the problem, exit status 2, no traceback)."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from squeezeseg.errors import InputError

log = logging.getLogger("squeezeseg")


def discover_commands(package: ModuleType, prefix: str = "cmd_") -> list[ModuleType]:
    """Import every ``<package>.cmd_*`` module; each defines ``register(subparsers)``.

    Sub-commands live in their own modules so that features can add commands without editing
    a central list.
    """
    mods = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith(prefix):
            mods.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return mods


def build_parser(prog: str, description: str, package: ModuleType) -> argparse.ArgumentParser:
    """A parser with one sub-parser per discovered command module."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in discover_commands(package):
        mod.register(sub)
    return parser


def run_main(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command's ``func(args) -> int | None``.

    InputError (and missing files) print ``prog: error: <file>: <problem>`` and return 2.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except InputError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"{parser.prog}: error: {exc.filename}: file not found", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)
