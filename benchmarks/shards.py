"""Generated samples on disk as shards, written as produced, so an interrupted run resumes.

A run's work directory holds ``manifest.json`` (what the samples are) and ``shard-00000.npz``,
``shard-00001.npz``, ... each with ``videos`` uint8 [n, T, H, W, 3] and ``keys`` int64 [n, 2]
(video index, sample index). Shards are written atomically, so a crash loses at most the batch in
flight; the keys make resuming independent of the batch size used before.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ramvid.utils import atomic_path
from ramvid.video import save_npz

_SHARD = re.compile(r"^shard-(\d{5,})(?:-v(\d+))?\.npz$")


def _only_added_defaults(stored: dict[str, Any], now: dict[str, Any],
                         defaults: dict[str, dict[str, Any]]) -> bool:
    """Whether ``now`` is ``stored`` plus fields (in sections of ``defaults``) at their defaults."""
    if set(stored) != set(now):
        return False
    for section in now:
        old, new = stored[section], now[section]
        if old == new:
            continue
        if section not in defaults or not isinstance(old, dict) or not isinstance(new, dict):
            return False
        added = set(new) - set(old)
        if not added or set(old) - set(new) or any(old[k] != new[k] for k in old):
            return False
        known = json.loads(json.dumps(defaults[section], default=str))
        if any(k not in known or new[k] != known[k] for k in added):
            return False
    return True


class ShardStore:
    """Shards of one run (one protocol, method and workload) under ``root``."""

    def __init__(self, root: str | os.PathLike, manifest: dict[str, Any],
                 defaults: dict[str, dict[str, Any]] | None = None) -> None:
        """``defaults``: per manifest section, the default of every field; a folder written before a
        field existed is the same run when everything else matches and the new field holds its
        default (then its manifest is rewritten with the field)."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "manifest.json"
        text = json.dumps(manifest, indent=1, sort_keys=True, default=str)
        if path.exists():
            stored, now = json.loads(path.read_text()), json.loads(text)
            if stored != now and not _only_added_defaults(stored, now, defaults or {}):
                raise ValueError(f"{self.root} holds samples of a different run (manifest.json differs); "
                                 "delete the folder or pass another --out-dir")
            if stored == now:
                return
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    def shards(self) -> list[Path]:
        found = [((int(m.group(1)), int(m.group(2) or -1)), p) for p in self.root.iterdir()
                 if (m := _SHARD.match(p.name))]
        return [p for _, p in sorted(found)]

    def done_keys(self) -> set[tuple[int, int]]:
        """(video, sample) pairs already on disk."""
        return {key for key, _ in self.key_index()}

    def key_index(self) -> list[tuple[tuple[int, int], Path]]:
        """Every (video, sample) key on disk with its shard, repeats included (see ``check_keys``)."""
        out: list[tuple[tuple[int, int], Path]] = []
        for p in self.shards():
            try:
                with np.load(p) as z:
                    keys = z["keys"]
            except Exception as e:  # noqa: BLE001 - any unreadable shard gets the same advice
                raise ValueError(f"{p}: unreadable shard ({type(e).__name__}); delete it and run again "
                                 "to regenerate its videos") from None
            out += [((int(v), int(s)), p) for v, s in keys]
        return out

    def check_keys(self, expected: set[tuple[int, int]]) -> None:
        """Refuse to score unless the keys on disk are unique and exactly ``expected``."""
        seen: dict[tuple[int, int], Path] = {}
        for key, p in self.key_index():
            if key in seen:
                raise ValueError(f"{self.root}: video {key[0]} sample {key[1]} is in both {seen[key].name} "
                                 f"and {p.name} (two runs wrote this folder at once); delete the folder "
                                 "and run again")
            seen[key] = p
        missing, extra = sorted(expected - set(seen)), sorted(set(seen) - expected)
        if extra:
            raise ValueError(f"{self.root}: {len(extra)} samples outside this run's workload (first: video "
                             f"{extra[0][0]} sample {extra[0][1]}); delete the folder or pass another "
                             "--out-dir")
        if missing:
            raise ValueError(f"{self.root}: {len(missing)} samples missing (first: video {missing[0][0]} "
                             f"sample {missing[0][1]}); run again to generate them")

    @contextlib.contextmanager
    def writing(self, part: str = "all") -> Iterator[None]:
        """Hold the write lock of one ``part`` of the folder (a share ``I of N``, or ``score``); a second
        process on the same part is refused in one line. Different shares may write at once: their
        keys are disjoint, and ``check_keys`` refuses any overlap before scoring."""
        from filelock import FileLock, Timeout

        lock = FileLock(self.root / f".write-{part}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise ValueError(f"{self.root} is being written by another run ({part}); wait for it to finish "
                             "or pass another --out-dir") from None
        try:
            yield
        finally:
            lock.release()

    def write(self, videos: np.ndarray, keys: list[tuple[int, int]]) -> Path:
        """Store one batch as a shard named by its first key, ``shard-<sample>-v<video>.npz`` (atomic).

        Keys are never generated twice, so the name is unique whichever process writes it.
        """
        if len(videos) != len(keys) or not keys:
            raise ValueError(f"{len(videos)} videos but {len(keys)} keys")
        v, s = keys[0]
        return save_npz(self.root / f"shard-{s:05d}-v{v:07d}.npz", videos,
                        keys=np.asarray(keys, np.int64).reshape(-1, 2))

    def iter_batches(self, samples: set[int] | None = None) -> Iterator[np.ndarray]:
        """Yield uint8 [n, T, H, W, 3] per shard, only the videos whose sample index is in ``samples``.

        Videos come in (sample, video) order whatever the shard layout, so the metric's input order
        never depends on how the run was batched or interrupted.
        """
        index: list[tuple[int, int, Path, int]] = []
        for p in self.shards():
            with np.load(p) as z:
                index += [(int(s), int(v), p, row) for row, (v, s) in enumerate(z["keys"])
                          if samples is None or int(s) in samples]
        index.sort()
        cache: dict[Path, np.ndarray] = {}
        chunk: list[np.ndarray] = []
        for _, _, p, row in index:
            if p not in cache:
                cache.clear()  # keep one shard in memory at a time in the common in-order case
                with np.load(p) as z:
                    cache[p] = z["videos"]
            chunk.append(cache[p][row])
            if len(chunk) == 32:
                yield np.stack(chunk)
                chunk = []
        if chunk:
            yield np.stack(chunk)
