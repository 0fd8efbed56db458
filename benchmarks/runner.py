"""``ramvid-bench run``: evaluate a checkpoint or a baseline on a protocol and record one results row.

Steps: resolve the protocol (+ overrides) -> open its test clips -> generate the missing samples
in shards (resumable) -> metric (real statistics cached) -> append a row to the results CSV.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmarks.baselines import BASELINES
from benchmarks.methods import Method, make_method
from benchmarks.protocols import get_protocol
from benchmarks.registry import Protocol
from benchmarks.results import DEFAULT_RESULTS, append_row
from benchmarks.scoring import score
from benchmarks.shards import ShardStore
from ramvid.sampling import SAMPLERS
from ramvid.specs import option, validate
from ramvid.specs import to_dict as spec_dict
from ramvid.utils import git_hash, resolve_device

DEFAULT_RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunSpec:
    """Everything ``run`` needs (``run --dry-run`` prints it); ``None`` overrides keep the protocol's."""

    protocol: str = option(None, "Protocol name or name@version.", argument=True)
    ckpt: str | None = option(None, "Checkpoint to evaluate (self-describing, or bare with --preset).")
    preset: str | None = option(None, "Preset for a bare state dict (bair|kinetics|ucf|tiny).")
    baseline: str | None = option(None, "A baseline instead of a checkpoint (no checkpoint needed).",
                                  choices=BASELINES)
    data_path: str | None = option(None, "Prepared dataset file/folder (embedded data needs none).")
    num_videos: int | None = option(None, "Override the protocol's number of test videos.", min=1)
    samples_per_video: int | None = option(None, "Override samples per test video.", min=1)
    sampler_steps: int | None = option(None, "Override the number of (respaced) sampler steps.", min=1)
    sampler: str | None = option(None, "Override the protocol's sampler (recorded in the results row).",
                                 choices=tuple(SAMPLERS))
    seed: int | None = option(None, "Override the protocol's sampling seed (video i draws from (seed, i)); "
                              "the row records it. Report a model over a few seeds.")
    batch_size: int = option(16, "Videos per sampler and feature batch (numbers do not depend on it).",
                             min=1)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available).")
    results: str | None = option(str(DEFAULT_RESULTS), "CSV to append the row to.")
    out_dir: str | None = option(None, "Work dir for sample shards (default runs/<protocol>-<hash>/; "
                                 "resumable).")
    gif: str | None = option(None, "Write a GIF grid of real (top) vs generated (bottom) clips here.")
    progress: bool = option(True, "No progress bars.", flag="--quiet", invert=True)
    stop_after_shards: int | None = option(None, "testing hook: simulate an interruption", cli=False)
    overrides: tuple[tuple[str, Any], ...] = option((), "any other Protocol field", cli=False)

    def __post_init__(self) -> None:
        if isinstance(self.overrides, dict):  # accept a dict; store it frozen
            object.__setattr__(self, "overrides", tuple(sorted(self.overrides.items())))
        validate(self)
        if self.protocol is None:
            raise ValueError("give a protocol name (`ramvid-bench protocols` lists them)")
        if (self.ckpt is None) == (self.baseline is None):
            raise ValueError("give exactly one of --ckpt CKPT or --baseline NAME")


@dataclass
class RunResult:
    protocol: Protocol
    value: float
    std: float | None
    per_repeat: list[float]
    row: dict[str, Any]
    work_dir: Path
    row_error: str | None = None  # set when the row could not be recorded (the value still holds)


class Interrupted(RuntimeError):
    """Raised by the ``stop_after_shards`` hook after writing that many new shards."""


def resolve(spec: RunSpec) -> Protocol:
    """The protocol with the spec's overrides applied (validated again)."""
    base = get_protocol(spec.protocol)
    return base.replace(num_videos=spec.num_videos, samples_per_video=spec.samples_per_video,
                        sampler_steps=spec.sampler_steps, sampler=spec.sampler, seed=spec.seed,
                        **dict(spec.overrides))


def describe(spec: RunSpec) -> dict[str, Any]:
    """The resolved settings (``--dry-run``): protocol fields plus how it would run."""
    p = resolve(spec)
    method = spec.baseline or spec.ckpt
    return {"spec": spec_dict(spec), "protocol": p.to_dict(), "method": method, "preset": spec.preset,
            "data_path": spec.data_path, "batch_size": spec.batch_size,
            "device": str(resolve_device(spec.device)), "results": spec.results,
            "generated_frames": list(p.generated), "metric_frames": list(p.metric_indices)}


def _work_dir(spec: RunSpec, p: Protocol, method: Method) -> tuple[Path, dict[str, Any]]:
    manifest = {"protocol": p.to_dict(), "method": method.identity}
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()
    root = Path(spec.out_dir) if spec.out_dir else DEFAULT_RUNS_DIR / f"{p.name}-{digest[:12]}"
    return root, manifest


def _keys(p: Protocol) -> list[tuple[int, int]]:
    """Every (video, sample) key of the workload, in (sample, video) order: N x S x R of them."""
    total = p.samples_per_video * p.repeats
    return [(v, s) for s in range(total) for v in range(p.num_videos)]


def _todo(p: Protocol, done: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """(video, sample) keys still missing, in (sample, video) order."""
    return [k for k in _keys(p) if k not in done]


def generate_missing(p: Protocol, method: Method, store: ShardStore, *, batch_size: int,
                     progress: bool, stop_after: int | None = None) -> int:
    """Produce every missing sample, one shard per batch; returns the number of new shards."""
    todo = _todo(p, store.done_keys())
    written = 0
    total = p.num_videos * p.samples_per_video * p.repeats
    with tqdm(total=total, initial=total - len(todo), desc=f"{method.name} samples", unit="video",
              disable=not progress) as bar:
        for lo in range(0, len(todo), batch_size):
            if stop_after is not None and written >= stop_after:
                raise Interrupted(f"stopped after {written} shards (resume by running again)")
            keys = todo[lo:lo + batch_size]
            store.write(method.produce(keys), keys)
            written += 1
            bar.update(len(keys))
    return written


def run(spec: RunSpec) -> RunResult:
    """Evaluate ``spec`` end to end (see the module docstring)."""
    from ramvid.data import open_dataset

    t0 = time.time()
    check_results_path(spec.results)
    p = resolve(spec)
    dev = resolve_device(spec.device)
    source = None  # unconditional IS needs no real clips (unless they are the baseline)
    if p.cond or p.metric == "fvd" or spec.baseline == "real":
        source = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution,
                              path=spec.data_path, seed=p.data_seed)
    if source is not None and len(source) < p.num_videos:
        raise ValueError(f"{p.dataset}/{p.split} has {len(source)} clips but the protocol needs "
                         f"{p.num_videos}; lower --num-videos")
    method = make_method(p, source, ckpt=spec.ckpt, preset=spec.preset, baseline=spec.baseline,
                         device=str(dev), progress=spec.progress)
    root, manifest = _work_dir(spec, p, method)
    store = ShardStore(root, manifest)
    with store.writing():
        generate_missing(p, method, store, batch_size=spec.batch_size, progress=spec.progress,
                         stop_after=spec.stop_after_shards)
        store.check_keys(set(_keys(p)))
        value, std, per_repeat = score(p, source, store, batch_size=spec.batch_size, device=dev,
                                       progress=spec.progress)
    if spec.gif and source is not None:
        write_run_gif(spec.gif, p, source, store)
    row = _row(p, spec, method, value, std, dev, time.time() - t0)
    row_error = None
    if spec.results:
        try:
            append_row(spec.results, row)
        except (OSError, ValueError, csv.Error) as e:  # the value is still returned (and printed)
            row_error = f"could not append the row to {spec.results}: {type(e).__name__}: {e}"
    return RunResult(protocol=p, value=value, std=std, per_repeat=per_repeat, row=row, work_dir=root,
                     row_error=row_error)


def check_results_path(path: str | None) -> None:
    """Fail before any work when the results CSV cannot take a row (a folder, not a CSV)."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"--results {path} is a folder; give a .csv file path")
    if target.exists():
        try:
            with open(target, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
        except (UnicodeDecodeError, csv.Error, OSError) as e:
            raise ValueError(f"--results {path} is not a readable CSV ({type(e).__name__}); give another "
                             "file") from None
        if header and "protocol" not in header:
            raise ValueError(f"--results {path} is a CSV without a 'protocol' column, not a results file; "
                             "give another file")


def _row(p: Protocol, spec: RunSpec, method: Method, value: float, std: float | None,
         dev: torch.device, wall: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "protocol": p.name, "version": p.version, "metric": p.metric, "value": value, "std": std,
        "num_videos": p.num_videos, "samples_per_video": p.samples_per_video, "repeats": p.repeats,
        "sampler": p.sampler if method.name == "ramvid" else "", "seed": p.seed,
        "sampler_steps": p.sampler_steps if method.name == "ramvid" else "",
        "resample": p.resample if method.name == "ramvid" else "", "batch_size": spec.batch_size,
        "device": str(dev), "threads": torch.get_num_threads(), "git_hash": git_hash(),
        "wall_s": round(wall, 1),
        "spec": json.dumps(spec_dict(spec, non_default=True), sort_keys=True),
    }
    row.update(method.row)
    return row


def write_run_gif(path: str | os.PathLike, p: Protocol, source: Any, store: ShardStore,
                  count: int = 6) -> Path:
    """GIF grid: real clips (top) over sample 0 of the same videos (bottom); known frames in green."""
    from ramvid.video import grid_frames, write_gif

    n = min(count, p.num_videos)
    fake = np.concatenate(list(store.iter_batches({0})))[:n]
    real = source.clips(range(n))
    return write_gif(path, grid_frames([real, fake], known=p.cond))
