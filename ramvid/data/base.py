"""The dataset contract every source implements: deterministic eval clips and random training windows."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class VideoSource:
    """A split of a video dataset at a fixed clip length and square resolution.

    Subclasses implement ``__len__``, ``clip`` and ``random_clip``; ``clips`` stacks ``clip``.
    All frames are ``uint8 [T, H, W, 3]`` with ``T == frames`` and ``H == W == resolution``.
    """

    name: str = "video-source"

    def __init__(self, split: str, frames: int, resolution: int) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if resolution < 4:
            raise ValueError(f"resolution must be >= 4 pixels, got {resolution}")
        self.split = split
        self.frames = int(frames)
        self.resolution = int(resolution)

    def __len__(self) -> int:  # number of deterministic evaluation clips
        raise NotImplementedError

    def clip(self, i: int) -> np.ndarray:
        """Deterministic clip ``i``: uint8 [T, H, W, 3]."""
        raise NotImplementedError

    def random_clip(self, generator: torch.Generator) -> np.ndarray:
        """A training window drawn with ``generator`` only: uint8 [T, H, W, 3]."""
        raise NotImplementedError

    def clips(self, indices: Sequence[int]) -> np.ndarray:
        """Deterministic clips stacked: uint8 [N, T, H, W, 3]."""
        out = np.empty((len(indices), self.frames, self.resolution, self.resolution, 3), np.uint8)
        for k, i in enumerate(indices):
            out[k] = self.clip(int(i))
        return out

    def _check_index(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"{self.name}/{self.split}: clip index {i} out of range [0, {n})")
        return i % n

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, frames={self.frames}, "
                f"resolution={self.resolution}, len={len(self)})")


def randint(generator: torch.Generator, high: int) -> int:
    """Uniform integer in [0, high) from ``generator`` (high may exceed 2**31)."""
    return int(torch.randint(0, int(high), (1,), generator=generator).item())
