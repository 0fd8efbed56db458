"""Protocols declared in a TOML file (``--protocols FILE``), validated like the built-in ones.

TOML because Python reads it with the standard library (``tomllib``, 3.11+; the ``tomli`` backport
on 3.10), its types are explicit (an int is not a string), and a lab's file needs no code. Each
``[[protocol]]`` table holds the fields of ``benchmarks.registry.Protocol``; lists become tuples and
``metric_options`` is a table::

    [[protocol]]
    name = "lab-shapes-prediction"
    version = 1
    dataset = "shapes"
    split = "test"
    resolution = 32
    frames = 16
    cond = [0, 1, 2, 3]
    metric_frames = "all"
    num_videos = 64
    samples_per_video = 1
    repeats = 1
    metric = "fvd"
    sampler = "ddim"
    sampler_steps = 25
    description = "our 4->12 prediction at N=64"

A name@version that is already registered is refused (bump the version or rename).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.protocols import REGISTRY
from benchmarks.registry import Protocol, Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_FIELDS = {f.name for f in dataclasses.fields(Protocol)}


def load_protocol_file(path: str | os.PathLike) -> list[Protocol]:
    """The protocols of a TOML file; one line naming the file (and table) for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--protocols {path}: no such file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"--protocols {path}: not valid TOML ({e})") from None
    tables = data.get("protocol")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"--protocols {path}: no [[protocol]] tables; see `ramvid-bench protocols --help`")
    return [_protocol(t, f"{path} [[protocol]] #{i + 1}") for i, t in enumerate(tables)]


def _protocol(table: dict[str, Any], where: str) -> Protocol:
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown fields {unknown}; Protocol fields are {sorted(_FIELDS)}")
    missing = sorted(f.name for f in dataclasses.fields(Protocol)
                     if f.default is dataclasses.MISSING and f.name not in table)
    if missing:
        raise ValueError(f"{where}: missing fields {missing}")
    values = dict(table)
    if "cond" in values:
        values["cond"] = tuple(values["cond"]) if isinstance(values["cond"], list) else values["cond"]
    if isinstance(values.get("metric_options"), dict):
        values["metric_options"] = tuple(sorted(values["metric_options"].items()))
    try:
        return Protocol(**values)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {e}") from None


def registry_with(path: str | os.PathLike | None) -> Registry:
    """The built-in registry, plus the protocols of ``path`` when given (duplicates refused)."""
    if path is None:
        return REGISTRY
    registry = REGISTRY.copy()
    for p in load_protocol_file(path):
        registry.register(p, str(path))
    return registry
