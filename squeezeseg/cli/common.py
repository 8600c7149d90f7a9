"""Shared CLI machinery: sub-command discovery, logging, and the user-error contract
(clear message naming the file and the problem, exit status 2, no traceback).

Building a parser never imports TensorFlow: command modules import their heavy dependencies inside
their ``run`` functions, and a command whose arguments come from a heavy module registers them with
:func:`deferred_arguments`, so they are added only once that command is chosen on the command line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from squeezeseg.errors import InputError

log = logging.getLogger("squeezeseg")

# Start-up chatter of TensorFlow (C++ absl/oneDNN/XLA logging), silenced unless --verbose.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "3", "GRPC_VERBOSITY": "ERROR"}
QUIET_LOGGERS = ("tensorflow", "absl", "h5py", "numba", "matplotlib", "PIL")


def discover_commands(
    package: ModuleType, prefix: str = "cmd_", group: str | None = None
) -> list[ModuleType]:
    """Import every ``<package>.cmd_*`` module, then every module of the entry-point ``group`` (commands
    that packages above this one add, e.g. ``squeezeseg adapt`` from ``domain_adapt``); each defines
    ``register(subparsers)``.

    Sub-commands live in their own modules so that features can add commands without editing
    a central list, and a higher package can add one without the base package importing it.
    """
    mods = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith(prefix):
            mods.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    if group is not None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            try:
                mods.append(importlib.import_module(ep.value))
            except ImportError as exc:  # a plugin that is not installed here: its command is absent
                log.debug("command plugin %s not loaded: %s", ep.value, exc)
    return mods


def deferred_arguments(parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]):
    """Let ``add(parser)`` add the sub-command's arguments only when that sub-command is chosen.

    For commands whose argument definitions live in modules that import TensorFlow: ``--help`` of
    the whole program and every other command then start without it.
    """
    pending = getattr(parser, "_deferred", None)
    if pending is None:
        pending = parser._deferred = []
    pending.append(add)


class _SubParsers(argparse._SubParsersAction):
    """Sub-parser action that adds a chosen sub-command's deferred arguments before parsing them."""

    def __call__(self, parser, namespace, values, option_string=None):
        chosen = self._name_parser_map.get(values[0]) if values else None
        pending = getattr(chosen, "_deferred", None)
        while pending:
            pending.pop(0)(chosen)
        super().__call__(parser, namespace, values, option_string)


def build_parser(
    prog: str, description: str, package: ModuleType, group: str | None = None
) -> argparse.ArgumentParser:
    """A parser with one sub-parser per discovered command module (see :func:`discover_commands`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.register("action", "parsers", _SubParsers)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, including TensorFlow's own start-up messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in discover_commands(package, group=group):
        mod.register(sub)
    return parser


def quiet_libraries(verbose: bool = False) -> None:
    """Silence TensorFlow's and absl's start-up logging (unless ``verbose``) before they are imported.

    Variables the user set explicitly are kept. Once TensorFlow is imported the C++ level is fixed,
    so this runs before any command does work.
    """
    if verbose:
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")


def xla_cache(folder: str | Path | None = None) -> Path | None:
    """Keep TensorFlow's XLA-compiled kernels on disk between runs (``--tf_xla_persistent_cache_directory``).

    The fused CRF and context-aggregation parts of the networks are compiled at the first prediction
    (seconds on two cores); later runs load them instead. Default folder:
    ``$SQUEEZESEG_CACHE_DIR/xla`` or ``~/.cache/squeezeseg/xla``. Nothing happens once TensorFlow is
    imported, when TF_XLA_FLAGS already names a cache, or when the folder cannot be created.
    """
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tensorflow" in sys.modules or "persistent_cache_directory" in flags:
        return None
    if folder is None:
        base = os.environ.get("SQUEEZESEG_CACHE_DIR") or Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "squeezeseg"
        folder = Path(base) / "xla"
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()
    return folder


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--batch 0`` is an argument error, not a silent default)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_output_folder(out: str | Path) -> Path:
    """``out`` as a Path if it can become the output folder; InputError before any work otherwise.

    An existing file, or a folder (or its nearest existing parent) that this user cannot write,
    is refused at once instead of after the work.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, this is a file", out)
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"cannot create the output folder: {probe} is a file", out)
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise InputError("cannot write here: permission denied", probe)
    return out


def check_output_file(out: str | Path) -> Path:
    """``out`` as a Path if a file can be written there: not a folder, its folder writable."""
    out = Path(out)
    if out.is_dir():
        raise InputError("--out must be a file name, this is a folder", out)
    check_output_folder(out.parent if str(out.parent) else Path("."))
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError("cannot overwrite: permission denied", out)
    return out


def run_main(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command's ``func(args) -> int | None``.

    InputError and every OSError (missing, unreadable or unwritable files, full disk) print one line
    ``prog: error: <file>: <problem>`` and return 2.
    """
    words = sys.argv[1:] if argv is None else list(argv)
    quiet_libraries(verbose="-v" in words or "--verbose" in words)  # before any command imports TF
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    xla_cache()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except InputError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{parser.prog}: error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


def os_error_message(exc: OSError) -> str:
    """``<file>: <problem>`` of an OSError, on one line (``file not found`` for a missing file)."""
    problem = "file not found" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
    problem = " ".join(str(problem).split())
    name = exc.filename
    if name is None:
        return problem
    if exc.filename2 is not None:
        return f"{name} -> {exc.filename2}: {problem}"
    return f"{name}: {problem}"
