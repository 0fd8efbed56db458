"""Video tensors at the boundaries: uint8 [N, T, H, W, 3] on disk, float [-1, 1] [N, 3, T, H, W] in the model.

Also the `.npz` sample files (key ``videos``) and GIF grids with the known frames marked.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ramvid.utils import atomic_path


def check_videos(videos: np.ndarray, name: str = "videos") -> np.ndarray:
    """Assert the on-disk contract: uint8 [N, T, H, W, 3]. One clear line (with the fix) on violation."""
    if not isinstance(videos, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(videos).__name__}")
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape [N, T, H, W, 3], got {list(videos.shape)}"
                         f"{_shape_hint(videos)}")
    if videos.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (0..255), got {videos.dtype}; {_dtype_hint(videos)}")
    return videos


def _shape_hint(videos: np.ndarray) -> str:
    if videos.ndim == 5 and videos.shape[1] == 3:
        return "; channels first? convert with x.transpose(0, 2, 3, 4, 1)"
    if videos.ndim == 4 and videos.shape[-1] == 3:
        return "; one video? add the batch axis with x[None]"
    if videos.ndim == 4:
        return "; grey videos? repeat the channel with np.repeat(x[..., None], 3, axis=-1)"
    return ""


def _dtype_hint(videos: np.ndarray) -> str:
    if videos.dtype.kind == "f" and videos.size and np.nanmin(videos) >= -1 and np.nanmax(videos) <= 1:
        scale = "((x + 1) * 127.5)" if np.nanmin(videos) < 0 else "(x * 255)"
        return f"values lie in [{'-1' if np.nanmin(videos) < 0 else '0'}, 1]: convert with " \
               f"np.clip({scale}.round(), 0, 255).astype(np.uint8)"
    return "convert with np.clip(x, 0, 255).astype(np.uint8)"


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
    """Read uint8 [N, T, H, W, 3] (N >= 1) from an ``.npz`` (key ``videos`` or its only array) or ``.npy``.

    Never unpickles: a file holding Python objects is refused. Anything unreadable (truncated,
    not numpy at all) is one ValueError line naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file; pass an .npz (or .npy) of uint8 videos [N, T, H, W, 3]")
    try:
        videos = _read_videos(path)
    except _NotVideos:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        if "allow_pickle" in str(e):  # numpy's words for "this holds pickled objects"
            raise ValueError(f"{path}: {_PICKLED}") from None
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise ValueError(f"{path}: not a readable .npz/.npy file ({type(e).__name__}: {reason}); is it "
                         "truncated? write it with np.savez(path, videos=x)") from None
    check_videos(videos, str(path))
    if len(videos) == 0:
        raise ValueError(f"{path}: holds 0 videos (shape {list(videos.shape)}); pass at least one")
    return videos


_PICKLED = ("holds pickled Python objects, which are never loaded (they could run code); save a plain "
            "uint8 array with np.savez(path, videos=x)")


class _NotVideos(ValueError):
    """Not a video file we can use; the message already names the file and the fix."""


def _read_videos(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x80"):  # a bare pickle: numpy would need to unpickle it
        raise _NotVideos(f"{path}: {_PICKLED}")
    if magic == b"\x93NUMPY":
        return np.load(path, allow_pickle=False)
    if not magic.startswith(b"PK"):
        what = "empty" if not magic else f"starts with {magic!r}"
        raise _NotVideos(f"{path}: not an .npz or .npy file ({what}); write it with np.savez(path, videos=x)")
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        if "videos" in keys:
            return z["videos"]
        if len(keys) == 1:
            return z[keys[0]]
    raise _NotVideos(f"{path}: no 'videos' array (found {keys}); save with np.savez(path, videos=x)")


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
