"""YAML configs loaded into typed dataclasses, with errors that name the file and the key."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from squeezeseg.errors import InputError

T = TypeVar("T")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bad syntax or a non-mapping is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping of keys to values at the top level", path)
    return data


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A dataclass field whose value (or every value of a list) must be a finite number within the
    given bounds (``ge``/``gt`` below, ``le``/``lt`` above); checked by :func:`from_dict` and
    :func:`check_bounds`, and the error names the file and the key."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"bounds": bounds})


_BOUND_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _bound_error(value: Any, bounds: dict[str, float]) -> str | None:
    """Why ``value`` breaks ``bounds`` (None when it does not)."""
    values = value if isinstance(value, list | tuple) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue  # the type check reports these
        ok = math.isfinite(v) and all(
            {"ge": v >= b, "gt": v > b, "le": v <= b, "lt": v < b}[k] for k, b in bounds.items()
        )
        if not ok:
            need = " and ".join(f"{_BOUND_TEXT[k]} {b:g}" for k, b in bounds.items()) or "finite"
            return f"must be {need}, got {v!r}"
    return None


def check_bounds(obj: Any, source: str | Path = "<config>", prefix: str = "") -> None:
    """Check every :func:`bounded` field of dataclass ``obj`` and of the dataclasses inside it (for
    configs changed after loading, e.g. by a command-line override)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_bounds(value, source, f"{prefix}{f.name}.")
        elif "bounds" in f.metadata:
            why = _bound_error(value, f.metadata["bounds"])
            if why:
                raise InputError(f"key '{prefix}{f.name}' {why}", source)


def from_dict(cls: type[T], data: dict[str, Any], source: str | Path = "<config>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and values of the wrong type."""
    if not isinstance(data, dict):
        raise InputError(f"key '{prefix.rstrip('.') or '<root>'}' must be a mapping", source)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(
            f"unknown key '{prefix}{unknown[0]}' (allowed: {', '.join(sorted(fields))})", source
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if no_default:
                raise InputError(f"missing required key '{prefix}{name}'", source)
            continue
        kwargs[name] = _coerce(hints[name], data[name], source, f"{prefix}{name}")
        if "bounds" in f.metadata:
            why = _bound_error(kwargs[name], f.metadata["bounds"])
            if why:
                raise InputError(f"key '{prefix}{name}' {why}", source)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc), source) from None


def load_config(cls: type[T], path: str | Path) -> T:
    """Load YAML file ``path`` into dataclass ``cls``."""
    return from_dict(cls, read_yaml(path), source=path)


def _coerce(tp: Any, value: Any, source: str | Path, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except InputError as exc:
                errors.append(exc)
        raise errors[0] if errors else InputError(f"key '{key}' has an invalid value", source)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise InputError(f"key '{key}' must be a list, got {value!r}", source)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise InputError(f"key '{key}' must have {len(args)} values, got {len(value)}", source)
            return tuple(_coerce(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        items = [_coerce(inner, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"key '{key}' must be a mapping", source)
        kt, vt = args if args else (Any, Any)
        return {_coerce(kt, k, source, key): _coerce(vt, v, source, f"{key}.{k}") for k, v in value.items()}
    if typing.get_origin(tp) is typing.Literal:
        if value not in args:
            raise InputError(f"key '{key}' must be one of {list(args)}, got {value!r}", source)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"key '{key}' must be true or false, got {value!r}", source)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"key '{key}' must be a number, got {value!r}", source)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"key '{key}' must be an integer, got {value!r}", source)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"key '{key}' must be a string, got {value!r}", source)
        return value
    return value
