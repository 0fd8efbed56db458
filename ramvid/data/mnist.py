"""``moving-mnist``: MNIST digits bouncing in a square frame, read from the standard IDX files.

Clip ``i`` of split ``s`` is drawn from ``make_generator(seed, SPLIT_IDS[s], i)``: digit choice,
start position and direction. Motion follows Srivastava et al. (2015): constant speed (0.1 of the
free range per frame at every resolution), reflection at the walls, digits overlaid with ``max``.
Digits are 28x28 at 64x64 and resized with PIL's Lanczos filter (antialiased) at other resolutions.

Splits: ``test`` always uses the t10k digits. ``train`` uses ``train-images-idx3-ubyte[.gz]`` when
present at the path; otherwise it falls back to the t10k digits (with a warning): train and test
sequences then differ but share digit images. MNIST is read in place and never copied.
"""
from __future__ import annotations

import functools
import gzip
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ramvid.data.base import VideoSource, randint
from ramvid.data.shapes import SPLIT_IDS, bounce
from ramvid.utils import make_generator

HINT = ("download t10k-images-idx3-ubyte.gz (and train-images-idx3-ubyte.gz for a disjoint train split) "
        "from the MNIST site into a folder and pass it as --data-path")


def find_idx(folder: Path, prefix: str) -> Path | None:
    """The images IDX file for ``prefix`` ('t10k' or 'train'), gzipped or not, or None."""
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte",
                 f"{prefix}-images.idx3-ubyte.gz", f"{prefix}-images.idx3-ubyte"):
        if (folder / name).is_file():
            return folder / name
    return None


@functools.lru_cache(maxsize=4)
def read_idx_images(path: Path) -> np.ndarray:
    """uint8 [N, 28, 28] from an IDX3 file (magic 0x00000803), gzipped or raw."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n, h, w = np.frombuffer(data[:16], ">u4")
    if magic != 0x803 or len(data) != 16 + int(n) * int(h) * int(w):
        raise ValueError(f"{path}: not an IDX3 image file (magic {magic:#x}, {len(data)} bytes); {HINT}")
    return np.frombuffer(data, np.uint8, offset=16).reshape(int(n), int(h), int(w))


class MovingMNIST(VideoSource):
    """Bouncing digits, RGB uint8 (grey replicated). ``len``: ``test_size`` clips (default 1024)."""

    name = "moving-mnist"

    def __init__(self, split: str, frames: int, resolution: int, path: str | Path | None,
                 seed: int = 0, digits: int = 2, test_size: int = 1024, train_size: int = 2 ** 31) -> None:
        super().__init__(split, frames, resolution)
        if split not in SPLIT_IDS:
            raise ValueError(f"moving-mnist: unknown split {split!r}; choose one of {', '.join(SPLIT_IDS)}")
        if path is None:
            raise FileNotFoundError(f"moving-mnist needs the MNIST IDX files: {HINT}")
        folder = Path(path)
        t10k = find_idx(folder, "t10k")
        if t10k is None:
            raise FileNotFoundError(f"moving-mnist: no t10k-images-idx3-ubyte[.gz] in {folder}; {HINT}")
        src, self.note = t10k, ""
        if split == "train":
            train = find_idx(folder, "train")
            if train is None:
                self.note = f"train split uses the t10k digits: no train-images-idx3-ubyte[.gz] in {folder}"
                warnings.warn(f"moving-mnist: {self.note}", stacklevel=2)
            else:
                src = train
        self.digit_size = max(1, round(28 * resolution / 64))
        self.digits = read_idx_images(src.resolve())
        self._scaled: dict[int, np.ndarray] = {}  # resized lazily: only the digits actually used
        self.n_digits, self.seed = int(digits), int(seed)
        self._size = train_size if split == "train" else test_size

    def __len__(self) -> int:
        return self._size

    def clip(self, i: int) -> np.ndarray:
        i = self._check_index(i)
        g = make_generator(self.seed, SPLIT_IDS[self.split], i)
        T, R, d = self.frames, self.resolution, self.digit_size
        free = R - d
        out = np.zeros((T, R, R), np.uint8)
        for _ in range(self.n_digits):
            digit = self._digit(randint(g, len(self.digits)))
            u = torch.rand(3, generator=g, dtype=torch.float64).tolist()
            x, y, theta = u[0], u[1], 2 * math.pi * u[2]
            vx, vy = 0.1 * math.cos(theta), 0.1 * math.sin(theta)
            for t in range(T):
                px, py = round(x * free), round(y * free)
                np.maximum(out[t, py:py + d, px:px + d], digit, out=out[t, py:py + d, px:px + d])
                x, vx = bounce(x + vx, vx, 0.0)
                y, vy = bounce(y + vy, vy, 0.0)
        return np.repeat(out[..., None], 3, axis=-1)

    def _digit(self, k: int) -> np.ndarray:
        d = self.digit_size
        if d == self.digits.shape[1]:
            return self.digits[k]
        if k not in self._scaled:
            self._scaled[k] = np.asarray(Image.fromarray(self.digits[k]).resize((d, d), Image.LANCZOS))
        return self._scaled[k]

    def random_clip(self, generator: torch.Generator) -> np.ndarray:
        return self.clip(randint(generator, len(self)))
