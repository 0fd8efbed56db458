"""Load prepared HDF5 files (layout in ``ramvid.data.layout``) as a ``VideoSource``.

Training: ``random_clip`` picks a video uniformly, then a start uniformly in [0, L - T] (the last
window included). Evaluation: ``clip(i)`` is video i (natural name order, videos shorter than T
excluded) from a start fixed by ``eval_start``: "first" (0, default), "center" ((L - T) // 2),
"last" (L - T) or an integer k (min(k, L - T)). If the file's resolution differs from the requested
one, frames are resized on the fly with PIL's Lanczos filter (prepare at the target size to avoid it).
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

from ramvid.data.base import VideoSource, randint
from ramvid.data.layout import check_format, read_index, root_attrs, splits_of


class H5Source(VideoSource):
    """Windows of ``frames`` frames from one split of a prepared file."""

    name = "hdf5"

    def __init__(self, path: str | Path, split: str, frames: int, resolution: int,
                 eval_start: str | int = "first", hint: str = "") -> None:
        super().__init__(split, frames, resolution)
        self.path = Path(path)
        if not self.path.is_file():
            fix = hint or "run `ramvid-bench prepare videos --src FOLDER --out X.h5`"
            raise FileNotFoundError(f"{self.path}: no prepared HDF5 file; {fix}")
        with h5py.File(self.path, "r") as f:
            check_format(f, self.path)
            splits = splits_of(f)
            if split not in splits:
                raise ValueError(f"{self.path}: no split {split!r}; it has {', '.join(splits) or 'none'}")
            index = read_index(f, split)
            self.attrs = root_attrs(f)
        keep = np.flatnonzero(index.lengths >= frames)
        if len(keep) == 0:
            raise ValueError(f"{self.path}/{split}: no video has {frames} frames (longest "
                             f"{int(index.lengths.max(initial=0))}); use fewer --frames")
        self.starts, self.lengths = index.starts[keep], index.lengths[keep]
        self.names = [index.names[k] for k in keep]
        self.labels = index.labels[keep]
        self.stored_resolution = int(self.attrs["resolution"])
        self.eval_start = eval_start
        self._file: h5py.File | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.starts)

    def _frames(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():  # one handle per process (DataLoader workers)
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file[self.split]["frames"]

    def eval_window(self, i: int) -> int:
        """Start frame of evaluation clip i (see the module docstring)."""
        slack = int(self.lengths[i]) - self.frames
        rule = self.eval_start
        if rule == "first":
            return 0
        if rule == "center":
            return slack // 2
        if rule == "last":
            return slack
        if isinstance(rule, (int, np.integer)) or (isinstance(rule, str) and rule.isdigit()):
            return min(int(rule), slack)
        raise ValueError(f"eval_start must be first, center, last or an integer, got {rule!r}")

    def window(self, i: int, start: int) -> np.ndarray:
        """Frames [start, start + T) of video i: uint8 [T, R, R, 3]."""
        if not 0 <= start <= self.lengths[i] - self.frames:
            raise IndexError(f"window start {start} out of range for video {i} ({self.lengths[i]} frames)")
        s = int(self.starts[i]) + start
        x = self._frames()[s:s + self.frames]
        if self.stored_resolution != self.resolution:
            r = self.resolution
            x = np.stack([np.asarray(Image.fromarray(f).resize((r, r), Image.LANCZOS)) for f in x])
        return x

    def clip(self, i: int) -> np.ndarray:
        i = self._check_index(i)
        return self.window(i, self.eval_window(i))

    def random_clip(self, generator: torch.Generator) -> np.ndarray:
        i = randint(generator, len(self))
        return self.window(i, randint(generator, int(self.lengths[i]) - self.frames + 1))

    def __getstate__(self) -> dict:  # picklable for DataLoader workers: reopen lazily
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, -1
        return state
