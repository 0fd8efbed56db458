"""The append-only results CSV (``results/runs.csv``): one row per run, the source of truth.

Appends are crash-safe: under an exclusive ``flock`` on ``.<file>.lock.tmp`` (``*.tmp`` is
gitignored) the whole file is read, the row added, a temp file written and renamed over the
original. A crash leaves the old file intact; concurrent runs never interleave. New columns are
merged in (old rows get empty cells).
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ramvid.utils import atomic_path

DEFAULT_RESULTS = Path("results/runs.csv")

# Column order of a run row (the list, plus what a table needs to label the row).
RUN_FIELDS: tuple[str, ...] = (
    "date", "protocol", "version", "method", "checkpoint", "ckpt_sha256", "step", "preset",
    "p_uncond", "params", "metric", "value", "std", "num_videos", "samples_per_video", "repeats",
    "sampler", "sampler_steps", "resample", "seed", "batch_size", "device", "threads", "git_hash",
    "wall_s",
)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # the CSV itself is replaced by rename, so the lock lives in a stable side file
    with open(path.with_name(f".{path.name}.lock.tmp"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """All rows of a results CSV as dicts of strings; a missing file is an empty list."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_row(path: str | os.PathLike, row: dict[str, Any]) -> Path:
    """Add ``row`` to the CSV at ``path`` atomically (see module docstring)."""
    path = Path(path)
    with _locked(path):
        rows = read_rows(path)
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


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e-3 else f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)
