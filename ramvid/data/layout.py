"""The prepared-HDF5 layout (format ``ramvid-videos`` version 1), written and read here only.

    /                       attrs: format, version, resolution, dataset, filter, stride, classes (JSON),
                                   git_hash
    /<split>/frames         uint8 [sum_T, R, R, 3], all videos of the split concatenated,
                            chunks (16, R, R, 3): a 16-frame window touches at most 2 chunks
    /<split>/starts         int64 [N]   first row of video i in ``frames``
    /<split>/lengths        int64 [N]   number of frames of video i
    /<split>/names          str   [N]   source-relative name (file path, or path#record for BAIR)
    /<split>/labels         int64 [N]   class index into ``classes`` (-1: none)
    /done_items             str   [M]   every source item finished (written or skipped): resume state
    /skipped/items, /skipped/reasons    str [K]  items that produced no video and why

Videos of a split are sorted by natural name order, so index i is the same whatever the number of
workers or resumptions. Shards (``<out>.parts/*.h5``) use the same layout.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

FORMAT, VERSION = "ramvid-videos", 1
STR = h5py.string_dtype()


def natural_key(name: str) -> list:
    """Sort key that orders 'traj_256' before 'traj_1024'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class SplitAppender:
    """Append whole videos to ``/<split>`` of an open, writable h5 file; ``close()`` writes the index."""

    def __init__(self, f: h5py.File, split: str, resolution: int) -> None:
        self.group = f.require_group(split)
        r = resolution
        self.frames = self.group.create_dataset("frames", (0, r, r, 3), np.uint8, maxshape=(None, r, r, 3),
                                                chunks=(16, r, r, 3))
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.names: list[str] = []
        self.labels: list[int] = []

    def add(self, name: str, label: int, frames: np.ndarray) -> None:
        """Append one video: uint8 [T, R, R, 3]."""
        n = self.frames.shape[0]
        self.frames.resize(n + len(frames), axis=0)
        self.frames[n:] = frames
        self.starts.append(n)
        self.lengths.append(len(frames))
        self.names.append(name)
        self.labels.append(int(label))

    def close(self) -> None:
        g = self.group
        g.create_dataset("starts", data=np.asarray(self.starts, np.int64).reshape(-1))
        g.create_dataset("lengths", data=np.asarray(self.lengths, np.int64).reshape(-1))
        g.create_dataset("names", data=np.asarray(self.names, dtype=object).reshape(-1), dtype=STR)
        g.create_dataset("labels", data=np.asarray(self.labels, np.int64).reshape(-1))


def write_root(f: h5py.File, *, resolution: int, dataset: str, attrs: dict, done_items: list[str],
               skipped: list[tuple[str, str]]) -> None:
    """Root attributes plus the resume state (done and skipped items)."""
    f.attrs.update({"format": FORMAT, "version": VERSION, "resolution": resolution, "dataset": dataset})
    for k, v in attrs.items():
        f.attrs[k] = json.dumps(v) if isinstance(v, (list, dict)) else v
    f.create_dataset("done_items", data=np.asarray(done_items, dtype=object).reshape(-1), dtype=STR)
    g = f.create_group("skipped")
    g.create_dataset("items", data=np.asarray([s[0] for s in skipped], dtype=object).reshape(-1), dtype=STR)
    g.create_dataset("reasons", data=np.asarray([s[1] for s in skipped], dtype=object).reshape(-1), dtype=STR)


@dataclass(frozen=True)
class SplitIndex:
    """The per-video index of one split (no frames)."""

    starts: np.ndarray
    lengths: np.ndarray
    names: list[str]
    labels: np.ndarray


def _strs(ds: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]


def check_format(f: h5py.File, path: Path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise ValueError(f"{path}: not a prepared ramvid-videos file (no format attribute); "
                         "create it with `ramvid-bench prepare videos|bair|ucf101|kinetics`")
    if int(f.attrs["version"]) > VERSION:
        raise ValueError(f"{path}: layout version {f.attrs['version']} is newer than this code; upgrade")


def splits_of(f: h5py.File) -> list[str]:
    return sorted(k for k in f.keys() if isinstance(f[k], h5py.Group) and "frames" in f[k])


def read_index(f: h5py.File, split: str) -> SplitIndex:
    g = f[split]
    return SplitIndex(g["starts"][()], g["lengths"][()], _strs(g["names"]), g["labels"][()])


def read_resume_state(f: h5py.File) -> tuple[list[str], list[tuple[str, str]]]:
    """(done items, [(skipped item, reason)])."""
    done = _strs(f["done_items"]) if "done_items" in f else []
    skipped = []
    if "skipped" in f:
        skipped = list(zip(_strs(f["skipped/items"]), _strs(f["skipped/reasons"]), strict=True))
    return done, skipped


def root_attrs(f: h5py.File) -> dict:
    out = {}
    for k, v in f.attrs.items():
        v = v.decode() if isinstance(v, bytes) else v
        if isinstance(v, str) and v[:1] in "[{":
            v = json.loads(v)
        out[k] = v.item() if isinstance(v, np.generic) else v
    return out
