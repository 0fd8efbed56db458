"""Job specs: one frozen, validated dataclass per job, each option declared once as a field.

A field made with ``option(...)`` carries its command-line flag, help text, bounds and choices in
its metadata. The CLI builds its options from the fields (``benchmarks.cli.specs``), ``--dry-run``
prints ``to_dict()``, the library function takes the spec, and checkpoints and results rows record
it. Validation names the flag and the fix in one line, so a bad value fails before any work.
"""
from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any


def option(default: Any = None, help: str = "", *, flag: str | None = None,  # noqa: A002 - click's word
           choices: Sequence[str] | None = None, min: float | None = None,  # noqa: A002
           min_open: bool = False, required: bool = False, parse: Callable[[str], Any] | None = None,
           invert: bool = False, cli: bool = True, argument: bool = False) -> Any:
    """A spec field with its CLI metadata.

    ``flag``: the option's spelling (default ``--field-name``); ``choices``: allowed values (the
    table that owns them; a mapping is read when the value is checked, so later entries count);
    ``min``: lower bound (exclusive with ``min_open``); ``required``: the CLI demands it;
    ``parse``: text -> value for structured fields (``--cond``); ``invert``: a boolean flag that
    sets the field to False (``--quiet`` for ``progress``); ``cli=False``: library-only;
    ``argument``: a positional CLI argument.
    """
    if choices is not None and not isinstance(choices, Mapping):
        choices = tuple(choices)  # a Mapping (a name -> object table) stays live: checked at use
    meta = {"help": help, "flag": flag, "choices": choices, "min": min,
            "min_open": min_open, "required": required, "parse": parse, "invert": invert, "cli": cli,
            "argument": argument}
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in a frozen spec; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def flag_of(f: dataclasses.Field) -> str:
    """The CLI spelling of a field: its ``flag`` or ``--field-name``."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def spec_fields(cls: type) -> Iterator[tuple[dataclasses.Field, Any]]:
    """(field, resolved type) of a spec class, nested spec fields flattened (depth first)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from spec_fields(kind)
        else:
            yield f, kind


def validate(spec: Any) -> None:
    """Check every field against its metadata; raise one ValueError line naming the flag.

    Paths given as ``os.PathLike`` are stored as strings, so a spec is plain data.
    """
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
            object.__setattr__(spec, f.name, value)
        if value is None or dataclasses.is_dataclass(value):
            continue
        name, meta = flag_of(f), f.metadata
        low = meta.get("min")
        if low is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < low or (meta.get("min_open") and value == low):
                bound = f"> {low:g}" if meta.get("min_open") else f">= {low:g}"
                raise ValueError(f"{name} must be {bound}, got {value} ({type(spec).__name__}.{f.name})")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"unknown {f.name.replace('_', ' ')} {value!r} ({name}); choose one of "
                             f"{', '.join(map(str, choices))}")


def to_dict(spec: Any, *, non_default: bool = False) -> dict[str, Any]:
    """Plain dict of the spec (nested specs as dicts, tuples as lists); JSON- and checkpoint-safe.

    ``non_default``: only the fields that differ from their default (what a user changed).
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value):
            inner = to_dict(value, non_default=non_default)
            if inner or not non_default:
                out[f.name] = inner
            continue
        if non_default and f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def from_flat(cls: type, values: dict[str, Any]) -> Any:
    """Build ``cls`` from a flat dict of field values (nested spec fields filled from the same dict)."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = from_flat(kind, values)
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)
