"""Video tensors at the boundaries: uint8 [N, T, H, W, 3] on disk, float [-1, 1] [N, 3, T, H, W] in the model.

Also the `.npz` sample files (key ``videos``) and GIF grids with the known frames marked.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ramvid.utils import atomic_path


def check_videos(videos: np.ndarray, name: str = "videos") -> np.ndarray:
    """Assert the on-disk contract: uint8 [N, T, H, W, 3]. One clear line on violation."""
    if not isinstance(videos, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(videos).__name__}")
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape [N, T, H, W, 3], got {list(videos.shape)}")
    if videos.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0..255), got {videos.dtype}; convert with "
                         "np.clip(x, 0, 255).astype(np.uint8)")
    return videos


def to_model(videos: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [N, T, H, W, 3] -> float32 [N, 3, T, H, W] in [-1, 1]."""
    x = torch.as_tensor(videos).to(device)
    return x.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 3, T, H, W] in [-1, 1] -> uint8 [N, T, H, W, 3] (round half up, clamp)."""
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 4, 1).cpu().numpy()


def save_npz(path: str | os.PathLike, videos: np.ndarray, **extra: np.ndarray) -> Path:
    """Write ``videos`` (and extra arrays) to an ``.npz`` atomically."""
    check_videos(videos)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, videos=videos, **extra)
    return Path(path)


def load_npz(path: str | os.PathLike) -> np.ndarray:
    """Read uint8 [N, T, H, W, 3] from an ``.npz`` (key ``videos`` or its only array) or ``.npy``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".npy":
        return check_videos(np.load(path), str(path))
    with np.load(path) as z:
        keys = list(z.keys())
        if "videos" in keys:
            return check_videos(z["videos"], str(path))
        if len(keys) == 1:
            return check_videos(z[keys[0]], str(path))
    raise ValueError(f"{path}: no 'videos' array (found {keys}); save with np.savez(path, videos=x)")


def grid_frames(rows: Sequence[np.ndarray], known: Sequence[int] = (), border: int = 2) -> np.ndarray:
    """Tile videos side by side: rows[i] is uint8 [N, T, H, W, 3]; returns [T, H', W', 3].

    Known (conditioning) frames get a green border, generated ones a red border.
    """
    known = set(int(k) for k in known)
    first = rows[0]
    t, h, w = first.shape[1:4]
    cell_h, cell_w = h + 2 * border, w + 2 * border
    n_rows, n_cols = len(rows), first.shape[0]
    out = np.zeros((t, n_rows * cell_h, n_cols * cell_w, 3), np.uint8)
    for ti in range(t):
        colour = (0, 200, 0) if ti in known else (200, 0, 0)
        for r, vids in enumerate(rows):
            for c in range(n_cols):
                y, x = r * cell_h, c * cell_w
                out[ti, y:y + cell_h, x:x + cell_w] = colour
                out[ti, y + border:y + border + h, x + border:x + border + w] = vids[c, ti]
    return out


def write_gif(path: str | os.PathLike, frames: np.ndarray, fps: int = 4, scale: int = 2) -> Path:
    """Write uint8 [T, H, W, 3] frames as a looping GIF (Pillow), atomically."""
    from PIL import Image

    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(1000 / fps), loop=0)
    return Path(path)
