"""Click options built from a job spec's fields (``ramvid.specs.option``), and the spec built back.

A new option of ``train``, ``sample`` or ``run`` is one field in its spec: its flag, help text,
choices and bounds come from the field, and the spec validates the value (one line naming the flag).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

import click

from ramvid.specs import flag_of, from_flat, spec_fields

_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING}


def _base_type(kind: Any) -> Any:
    """``int | None`` -> int; ``tuple[int, ...]`` -> tuple."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 else str
    return typing.get_origin(kind) or kind


def _param(f: dataclasses.Field, kind: Any) -> click.Parameter:
    meta = f.metadata
    base = _base_type(kind)
    if meta.get("argument"):
        return click.Argument([f.name], type=_TYPES.get(base, click.STRING))
    flag = flag_of(f)
    default = None if f.default is dataclasses.MISSING else f.default
    help_ = meta.get("help") or ""
    if base is bool:
        if meta.get("invert"):
            return click.Option([flag, f.name], is_flag=True, flag_value=False, default=True, help=help_)
        return click.Option([flag, f.name], is_flag=True, default=bool(default), help=help_)
    choices = meta.get("choices")
    fixed = isinstance(choices, tuple) and base is str  # a live table (Mapping) is checked by the spec
    ptype = click.Choice(list(choices)) if fixed else _TYPES.get(base, click.STRING)
    if meta.get("parse") is not None:
        ptype = click.STRING
    return click.Option([flag, f.name], type=ptype, default=default, required=bool(meta.get("required")),
                        show_default=default is not None and not meta.get("parse"), help=help_)


def spec_options(cls: type, *, skip: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Decorator: one click parameter per CLI field of ``cls`` (nested specs flattened)."""
    params = [_param(f, kind) for f, kind in spec_fields(cls)
              if f.metadata.get("cli", True) and f.name not in skip]

    def decorate(fn: Callable) -> Callable:
        fn.__click_params__ = list(reversed(params)) + list(getattr(fn, "__click_params__", []))
        return fn

    return decorate


def spec_from_cli(cls: type, values: dict[str, Any], **extra: Any) -> Any:
    """Build ``cls`` from parsed CLI values (``parse`` metadata applied to text); ``extra`` wins."""
    fields = dict(spec_fields(cls))
    parsed = {}
    for f in fields:
        if f.name in values:
            value = values[f.name]
            parse = f.metadata.get("parse")
            parsed[f.name] = parse(value) if parse is not None and isinstance(value, str) else value
    parsed.update(extra)
    return from_flat(cls, parsed)
