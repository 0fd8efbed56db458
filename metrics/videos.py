"""Read a set of videos from disk as a re-iterable stream of uint8 [B, T, H, W, 3] batches.

Formats: ``.npy``; ``.npz`` (key ``videos`` or its only array); ``.h5``/``.hdf5`` (dataset ``key``,
else ``videos``, else its only 5-D dataset); a folder of video files decoded with PyAV. Arrays are
read batch by batch (never whole), so memory does not grow with the number of videos.
"""
from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

# The one list of video file extensions (``prepare videos`` keeps an equal copy in
# ramvid/data/decode.py, since metrics/ stands alone; tests/test_naming.py pins them equal).
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
                              ".ogv", ".3gp", ".wmv", ".gif"})
VideoBatches = Iterator[np.ndarray]  # uint8 [B, T, H, W, 3] batches


@dataclass(frozen=True)
class VideoSet:
    """Videos on disk: iterate for uint8 [B, T, H, W, 3] batches (re-reads each time); len() = count."""

    path: Path
    n: int
    frames: int | None  # frames per video when the header says so (None for folders until decoded)
    batches: Callable[[], VideoBatches]

    def __iter__(self) -> VideoBatches:
        return self.batches()

    def __len__(self) -> int:
        return self.n


def _check_layout(shape: tuple[int, ...], dtype: np.dtype, where: str) -> None:
    """uint8 [N, T, H, W, 3] with N >= 1, or one line that names ``where`` and says how to convert."""
    if dtype.hasobject:
        raise ValueError(f"{where}: holds Python objects (a pickle), which are not loaded; save the videos "
                         "as a uint8 [N, T, H, W, 3] array with np.save(path, x.astype(np.uint8))")
    if len(shape) != 5 or shape[-1] != 3:
        hint = "; one video? add the batch axis with x[None]" if len(shape) == 4 and shape[-1] == 3 else ""
        raise ValueError(f"{where}: expected uint8 videos [N, T, H, W, 3], got {len(shape)}-D shape "
                         f"{list(shape)}{hint}")
    if dtype != np.uint8:
        how = "np.clip(x, 0, 255).astype(np.uint8)"
        if dtype.kind == "f":
            how = "np.clip(np.round(x * 255), 0, 255).astype(np.uint8) (x in 0..1; drop * 255 for 0..255)"
        raise ValueError(f"{where}: {dtype} videos; expected uint8 [N, T, H, W, 3] (0..255): "
                         f"convert with {how}")
    if shape[0] == 0:
        raise ValueError(f"{where}: 0 videos; the file must hold at least one uint8 [T, H, W, 3] video")


def _npy_header(f: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(f)
    except (ValueError, EOFError, OSError, SyntaxError) as e:  # numpy's messages do not name the file
        detail = _first_line(e)
        if "pickle" in detail:  # numpy's advice for oversized headers is to trust the file: never
            detail = "header too large to read safely"
        raise ValueError(f"{where}: not a readable .npy array ({detail}); "
                         "save the videos with np.save(path, x)") from None
    _check_layout(shape, dtype, where)
    if fortran:
        raise ValueError(f"{where}: Fortran-ordered array; save it with np.ascontiguousarray(x)")
    return tuple(shape), dtype


def _first_line(e: BaseException) -> str:
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0][:160] if lines else type(e).__name__


def _check_size(where: str, shape: tuple[int, ...], data_start: int, size: int) -> None:
    """A truncated array fails here, before any network runs, not halfway through the set."""
    need = data_start + int(np.prod(shape))
    if size < need:
        whole = max(size - data_start, 0) // max(int(np.prod(shape[1:])), 1)
        raise ValueError(f"{where}: truncated: the header says {shape[0]} videos ({need} bytes), the file "
                         f"has {size} bytes ({whole} whole videos); write it again")


def _npy_stream(f: BinaryIO, shape: tuple[int, ...], batch_size: int, where: str) -> VideoBatches:
    per_video = int(np.prod(shape[1:]))
    for start in range(0, shape[0], batch_size):
        b = min(batch_size, shape[0] - start)
        buf = f.read(b * per_video)
        if len(buf) != b * per_video:
            raise ValueError(f"{where}: truncated: expected {shape[0]} videos, the data ends after {start}")
        yield np.frombuffer(bytearray(buf), np.uint8).reshape(b, *shape[1:])  # writable copy


def _npy(path: Path, batch_size: int) -> tuple[Callable[[], VideoBatches], tuple[int, ...]]:
    with open(path, "rb") as f:
        shape, _ = _npy_header(f, str(path))
        _check_size(str(path), shape, f.tell(), os.fstat(f.fileno()).st_size)

    def gen() -> VideoBatches:
        with open(path, "rb") as f:
            _npy_header(f, str(path))
            yield from _npy_stream(f, shape, batch_size, str(path))
    return gen, shape


@contextlib.contextmanager
def _zip_errors(path: Path) -> Iterator[None]:
    """zipfile's errors (BadZipFile is no OSError) as one line naming the file."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({_first_line(e)}); it may be truncated: "
                         "write it again with np.savez(path, videos=x)") from None


def _npz_member(path: Path, key: str | None) -> str:
    with _zip_errors(path), zipfile.ZipFile(path) as z:
        names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
    if key is None:
        key = "videos" if "videos" in names else (names[0] if len(names) == 1 else None)
    if key not in names:
        raise ValueError(f"{path}: no array {key or 'videos'!r} (found {names}); "
                         "save with np.savez(path, videos=x) or pass --key")
    return key + ".npy"


def _npz(path: Path, key: str | None, batch_size: int) -> tuple[Callable[[], VideoBatches], tuple[int, ...]]:
    member = _npz_member(path, key)
    where = f"{path}:{member}"
    with _zip_errors(path), zipfile.ZipFile(path) as z, z.open(member) as f:
        shape, _ = _npy_header(f, where)
        _check_size(where, shape, f.tell(), z.getinfo(member).file_size)

    def gen() -> VideoBatches:
        with _zip_errors(path), zipfile.ZipFile(path) as z, z.open(member) as f:
            _npy_header(f, where)
            yield from _npy_stream(f, shape, batch_size, where)
    return gen, shape


@contextlib.contextmanager
def open_h5(path: str | os.PathLike) -> Iterator[Any]:
    """``h5py.File(path, "r")``; a file HDF5 cannot open is one line naming it (h5py's does not)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({_first_line(e)}); it may be truncated: "
                         "write it again") from None
    with f:
        yield f


def _h5_key(h5, path: Path, key: str | None) -> str:  # noqa: ANN001
    if key is not None:
        if key not in h5:
            raise ValueError(f"{path}: no dataset {key!r} (found {list(h5.keys())}); pass --key")
        return key
    if "videos" in h5:
        return "videos"
    five_d = [k for k, v in h5.items() if getattr(v, "ndim", 0) == 5]
    if len(five_d) != 1:
        raise ValueError(f"{path}: cannot tell which dataset holds the videos (5-D datasets: {five_d}); "
                         "pass --key")
    return five_d[0]


def _h5(path: Path, key: str | None, batch_size: int) -> tuple[Callable[[], VideoBatches], tuple[int, ...]]:
    with open_h5(path) as h5:
        key = _h5_key(h5, path, key)
        _check_layout(h5[key].shape, h5[key].dtype, f"{path}:{key}")
        shape = tuple(h5[key].shape)
        n = shape[0]

    def gen() -> VideoBatches:
        with open_h5(path) as h5:
            ds = h5[key]
            for start in range(0, n, batch_size):
                try:
                    batch = np.asarray(ds[start:start + batch_size])
                except OSError as e:
                    raise ValueError(f"{path}:{key}: cannot read videos {start}.. ({_first_line(e)}); "
                                     "the file may be damaged: write it again") from None
                yield batch
    return gen, shape


def read_video_file(path: str | os.PathLike, frames: int | None = None) -> np.ndarray:
    """All frames (or the first ``frames``) of a video file as uint8 [T, H, W, 3] (PyAV).

    Decodes until the stream ends: container frame counts are not trusted.
    """
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if frames is not None and len(out) == frames:
                break
    if not out:
        raise ValueError(f"{path}: no decodable video frames")
    if frames is not None and len(out) < frames:
        raise ValueError(f"{path}: has {len(out)} frames, fewer than the {frames} requested")
    return np.stack(out)


def _folder(path: Path, frames: int | None, batch_size: int) -> VideoSet:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise ValueError(f"{path}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")

    def gen() -> VideoBatches:
        batch: list[np.ndarray] = []
        for f in files:
            video = read_video_file(f, frames)
            if batch and video.shape != batch[0].shape:
                raise ValueError(f"{f}: shape {list(video.shape)} differs from {list(batch[0].shape)} "
                                 "of the other videos; pass --frames or resize them to one size")
            batch.append(video)
            if len(batch) == batch_size:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)
    return VideoSet(path, len(files), frames, gen)


def load_video_set(path: str | os.PathLike, key: str | None = None, *, frames: int | None = None,
                   batch_size: int = 16) -> VideoSet:
    """The videos in a file or folder as a ``VideoSet`` (iterate for batches; ``len`` = count).

    ``key`` picks the array/dataset in ``.npz``/``.h5``; ``frames`` keeps the first ``frames`` frames.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir():
        return _folder(path, frames, batch_size)
    if suffix == ".npy":
        gen, shape = _npy(path, batch_size)
    elif suffix == ".npz":
        gen, shape = _npz(path, key, batch_size)
    elif suffix in (".h5", ".hdf5"):
        gen, shape = _h5(path, key, batch_size)
    else:
        raise ValueError(f"{path}: unsupported format; use .npy, .npz, .h5 or a folder of videos")
    if frames is None:
        return VideoSet(path, shape[0], shape[1], gen)
    if shape[1] < frames:
        raise ValueError(f"{path}: videos have {shape[1]} frames, fewer than the {frames} requested")
    return VideoSet(path, shape[0], frames, lambda: (b[:, :frames] for b in gen()))
