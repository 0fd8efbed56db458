"""CI regression: recompute every CI reference row (``ci.csv``) and report the ones that drifted.

A row names a protocol, a method (a baseline name, or ``ckpt`` with a checkpoint path relative to
the CSV's folder), its own workload overrides, the stored value and an absolute tolerance in metric
units. Rows are recomputed from scratch (fresh work dir, nothing appended to runs.csv). The project's
rows ship with the package (``benchmarks.assets.ci_csv()``, the default).
"""
from __future__ import annotations

import csv
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.assets import ci_csv
from benchmarks.results import write_rows
from benchmarks.runner import RunResult, RunSpec, run

CI_FIELDS = ("name", "protocol", "method", "checkpoint", "num_videos", "samples_per_video",
             "sampler_steps", "sampler", "batch_size", "metric", "value", "tolerance")


@dataclass
class CheckResult:
    name: str
    reference: float
    value: float
    tolerance: float
    wall_s: float

    @property
    def drift(self) -> float:
        return self.value - self.reference

    @property
    def ok(self) -> bool:
        return abs(self.drift) <= self.tolerance

    def line(self) -> str:
        status = "ok" if self.ok else "DRIFT"
        return (f"{status:5s} {self.name}: {self.value:.4f} vs stored {self.reference:.4f} "
                f"(drift {self.drift:+.4f}, tolerance {self.tolerance:g}, {self.wall_s:.0f}s)")


def read_ci(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a CI file, every one validated (``validate_row``) before any work starts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no CI reference file; create it with `ramvid-bench check --update`")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in CI_FIELDS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: not a CI file, columns {missing} are missing (need "
                                 f"{','.join(CI_FIELDS)})")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: not a readable CSV ({type(e).__name__}); give a CI file") from None
    seen: set[str] = set()
    for n, row in enumerate(rows, start=2):
        validate_row(row, f"{path} line {n}", path.parent)
        if row["name"] in seen:
            raise ValueError(f"{path} line {n}: row name {row['name']!r} is repeated; names must be unique")
        seen.add(row["name"])
    return rows


def validate_row(row: dict[str, str], where: str, ci_dir: Path) -> None:
    """One line naming the row and the field for anything that would fail (or mislead) later."""
    from benchmarks.baselines import BASELINES
    from benchmarks.protocols import get_protocol

    if None in row or any(row.get(c) is None for c in CI_FIELDS):
        raise ValueError(f"{where}: wrong number of fields; every row has {len(CI_FIELDS)}")
    if not _NAME.fullmatch(row["name"]):
        raise ValueError(f"{where}: name {row['name']!r} must be letters, digits and . _ / - (no '..')")
    try:
        protocol = get_protocol(row["protocol"])
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if "@" not in row["protocol"]:
        warnings.warn(f"{where}: protocol {row['protocol']!r} has no version; write "
                      f"{protocol.key} so that a newer version cannot change what the row computes",
                      stacklevel=2)
    if row["metric"] != protocol.metric:
        raise ValueError(f"{where}: metric {row['metric']!r} but protocol {row['protocol']} scores "
                         f"{protocol.metric}")
    if row["method"] != "ckpt" and row["method"] not in BASELINES:
        raise ValueError(f"{where}: method {row['method']!r} must be 'ckpt' or a baseline "
                         f"({', '.join(BASELINES)})")
    if row["method"] == "ckpt" and not (ci_dir / row["checkpoint"]).is_file():
        raise ValueError(f"{where}: checkpoint {row['checkpoint']!r} not found next to the CI file")
    for key in ("num_videos", "samples_per_video", "sampler_steps", "batch_size"):
        if row[key] and not (row[key].isdigit() and int(row[key]) >= 1):
            raise ValueError(f"{where}: {key} {row[key]!r} must be a whole number >= 1 or empty")
    for key in ("value", "tolerance"):
        try:
            number = float(row[key]) if row[key] or key == "tolerance" else 0.0
        except ValueError:
            raise ValueError(f"{where}: {key} {row[key]!r} is not a number") from None
        if not math.isfinite(number) or (key == "tolerance" and number < 0):
            raise ValueError(f"{where}: {key} {row[key]!r} must be a finite number" +
                             (" >= 0" if key == "tolerance" else ""))


_NAME = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]*")


def _int(s: str) -> int | None:
    return int(s) if s not in ("", None) else None


def _work_name(index: int, name: str) -> str:
    """A row's work folder: a fixed-form name, never a path built from the row's text."""
    return f"row-{index:03d}-" + re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:60]


def spec_for(row: dict[str, str], ci_dir: Path, work: Path, device: str | None, progress: bool) -> RunSpec:
    """The RunSpec that recomputes ``row`` (``work``: this row's own folder)."""
    is_ckpt = row["method"] == "ckpt"
    return RunSpec(protocol=row["protocol"], baseline=None if is_ckpt else row["method"],
                   ckpt=str(ci_dir / row["checkpoint"]) if is_ckpt else None,
                   num_videos=_int(row["num_videos"]), samples_per_video=_int(row["samples_per_video"]),
                   sampler_steps=_int(row["sampler_steps"]), sampler=row.get("sampler") or None,
                   batch_size=_int(row["batch_size"]) or 16,
                   device=device, results=None, out_dir=str(work), progress=progress)


def check(path: str | os.PathLike | None = None, *, tolerance: float | None = None, only: str | None = None,
          device: str | None = None, update: bool = False, progress: bool = True,
          runner: Callable[[RunSpec], RunResult] | None = None,
          echo: Callable[[str], None] = print) -> list[CheckResult]:
    """Recompute the rows of ``path`` (default: the shipped ``ci.csv``; ``only``: comma-separated name
    fragments); ``update`` stores new values."""
    path = Path(path) if path is not None else ci_csv()
    runner = run if runner is None else runner
    rows = read_ci(path)
    parts = [o for o in (only or "").split(",") if o]
    chosen = [r for r in rows if not parts or any(o in r["name"] for o in parts)]
    if not chosen:
        raise ValueError(f"no CI row matches {only!r}; names: {', '.join(r['name'] for r in rows)}")
    out = []
    with tempfile.TemporaryDirectory(prefix="ramvid-check-") as work:
        for index, row in enumerate(chosen):
            t0 = time.time()
            folder = Path(work) / _work_name(index, row["name"])
            res = runner(spec_for(row, path.parent, folder, device, progress))
            tol = float(row["tolerance"]) if tolerance is None else tolerance
            ref = float(row["value"]) if row["value"] not in ("", None) else float("nan")
            result = CheckResult(row["name"], ref, res.value, tol, time.time() - t0)
            echo(result.line())
            out.append(result)
            if update:
                row["value"] = f"{res.value:.4f}"
    if update:
        _write_ci(path, rows)
    return out


def _write_ci(path: Path, rows: list[dict[str, str]]) -> None:
    extra = [k for r in rows for k in r if k not in CI_FIELDS]  # a user's own columns are kept
    write_rows(path, rows, [*CI_FIELDS, *dict.fromkeys(extra)])
