"""``ramvid-bench run``: evaluate a checkpoint or a baseline on a protocol and record one results row.

Steps: resolve the protocol (+ overrides) -> open its test clips -> generate the missing samples
in shards (resumable) -> metric (real statistics cached) -> append a row to the results CSV.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmarks.baselines import BASELINES
from benchmarks.contexts import workload_keys
from benchmarks.methods import GenerateFn, Method, make_method
from benchmarks.protocol_files import registry_with
from benchmarks.provenance import run_fields
from benchmarks.registry import Protocol, protocol_defaults
from benchmarks.results import DEFAULT_RESULTS, append_row
from benchmarks.scoring import score
from benchmarks.shards import ShardStore
from benchmarks.workload import workload
from ramvid.sampling import SAMPLERS
from ramvid.specs import option, validate
from ramvid.specs import to_dict as spec_dict
from ramvid.utils import clean_stale_temp, git_hash, note, resolve_device

DEFAULT_RUNS_DIR = Path("runs")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> (0, 1, 2): distinct integers; one line naming ``--seeds`` otherwise."""
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--seeds {text!r}: write integers separated by commas, e.g. 0,1,2") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r}: a seed is repeated; each seed is one run")
    bad = [s for s in seeds if not 0 <= s < 2**32]
    if bad:
        raise ValueError(f"--seeds {text!r}: seed {bad[0]} is outside 0..2**32-1 (generators keep 32 bits "
                         "of a seed, so larger ones would repeat smaller ones)")
    return seeds


@dataclass(frozen=True)
class RunSpec:
    """Everything ``run`` needs (``run --dry-run`` prints it); ``None`` overrides keep the protocol's."""

    protocol: str = option(None, "Protocol name or name@version.", argument=True)
    ckpt: str | None = option(None, "Checkpoint to evaluate (self-describing, or bare with --preset).")
    preset: str | None = option(None, "Preset for a bare state dict (bair|kinetics|ucf|tiny).")
    baseline: str | None = option(None, "A baseline instead of a checkpoint (no checkpoint needed).",
                                  choices=BASELINES)
    samples: str | None = option(None, "Score samples made elsewhere: .npy/.npz/.h5 in the exported key "
                                 "order (or with a 'keys' array), a folder of v<video>_s<sample>.<ext> "
                                 "files, or a folder of video files in key order (see `ramvid-bench "
                                 "export`).")
    method_name: str | None = option(None, "Name of the --samples method in the results row and tables "
                                     "(default: external).")
    allow_changed_context: bool = option(False, "Score --samples whose known frames differ from the "
                                         "context, recording how many videos did (refused otherwise).")
    protocols: str | None = option(None, "A TOML file of your own protocols, added to the registered "
                                   "ones (same validation).")
    data_path: str | None = option(None, "Prepared dataset file/folder (embedded data needs none).")
    num_videos: int | None = option(None, "Override the protocol's number of test videos.", min=1)
    samples_per_video: int | None = option(None, "Override samples per test video.", min=1)
    sampler_steps: int | None = option(None, "Override the number of (respaced) sampler steps.", min=1)
    sampler: str | None = option(None, "Override the protocol's sampler (recorded in the results row).",
                                 choices=tuple(SAMPLERS))
    eta: float | None = option(None, "Override the protocol's DDIM eta (0 deterministic; ddim only).",
                               min=0.0)
    seed: int | None = option(None, "Override the protocol's sampling seed (video i draws from (seed, i)); "
                              "the row records it. Report a model over a few seeds.")
    seeds: tuple[int, ...] | None = option(None, "Run once per sampling seed, e.g. 0,1,2: one row per seed, "
                                           "then mean ± std over them.", parse=parse_seeds)
    bootstrap: int = option(1000, "Resamples for the FVD's 95% interval and standard error, and with them "
                            "the 1/N extrapolation fvd_inf (0: off).", min=0)
    batch_size: int = option(16, "Videos per sampler and feature batch (noise draws do not depend on it; "
                             "CPU float rounding may move a pixel by 1/255, see README).", min=1)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available).")
    results: str | None = option(str(DEFAULT_RESULTS), "CSV to append the row to.")
    out_dir: str | None = option(None, "Work dir for sample shards (default runs/<protocol>-<hash>/; "
                                 "resumable).")
    gif: str | None = option(None, "Write a grid of real (top) vs generated rows (labelled, known frames "
                             "marked): .gif, .mp4 or .webp by the suffix.")
    shard: str | None = option(None, "I/N: generate only share I of N of the samples (array jobs without a "
                               "launcher); the run that completes the folder scores it.")
    merge: bool = option(False, "Generate nothing: score the work dir once every shard is done, else list "
                         "what is missing.")
    progress: bool = option(True, "No progress bars.", flag="--quiet", invert=True)
    stop_after_shards: int | None = option(None, "testing hook: simulate an interruption", cli=False)
    overrides: tuple[tuple[str, Any], ...] = option((), "any other Protocol field", cli=False)

    def __post_init__(self) -> None:
        if isinstance(self.overrides, dict):  # accept a dict; store it frozen
            object.__setattr__(self, "overrides", tuple(sorted(self.overrides.items())))
        validate(self)
        if self.protocol is None:
            raise ValueError("give a protocol name (`ramvid-bench protocols` lists them)")
        if sum(x is not None for x in (self.ckpt, self.baseline, self.samples)) > 1:
            raise ValueError("give exactly one of --ckpt CKPT, --baseline NAME or --samples PATH")
        if self.method_name is not None and self.samples is None:
            raise ValueError("--method-name names --samples; a checkpoint or baseline names itself")
        if self.shard is not None:
            parse_shard(self.shard)
        if self.seeds is not None and self.seed is not None and self.seed not in self.seeds:
            raise ValueError(f"--seed {self.seed} is not among --seeds {self.seeds}; give one of the two")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N; one line naming ``--shard`` otherwise."""
    parts = text.split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        i, n = int(parts[0]), int(parts[1])
        if 0 <= i < n:
            return i, n
    raise ValueError(f"--shard {text!r}: write I/N with 0 <= I < N, e.g. --shard 0/4 ... --shard 3/4")


@dataclass
class RunResult:
    protocol: Protocol
    value: float | None
    std: float | None
    per_repeat: list[float]
    row: dict[str, Any]
    work_dir: Path
    row_error: str | None = None  # set when the row could not be recorded (the value still holds)
    missing: int = 0  # samples still missing after a --shard run (then value is None)

    @property
    def n(self) -> int:
        """Videos x samples scored."""
        return self.protocol.num_videos * self.protocol.samples_per_video * self.protocol.repeats


class Interrupted(RuntimeError):
    """Raised by the ``stop_after_shards`` hook after writing that many new shards."""


def resolve(spec: RunSpec) -> Protocol:
    """The protocol with the spec's overrides applied (validated again)."""
    base = registry_with(spec.protocols).get(spec.protocol)
    eta = spec.eta
    if eta is None and spec.sampler is not None and not SAMPLERS[spec.sampler].eta:
        eta = 0.0  # another sampler chosen: the protocol's DDIM eta does not apply to it
    named = dict(num_videos=spec.num_videos, samples_per_video=spec.samples_per_video,
                 sampler_steps=spec.sampler_steps, sampler=spec.sampler, seed=spec.seed, eta=eta)
    return base.replace(**{**named, **dict(spec.overrides)})


def describe(spec: RunSpec) -> dict[str, Any]:
    """The resolved settings (``--dry-run``): protocol fields plus how it would run."""
    p = resolve(spec)
    method = spec.baseline or spec.ckpt
    return {"spec": spec_dict(spec), "protocol": p.to_dict(), "method": method, "preset": spec.preset,
            "data_path": spec.data_path, "batch_size": spec.batch_size,
            "device": str(resolve_device(spec.device)), "results": spec.results,
            "generated_frames": list(p.generated), "metric_frames": list(p.metric_indices),
            "workload": workload(p, ckpt=spec.ckpt, preset=spec.preset)}


def _work_dir(spec: RunSpec, p: Protocol, method: Method) -> tuple[Path, dict[str, Any]]:
    manifest = {"protocol": p.to_dict(), "method": method.identity}
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()
    root = Path(spec.out_dir) if spec.out_dir else DEFAULT_RUNS_DIR / f"{p.name}-{digest[:12]}"
    return root, manifest


_keys = workload_keys  # every (video, sample) key of the workload, sample-major


Key = tuple[int, int]


def _share(keys: list[Key], share: tuple[int, ...], batch_size: int) -> list[list[Key]]:
    """The batches of ``keys`` (cut every ``batch_size``) of ``share`` = (I, N[, r, G]): the batches
    c with c mod N == I (shard I of N), then every G-th of those from the r-th (rank r of G)."""
    i, n, rank, size = (*share, 0, 1) if len(share) == 2 else share
    batches = [keys[lo:lo + batch_size] for lo in range(0, len(keys), batch_size)]
    return batches[i::n][rank::size]


def generate_missing(p: Protocol, method: Method, store: ShardStore, *, batch_size: int,
                     progress: bool, stop_after: int | None = None, share: tuple[int, ...] = (0, 1)) -> int:
    """Produce every missing sample of this process's ``share`` (I, N); returns the new shard count.

    The workload's keys are cut into batches of ``batch_size`` in (sample, video) order and batch c
    belongs to share c mod N, so every process (and every ``--shard``) runs exactly the batches a
    single process would: the same videos side by side, hence the same numbers.
    """
    done = store.done_keys()
    batches = _share(_keys(p), share, batch_size)
    total = sum(len(b) for b in batches)
    written = 0
    with tqdm(total=total, initial=sum(k in done for b in batches for k in b), unit="video",
              desc=f"{method.name} samples", disable=not progress) as bar:
        for batch in batches:
            keys = [k for k in batch if k not in done]
            if not keys:
                continue
            if stop_after is not None and written >= stop_after:
                raise Interrupted(f"stopped after {written} shards (resume by running again)")
            store.write(method.produce(keys), keys)
            written += 1
            bar.update(len(keys))
    return written


def run(spec: RunSpec, *, generate: GenerateFn | None = None) -> RunResult | None:
    """Evaluate ``spec`` end to end (see the module docstring).

    Under torchrun, rank r of G generates the batches c with c mod G == r (within ``--shard I/N``:
    share I*G + r of N*G) into the same work dir; after a barrier rank 0 alone scores and records
    the row, so the number is the one-process number. Returns None on the other ranks, and a result
    with ``value`` None when a ``--shard`` run leaves samples missing (``missing`` says how many).
    """
    from ramvid import distributed

    t0 = time.time()
    check_results_path(spec.results)
    p = resolve(spec)
    dev = resolve_device(spec.device)
    world = distributed.init(dev)
    dev = distributed.local_device(dev, world)
    i, n = parse_shard(spec.shard) if spec.shard else (0, 1)
    # batch c belongs to shard c mod N whatever the process count; within a shard, to rank r of G in turn
    share = (i, n, world.rank, world.size)
    source = _source(spec, p)
    method = make_method(p, source, ckpt=spec.ckpt, preset=spec.preset, baseline=spec.baseline,
                         samples=spec.samples, generate=generate, method_name=spec.method_name,
                         allow_changed_context=spec.allow_changed_context, device=str(dev),
                         progress=spec.progress and world.main)
    root, manifest = _work_dir(spec, p, method)
    store = ShardStore(root, manifest, defaults={"protocol": protocol_defaults()})
    stale, nbytes = clean_stale_temp(root)  # shards of killed runs (a minute old: no live writer's)
    if stale and world.main:
        note(f"{root}: removed {stale} stale temp file(s) of killed writes ({nbytes / 1e6:.1f} MB)")
    if not spec.merge:
        with store.writing(f"{i}of{n}-r{world.rank}of{world.size}"):
            generate_missing(p, method, store, batch_size=spec.batch_size, progress=spec.progress,
                             stop_after=spec.stop_after_shards, share=share)
    distributed.barrier(world)
    if not world.main:
        return None
    missing = set(_keys(p)) - store.done_keys()
    if missing and (spec.shard or world.active) and not spec.merge:
        return RunResult(protocol=p, value=None, std=None, per_repeat=[], row={}, work_dir=root,
                         missing=len(missing))
    if method.kind in ("samples", "callable") and p.cond and source is not None:
        method.row["changed_context"] = _changed_context(p, source, store)
    if p.metric == "fvd" and spec.bootstrap and p.num_videos < 4:  # an interval needs >= 4 videos:
        spec = dataclasses.replace(spec, bootstrap=0)  # the row's interval columns stay empty
    try:
        scoring = store.writing("score")
        scoring.__enter__()
    except ValueError:  # another process is scoring this folder now: its row will say the number
        return RunResult(protocol=p, value=None, std=None, per_repeat=[], row={}, work_dir=root)
    try:
        store.check_keys(set(_keys(p)))
        scored = score(p, source, store, batch_size=spec.batch_size, device=dev, progress=spec.progress,
                       bootstrap=spec.bootstrap)
        value, std, per_repeat = scored.value, scored.std, scored.per_repeat
    finally:
        scoring.__exit__(None, None, None)
    if spec.gif and source is not None:
        write_run_gif(spec.gif, p, source, store)
    row = _row(p, spec, method, value, std, dev, time.time() - t0, world.size)
    nfe = workload(p, ckpt=spec.ckpt, preset=spec.preset).get("nfe_per_sample", "")
    row.update(run_fields(p, scored.extra, nfe=nfe, seeds=spec.seeds, device=dev))
    row_error = None
    if spec.results:
        try:
            append_row(spec.results, row)
        except (OSError, ValueError, csv.Error) as e:  # the value is still returned (and printed)
            row_error = f"could not append the row to {spec.results}: {type(e).__name__}: {e}"
    return RunResult(protocol=p, value=value, std=std, per_repeat=per_repeat, row=row, work_dir=root,
                     row_error=row_error)


def run_seeds(spec: RunSpec, **kw: Any) -> Iterator[RunResult | None]:
    """``run`` once per seed of ``spec.seeds`` (else once), each result as it is done: one row and one
    work dir per seed (under ``--out-dir``: its ``seed-<s>`` subfolders); the GIF shows the first seed."""
    if not spec.seeds:
        yield run(spec, **kw)
        return
    for i, seed in enumerate(spec.seeds):
        out_dir = spec.out_dir and str(Path(spec.out_dir) / f"seed-{seed}")
        gif = spec.gif if i == 0 else None
        yield run(dataclasses.replace(spec, seed=seed, gif=gif, out_dir=out_dir), **kw)


def _source(spec: RunSpec, p: Protocol) -> Any:
    """The protocol's test clips (None for unconditional IS, which needs no real clips)."""
    if not (p.cond or p.metric == "fvd" or spec.baseline == "real"):
        return None
    return open_source(p, spec.data_path)


def open_source(p: Protocol, data_path: str | None) -> Any:
    """The protocol's test split, checked to hold the protocol's N clips."""
    from ramvid.data import open_dataset

    source = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution,
                          path=data_path, seed=p.data_seed)
    if len(source) < p.num_videos:
        raise ValueError(f"{p.dataset}/{p.split} has {len(source)} clips but the protocol needs "
                         f"{p.num_videos}; lower --num-videos")
    return source


def _changed_context(p: Protocol, source: Any, store: ShardStore) -> int:
    """How many stored samples have known frames that differ from the real clips' (external methods)."""
    changed, cond = 0, list(p.cond)
    for path in store.shards():
        with np.load(path) as z:
            keys, videos = z["keys"], z["videos"]
        real = source.clips([int(v) for v, _ in keys])[:, cond]
        changed += int((videos[:, cond] != real).reshape(len(keys), -1).any(axis=1).sum())
    return changed


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
         dev: torch.device, wall: float, processes: int = 1) -> dict[str, Any]:
    row: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "protocol": p.name, "version": p.version, "metric": p.metric, "value": value, "std": std,
        "num_videos": p.num_videos, "samples_per_video": p.samples_per_video, "repeats": p.repeats,
        "seed": p.seed, "batch_size": spec.batch_size,
        "device": str(dev), "threads": torch.get_num_threads(), "git_hash": git_hash(),
        "wall_s": round(wall, 1), "processes": processes,
        "spec": json.dumps(spec_dict(spec, non_default=True), sort_keys=True),
    }
    row.update(method.row)
    return row


def write_run_gif(path: str | os.PathLike, p: Protocol, source: Any, store: ShardStore,
                  count: int = 6) -> Path:
    """Grid of real clips (top row) over sample 0 of the same videos (bottom), rows labelled, known frames
    green, generated red (never on the real row); .gif, .mp4 or .webp by the suffix of ``path``."""
    from ramvid.video import grid_frames, write_video

    n = min(count, p.num_videos)
    fake = np.concatenate(list(store.iter_batches({0})))[:n]
    real = source.clips(range(n))
    return write_video(path, grid_frames([real, fake], known=p.cond, labels=("real", "generated")))
