"""Samples made by any other code, read in the protocol's key order (``run --samples PATH``).

Accepted layouts, all uint8 [T, H, W, 3] per video:

- one array file (``.npy``, ``.npz`` with ``videos``, ``.h5``/``.hdf5``) of K videos in the order of
  the exported ``keys`` (``ramvid-bench export``), or any order when the file also holds a ``keys``
  array int64 [K, 2] of (video, sample);
- a folder of per-key files named ``v<video>_s<sample>.<ext>`` (``.npy`` or any video file);
- a folder of K video files whose sorted names follow the exported key order.

Every problem is one line naming the file: a wrong count, frames, resolution or dtype, missing
keys (listed), repeated keys.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Key = tuple[int, int]
_PER_KEY = re.compile(r"^v(\d+)_s(\d+)\.[A-Za-z0-9]+$")


def samples_digest(path: str | os.PathLike) -> str:
    """sha256 of a samples file, or of a folder's file names and bytes (what the samples are)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return h.hexdigest()


class ExternalSamples:
    """Random access by (video, sample) key to a samples file or folder (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, keys: Sequence[Key], frames: int, resolution: int) -> None:
        self.path = Path(path)
        self.frames, self.resolution = frames, resolution
        if not self.path.exists():
            raise FileNotFoundError(f"--samples {self.path}: no such file or folder")
        self._read = self._open(list(keys))

    def __call__(self, keys: Sequence[Key]) -> np.ndarray:
        """uint8 [len(keys), T, H, W, 3], checked against the protocol's clip shape."""
        videos = np.stack([self._read(tuple(k)) for k in keys])
        self._check(videos)
        return videos

    def _check(self, videos: np.ndarray) -> None:
        want = (self.frames, self.resolution, self.resolution, 3)
        if videos.dtype != np.uint8:
            raise ValueError(f"--samples {self.path}: {videos.dtype} videos; the protocol needs uint8 "
                             "(0..255): convert floats in [0, 1] with np.clip(np.round(x * 255), 0, 255)"
                             ".astype(np.uint8), in [-1, 1] with np.clip(np.round((x + 1) * 127.5), 0, 255)"
                             ".astype(np.uint8)")
        if videos.shape[1:] != want:
            raise ValueError(f"--samples {self.path}: videos are {list(videos.shape[1:])} but the protocol "
                             f"needs [T, H, W, 3] = {list(want)}")

    def _open(self, keys: list[Key]) -> Callable[[Key], np.ndarray]:
        if self.path.is_dir():
            per_key = {}
            for p in self.path.iterdir():
                if m := _PER_KEY.match(p.name):
                    per_key[(int(m.group(1)), int(m.group(2)))] = p
            if per_key:
                return self._per_key(per_key, keys)
            return self._sorted_folder(keys)
        return self._array(keys)

    def _per_key(self, files: dict[Key, Path], keys: list[Key]) -> Callable[[Key], np.ndarray]:
        _require(self.path, set(files), keys)

        def read(key: Key) -> np.ndarray:
            f = files[key]
            if f.suffix.lower() == ".npy":
                return _one_npy(f)
            from metrics.videos import read_video_file

            return read_video_file(f, self.frames)
        return read

    def _sorted_folder(self, keys: list[Key]) -> Callable[[Key], np.ndarray]:
        from metrics.videos import VIDEO_EXTENSIONS, read_video_file

        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        if len(files) != len(keys):
            raise ValueError(f"--samples {self.path}: {len(files)} video files but the protocol scores "
                             f"{len(keys)} (video, sample) keys; name files v<video>_s<sample>.<ext> or "
                             "give one file per exported key, in key order")
        position = {k: i for i, k in enumerate(keys)}
        return lambda key: read_video_file(files[position[key]], self.frames)

    def _array(self, keys: list[Key]) -> Callable[[Key], np.ndarray]:
        from metrics.videos import load_video_set

        vs = load_video_set(self.path)  # validates the file (readable, uint8 [N, T, H, W, 3], N >= 1)
        stored = _stored_keys(self.path)
        if stored is None:
            if len(vs) != len(keys):
                raise ValueError(f"--samples {self.path}: {len(vs)} videos but the protocol scores "
                                 f"{len(keys)} (video, sample) keys; write them in the exported key order "
                                 "(or add a 'keys' array [K, 2])")
            order = {k: i for i, k in enumerate(keys)}
        else:
            if len(stored) != len(vs):
                raise ValueError(f"--samples {self.path}: {len(stored)} keys for {len(vs)} videos")
            order = {}
            for i, k in enumerate(stored):
                if k in order:
                    raise ValueError(f"--samples {self.path}: key (video {k[0]}, sample {k[1]}) is repeated")
                order[k] = i
            _require(self.path, set(order), keys)
        rows = _Rows(vs)
        return lambda key: rows[order[key]]


class _Rows:
    """Row i of a VideoSet, reading its batches in order and keeping the current one."""

    def __init__(self, vs: Any) -> None:
        self.vs, self.it, self.lo, self.batch = vs, None, 0, None

    def __getitem__(self, i: int) -> np.ndarray:
        if self.batch is None or i < self.lo:
            self.it: Iterator[np.ndarray] | None = iter(self.vs)
            self.lo, self.batch = 0, next(self.it)
        while i >= self.lo + len(self.batch):
            self.lo += len(self.batch)
            self.batch = next(self.it)
        return self.batch[i - self.lo]


def _stored_keys(path: Path) -> list[Key] | None:
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return [tuple(map(int, k)) for k in z["keys"]] if "keys" in z.files else None
    if path.suffix.lower() in (".h5", ".hdf5"):
        from metrics.videos import open_h5

        with open_h5(path) as f:
            return [tuple(map(int, k)) for k in f["keys"][()]] if "keys" in f else None
    return None


def _one_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"--samples {path}: not a readable .npy video ({type(e).__name__}); save one "
                         "uint8 [T, H, W, 3] array per key with np.save") from None


def _require(path: Path, have: set[Key], keys: list[Key]) -> None:
    missing = [k for k in keys if k not in have]
    if missing:
        shown = ", ".join(f"v{v}_s{s}" for v, s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"--samples {path}: {len(missing)} of {len(keys)} keys missing ({shown})")
