"""CI regression: recompute every CI reference row (``ci.csv``) and report the ones that drifted.

A row names a protocol, a method (a baseline name, or ``ckpt`` with a checkpoint path relative to
the CSV's folder), its own workload overrides, the stored value and an absolute tolerance in metric
units. Rows are recomputed from scratch (fresh work dir, nothing appended to runs.csv). The project's
rows ship with the package (``benchmarks.assets.ci_csv()``, the default).
"""
from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.assets import ci_csv
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
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no CI reference file; create it with `ramvid-bench check --update`")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _int(s: str) -> int | None:
    return int(s) if s not in ("", None) else None


def spec_for(row: dict[str, str], ci_dir: Path, work: Path, device: str | None, progress: bool) -> RunSpec:
    """The RunSpec that recomputes ``row``."""
    is_ckpt = row["method"] == "ckpt"
    return RunSpec(protocol=row["protocol"], baseline=None if is_ckpt else row["method"],
                   ckpt=str(ci_dir / row["checkpoint"]) if is_ckpt else None,
                   num_videos=_int(row["num_videos"]), samples_per_video=_int(row["samples_per_video"]),
                   sampler_steps=_int(row["sampler_steps"]), sampler=row.get("sampler") or None,
                   batch_size=_int(row["batch_size"]) or 16,
                   device=device, results=None, out_dir=str(work / row["name"]), progress=progress)


def check(path: str | os.PathLike | None = None, *, tolerance: float | None = None, only: str | None = None,
          device: str | None = None, update: bool = False, progress: bool = True,
          runner: Callable[[RunSpec], RunResult] = run,
          echo: Callable[[str], None] = print) -> list[CheckResult]:
    """Recompute the rows of ``path`` (default: the shipped ``ci.csv``; ``only``: comma-separated name
    fragments); ``update`` stores new values."""
    path = Path(path) if path is not None else ci_csv()
    rows = read_ci(path)
    parts = [o for o in (only or "").split(",") if o]
    chosen = [r for r in rows if not parts or any(o in r["name"] for o in parts)]
    if not chosen:
        raise ValueError(f"no CI row matches {only!r}; names: {', '.join(r['name'] for r in rows)}")
    out = []
    with tempfile.TemporaryDirectory(prefix="ramvid-check-") as work:
        for row in chosen:
            t0 = time.time()
            res = runner(spec_for(row, path.parent, Path(work), device, progress))
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
    from ramvid.utils import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CI_FIELDS), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
