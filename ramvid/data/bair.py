"""BAIR robot pushing: the TFRecord distribution (``softmotion30_44k/{train,test}/*.tfrecords``) and
VideoGPT's ``bair.hdf5`` (``{split}_data`` [N*30, 64, 64, 3] uint8, ``{split}_idx`` start rows).

Each TFRecord record is a ``tf.train.Example`` with ``{t}/image_{view}/encoded`` for t = 0..29: raw
64x64x3 RGB bytes (PNG/JPEG also accepted). All frames are kept; ``view`` is ``aux1`` (what peers
use) or ``main``. Sequence k of file F is named ``F#kkkk`` (split-relative file path).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
from PIL import Image
from tqdm import tqdm

from ramvid.data.decode import DecodeOptions, square_resize
from ramvid.data.layout import SplitAppender, write_root
from ramvid.data.tfrecord import parse_example, read_records
from ramvid.data.work import WorkItem
from ramvid.utils import atomic_path, git_hash

NATIVE = 64
VIEWS = ("aux1", "main")
MAX_T = 1000  # frames looked for per sequence (BAIR has 30)


def _frame(raw: bytes, res: int) -> np.ndarray:
    if len(raw) == NATIVE * NATIVE * 3:
        img = np.frombuffer(raw, np.uint8).reshape(NATIVE, NATIVE, 3)
        return img if res == NATIVE else square_resize(Image.fromarray(img), res)
    return square_resize(Image.open(io.BytesIO(raw)), res)  # encoded variants of the dataset


def example_frames(payload: bytes, view: str, res: int) -> np.ndarray:
    """All frames of one BAIR Example, in time order: uint8 [T, R, R, 3]."""
    suffix = f"/image_{view}/encoded"
    feats = parse_example(payload, keys={f"{t}{suffix}" for t in range(MAX_T)})
    if not feats:
        raise ValueError(f"no '{{t}}{suffix}' features")
    if len(feats) == MAX_T or any(f"{t}{suffix}" not in feats for t in range(len(feats))):
        raise ValueError(f"'{{t}}{suffix}' features are not t = 0..{len(feats) - 1}")
    return np.stack([_frame(feats[f"{t}{suffix}"][0], res) for t in range(len(feats))])


def read_tfrecord_videos(path: Path, key: str, opts: DecodeOptions, view: str = "aux1"
                         ) -> Iterator[tuple[str, np.ndarray | None, str]]:
    """(name, frames or None, skip reason) for every record of one TFRecord file."""
    if view not in VIEWS:
        raise ValueError(f"BAIR view must be one of {VIEWS}, got {view!r}")
    for rec in read_records(path):
        name = f"{key}#{rec.index:04d}"
        if rec.payload is None:
            yield name, None, rec.error + (" (rest of file unreadable)" if rec.fatal else "")
            continue
        try:
            frames = example_frames(rec.payload, view, opts.resolution)[:: opts.stride]
        except (ValueError, OSError) as e:
            yield name, None, f"bad example: {e}"
            continue
        if len(frames) < opts.min_frames:
            yield name, None, f"too short: {len(frames)} frames < min_frames {opts.min_frames}"
        else:
            yield name, frames, ""


def list_tfrecords(src: Path) -> list[WorkItem]:
    """One work item per ``<split>/*.tfrecords`` file under ``src``."""
    items = [WorkItem(str(p.relative_to(src).as_posix()), str(p), p.parent.name, kind="tfrecord")
             for p in sorted(src.glob("*/*.tfrecords"))]
    if not items:
        raise FileNotFoundError(f"{src}: no <split>/*.tfrecords files; pass the softmotion30_44k/ folder "
                                "(or VideoGPT's bair.hdf5) as --src")
    return items


def is_videogpt_h5(path: Path) -> bool:
    if not path.is_file() or not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return any(k.endswith("_data") and k[:-5] + "_idx" in f for k in f.keys())


def convert_videogpt(src: Path, out: Path, opts: DecodeOptions, progress: bool = True) -> None:
    """VideoGPT's ``bair.hdf5`` -> our layout (atomic; videos named ``<split>/<i>``)."""
    with h5py.File(src, "r") as f, atomic_path(out) as tmp, h5py.File(tmp, "w") as g:
        splits = sorted(k[:-5] for k in f.keys() if k.endswith("_data") and k[:-5] + "_idx" in f)
        for split in splits:
            data, idx = f[f"{split}_data"], f[f"{split}_idx"][()].astype(np.int64)
            ends = np.append(idx[1:], len(data))
            app = SplitAppender(g, split, opts.resolution)
            for i in tqdm(range(len(idx)), desc=f"bair {split}", disable=not progress):
                frames = data[idx[i]:ends[i]][:: opts.stride]
                if frames.shape[1] != opts.resolution:
                    frames = np.stack([square_resize(Image.fromarray(x), opts.resolution) for x in frames])
                app.add(f"{split}/{i:05d}", -1, frames)
            app.close()
        write_root(g, resolution=opts.resolution, dataset="bair",
                   attrs={"source": "videogpt-hdf5", "git_hash": git_hash(), "stride": opts.stride},
                   done_items=[str(src.name)], skipped=[])
