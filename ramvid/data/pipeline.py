"""The preparation pipeline: parallel decoding -> atomic shards -> one merged, sorted HDF5 file.

Atomicity and resume (the chosen design): finished videos are buffered in memory and committed
every ``shard_mb`` megabytes as a shard ``<out>.parts/NNNNNN-PID.h5``, written to a temp file and
renamed, so a shard on disk is always complete. Each shard also lists the source items it finished
(written or skipped, with the reason). The output ``<out>`` is written once at the end by merging
the existing output (if any) with all shards, again via temp + rename, and the shards are deleted.
An interrupted run (Ctrl-C commits the buffer first; a kill loses at most one buffer) therefore
leaves only valid files, and re-running skips every item already in ``<out>`` or a shard.
"""
from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import re
import shutil
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from ramvid.data.decode import DecodeOptions, SkipVideo
from ramvid.data.layout import (
    FORMAT,
    SplitAppender,
    check_format,
    natural_key,
    read_index,
    read_resume_state,
    root_attrs,
    splits_of,
    write_root,
)
from ramvid.data.work import Reader, WorkItem
from ramvid.utils import atomic_path, atomic_write, git_hash


@dataclass
class ItemResult:
    key: str
    videos: list[tuple[str, str, int, np.ndarray]] = field(default_factory=list)  # name, split, label, frames
    skipped: list[tuple[str, str]] = field(default_factory=list)  # item key, reason


def process_item(item: WorkItem, opts: DecodeOptions, readers: Mapping[str, Reader]) -> ItemResult:
    """Runs in a worker process; never raises for bad data (the reason goes to ``skipped``).

    ``readers[item.kind]`` reads the item (see ``readers.item_readers``); videos read before a
    failure are kept.
    """
    res = ItemResult(item.key)
    try:
        if item.kind not in readers:
            raise ValueError(f"no reader for work item kind {item.kind!r} (known: {sorted(readers)})")
        for name, frames, reason in readers[item.kind](item, opts):
            if frames is None:
                res.skipped.append((item.key, reason))
            else:
                res.videos.append((name, item.split, item.label, frames))
    except SkipVideo as e:
        res.skipped.append((item.key, str(e)))
    except Exception as e:  # a worker must survive any single bad file
        res.skipped.append((item.key, f"error: {type(e).__name__}: {e}"))
    return res


def _write_shard(path: Path, results: list[ItemResult], resolution: int) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        by_split: dict[str, SplitAppender] = {}
        for r in results:
            for name, split, label, frames in r.videos:
                if split not in by_split:
                    by_split[split] = SplitAppender(f, split, resolution)
                by_split[split].add(name, label, frames)
        for app in by_split.values():
            app.close()
        write_root(f, resolution=resolution, dataset="shard", attrs={},
                   done_items=[r.key for r in results], skipped=[s for r in results for s in r.skipped])


def _state_files(out: Path, parts: Path) -> list[Path]:
    """The output first, then shards oldest first (names start with a nanosecond timestamp)."""
    files = [out] if out.is_file() else []
    return files + (sorted(parts.glob("*.h5")) if parts.is_dir() else [])


def _collect(paths: list[Path], resolution: int) -> tuple[dict[str, None], dict[str, list[str]]]:
    """Done items and skip reasons per item; a later file finishing an item replaces its old reasons.

    Files are opened one at a time: a large job can have thousands of shards.
    """
    done: dict[str, None] = {}
    skipped: dict[str, list[str]] = {}
    for p in paths:
        with h5py.File(p, "r") as h:
            check_format(h, p)
            if int(h.attrs["resolution"]) != resolution:
                raise ValueError(f"{p} holds resolution {h.attrs['resolution']}, not {resolution}; "
                                 "use another --out or the same --resolution")
            d, s = read_resume_state(h)
        for k in d:
            done[k] = None
            skipped.pop(k, None)
        for k, reason in s:
            skipped.setdefault(k, []).append(reason)
    return done, skipped


def load_state(out: Path, parts: Path, resolution: int) -> tuple[set[str], set[str]]:
    """(done item keys, keys of items that were skipped) from the output and its shards."""
    done, skipped = _collect(_state_files(out, parts), resolution)
    return set(done), set(skipped)


class _OpenFiles:
    """At most ``limit`` read handles open at once (least recently used closed first)."""

    def __init__(self, limit: int = 64) -> None:
        self.limit, self.files = limit, OrderedDict()

    def __getitem__(self, path: Path) -> h5py.File:
        if path in self.files:
            self.files.move_to_end(path)
        else:
            if len(self.files) >= self.limit:
                self.files.popitem(last=False)[1].close()
            self.files[path] = h5py.File(path, "r")
        return self.files[path]

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _merge(out: Path, parts: Path, resolution: int, dataset: str, attrs: dict) -> None:
    """Merge the output and all shards into a new output (sorted by name per split), atomically."""
    paths = _state_files(out, parts)
    done, skipped = _collect(paths, resolution)
    entries: dict[str, dict[str, tuple]] = {}
    for p in paths:
        with h5py.File(p, "r") as h:
            for split in splits_of(h):
                idx = read_index(h, split)
                for j, name in enumerate(idx.names):  # first writer of a name wins
                    entries.setdefault(split, {}).setdefault(
                        name, (p, int(idx.starts[j]), int(idx.lengths[j]), int(idx.labels[j])))
    files = _OpenFiles()
    try:
        with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
            for split in sorted(entries):
                app = SplitAppender(f, split, resolution)
                for name in sorted(entries[split], key=natural_key):
                    p, s, n, label = entries[split][name]
                    app.add(name, label, files[p][split]["frames"][s:s + n])
                app.close()
            flat = [(k, r) for k in sorted(skipped, key=natural_key) for r in skipped[k]]
            write_root(f, resolution=resolution, dataset=dataset, attrs=attrs, done_items=list(done),
                       skipped=flat)
    finally:
        files.close()
    shutil.rmtree(parts, ignore_errors=True)


def check_output(out: str | Path) -> Path:
    """Refuse an ``--out`` that names a folder or an existing file not written by ``prepare``.

    Such a file is never overwritten (nor resumed from): it is probably something else.
    """
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out}: is a folder; pass the path of an .h5 file")
    if out.exists():
        try:
            with h5py.File(out, "r") as f:
                is_ours = f.attrs.get("format") == FORMAT
        except OSError:  # not HDF5, or damaged
            is_ours = False
        if not is_ours:
            raise ValueError(f"--out {out}: exists and is not a prepared ramvid-videos HDF5 file; left "
                             "untouched: choose another --out (or delete that file)")
    return out


def _results(todo: list[WorkItem], worker: Callable, workers: int) -> Iterator[ItemResult]:
    if workers <= 0:  # in-process (debugging, tests)
        yield from map(worker, todo)
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    # A PyAV codec context left in a reference cycle and collected in a forked child joins FFmpeg
    # threads that exist only in the parent: it hangs forever. Collect here, and freeze the rest so
    # the children's garbage collector never visits objects inherited from the parent.
    gc.collect()
    gc.freeze()
    try:
        pool = ctx.Pool(workers)
    finally:
        gc.unfreeze()
    with pool:
        yield from pool.imap_unordered(worker, todo, chunksize=1)


def run_prepare(items: Iterable[WorkItem], out: str | Path, opts: DecodeOptions, *, dataset: str,
                readers: Mapping[str, Reader], classes: list[str] = (), workers: int = 2,
                shard_mb: float = 256.0, retry_skipped: bool = False, progress: bool = True) -> dict:
    """Prepare ``items`` into ``out`` (resumable, atomic); returns the report (also written as JSON).

    ``readers``: one reader per ``WorkItem.kind`` (``readers.item_readers()``).
    """
    out = check_output(out)
    parts = out.with_name(out.name + ".parts")
    done, skipped = load_state(out, parts, opts.resolution)
    retry = skipped if retry_skipped else set()
    items = list(items)
    todo = [it for it in items if it.key not in done or it.key in retry]
    attrs = {"dataset": dataset, "classes": list(classes), "git_hash": git_hash(),
             "decode": json.dumps(asdict(opts)), "filter": "centre square, PIL Lanczos to RxR",
             "stride": opts.stride, "source_items": len(items)}
    t0, buffer, nbytes = time.time(), [], 0
    worker = partial(process_item, opts=opts, readers=dict(readers))
    bar = tqdm(total=len(todo), desc=f"prepare {dataset}", unit="file", disable=not progress)
    try:
        for res in _results(todo, worker, workers):
            buffer.append(res)
            nbytes += sum(v[3].nbytes for v in res.videos)
            bar.update(1)
            if nbytes >= shard_mb * 2 ** 20:
                _write_shard(_shard_name(parts), buffer, opts.resolution)
                buffer, nbytes = [], 0
    finally:  # also on Ctrl-C: commit what is finished so a rerun resumes from it
        bar.close()
        if buffer:
            _write_shard(_shard_name(parts), buffer, opts.resolution)
    if not out.is_file() or any(parts.glob("*.h5")):
        _merge(out, parts, opts.resolution, dataset, attrs)
    return write_report(out, processed=len(todo), seconds=time.time() - t0)


def _shard_name(parts: Path) -> Path:
    return parts / f"{time.time_ns():020d}-{os.getpid()}.h5"


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".report.json")


def write_report(out: Path, processed: int = 0, seconds: float = 0.0) -> dict:
    """Summarise ``out`` (videos per split, skipped files and reasons) into ``<stem>.report.json``."""
    with h5py.File(out, "r") as f:
        _, skipped = read_resume_state(f)
        splits = {}
        for s in splits_of(f):
            lengths = read_index(f, s).lengths
            splits[s] = {"videos": len(lengths), "frames": int(lengths.sum()),
                         "min_len": int(lengths.min()) if len(lengths) else 0,
                         "max_len": int(lengths.max()) if len(lengths) else 0}
        attrs = root_attrs(f)
    report = {
        "output": str(out), "report": str(report_path(out)),
        "dataset": attrs.get("dataset"), "resolution": attrs.get("resolution"),
        "splits": splits, "videos": sum(v["videos"] for v in splits.values()),
        "skipped_count": len(skipped),
        "skipped_by_reason": dict(Counter(re.sub(r"\d+", "N", r.split(":")[0]) for _, r in skipped)
                                  .most_common()),
        "skipped": [{"item": k, "reason": r} for k, r in skipped],
        "this_run": {"items_processed": processed, "seconds": round(seconds, 2)},
    }
    atomic_write(report_path(out), lambda p: p.write_text(json.dumps(report, indent=1)))
    return report
