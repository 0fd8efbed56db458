"""The append-only results CSV (``results/runs.csv``): one row per run, the source of truth.

Appends are crash-safe: under an exclusive lock the whole file is read, the row added, a temp file
written and renamed over the original. A crash leaves the old file intact; concurrent runs never
interleave. New columns are merged in (old rows get empty cells).

The lock is a ``filelock.FileLock`` on a file in the cache folder (``$RAMVID_CACHE/locks/``), named by
the CSV's resolved path, so the results folder holds nothing but the CSV. The lock file is not deleted
on release: with ``flock`` a waiter would then hold a lock on a deleted inode while a newcomer locks a
fresh one. Processes appending to one CSV must therefore share ``$RAMVID_CACHE`` (the default does).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from pathlib import Path
from typing import Any

from filelock import FileLock

from metrics._io import cache_dir
from ramvid.utils import atomic_path

DEFAULT_RESULTS = Path("results/runs.csv")

# Column order of a run row: what makes a result reproducible, plus what a table needs to label it.
RUN_FIELDS: tuple[str, ...] = (
    "date", "protocol", "version", "method", "checkpoint", "ckpt_sha256", "step", "preset",
    "p_uncond", "params", "metric", "value", "std", "num_videos", "samples_per_video", "repeats",
    "sampler", "sampler_steps", "resample", "seed", "batch_size", "device", "threads", "git_hash",
    "wall_s",
)


def _lock(path: Path) -> FileLock:
    """The cross-process lock guarding appends to ``path`` (kept in the cache folder, see above)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    locks = cache_dir("locks")
    try:
        locks.mkdir(parents=True, exist_ok=True)
        probe = locks / f"{path.name}-{key}.lock"
        probe.touch(exist_ok=True)
        return FileLock(probe)
    except OSError:  # an unwritable cache must not cost the row: lock beside the CSV instead
        return FileLock(path.with_name(f".{path.name}.lock"))


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """All rows of a results CSV as dicts of strings; FileNotFoundError naming it when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# What a table needs of every run row, and how each cell must read.
_REQUIRED = {"protocol": str, "version": int, "method": str, "metric": str, "value": float,
             "num_videos": int, "samples_per_video": int}


def read_runs(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a results CSV, each checked (``_REQUIRED``); one line naming the file and line."""
    path = Path(path)
    try:
        rows = read_rows(path)
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: not a readable CSV ({type(e).__name__}); give a results file") from None
    missing = [c for c in _REQUIRED if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: not a results file, columns {missing} are missing")
    for n, row in enumerate(rows, start=2):
        if None in row:
            raise ValueError(f"{path} line {n}: more cells than columns; the row is damaged, fix or "
                             "delete it")
        for key, kind in _REQUIRED.items():
            cell = row.get(key)
            if cell in (None, ""):
                raise ValueError(f"{path} line {n}: {key} is empty (the row is cut short?); fix or delete it")
            try:
                number = kind(cell)
            except ValueError:
                raise ValueError(f"{path} line {n}: {key} {cell!r} is not a {kind.__name__}") from None
            if kind is float and not math.isfinite(number):
                raise ValueError(f"{path} line {n}: {key} {cell!r} is not a finite number")
    return rows


def append_row(path: str | os.PathLike, row: dict[str, Any]) -> Path:
    """Add ``row`` to the CSV at ``path`` atomically, creating it if needed (see module docstring)."""
    path = Path(path)
    with _lock(path):
        rows = read_rows(path) if path.exists() else []
        fields = list(RUN_FIELDS)
        for r in [*rows, row]:
            fields += [k for k in r if k not in fields]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in [*rows, {k: _cell(v) for k, v in row.items()}]:
            writer.writerow(r)
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue())
    return path


def write_rows(path: str | os.PathLike, rows: list[dict[str, Any]], fields: list[str] | None = None) -> Path:
    """Replace the CSV at ``path`` with ``rows`` atomically (columns: ``fields``, else the first row's)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields or list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e-3 else f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """(mean, sample std with ddof 1) of per-seed values; std is None for a single value."""
    import statistics

    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def uncertainty_text(row: dict[str, Any]) -> str:
    """'95% interval a–b, se s (B half-samples ...); fvd_inf f (1/N fit over n=..)' from a row; '' if none."""
    import json

    if row.get("ci_low") in (None, ""):
        return ""
    details = row.get("uncertainty") or "{}"
    details = json.loads(details) if isinstance(details, str) else details
    iv, fit = details.get("interval", {}), details.get("extrapolation", {})
    sizes = [p[0] for p in fit.get("points", [])]
    low, high, se = (float(row[k]) for k in ("ci_low", "ci_high", "se"))
    text = (f"95% interval {low:.2f}–{high:.2f}, se {se:.2f} ({row.get('bootstrap')} "
            f"{iv.get('scheme', '')}-samples of the videos, seed {iv.get('seed', '')})")
    if row.get("fvd_inf") not in (None, "") and sizes:
        text += f"; fvd_inf {float(row['fvd_inf']):.2f} (1/N fit over n={min(sizes)}..{max(sizes)})"
    return text
