"""What a method may see of a protocol: the known frames of each test video, and nothing else.

``ramvid-bench export PROTOCOL --out contexts.npz`` writes one self-describing file:

- ``videos``  uint8 [N, T, H, W, 3]: each test clip with its unknown frames set to 0 (zeroed rather
  than left out, so every clip has the protocol's T frames and index t is frame t; the file also
  works as ``ramvid-bench sample --input``);
- ``cond``    int64 [C]: the known frame indices;
- ``keys``    int64 [K, 2]: every (video, sample) the protocol scores, in the order an external
  samples file must follow (sample-major: all videos of sample 0, then of sample 1, ...);
- ``seeds``   int64 [K]: a seed per key (what this harness's own samplers draw from);
- ``protocol`` the ``name@version``, ``protocol_json`` its full definition, ``clips_sha256`` a digest
  of the real clips (the same one that keys the cached real statistics).

Unconditional protocols export no clips (``videos`` holds zeros).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.scoring import clips_digest
from ramvid.utils import seed_for

Protocol = Any  # a benchmarks.registry.Protocol


def workload_keys(p: Protocol) -> list[tuple[int, int]]:
    """Every (video, sample) key of the workload, sample-major: N x S x R of them."""
    total = p.samples_per_video * p.repeats
    return [(v, s) for s in range(total) for v in range(p.num_videos)]


def key_seed(p: Protocol, key: tuple[int, int]) -> int:
    """The seed of (video, sample): this harness's samplers draw that key's noise from it."""
    return seed_for(p.seed, *key)


def context_clips(p: Protocol, clips: np.ndarray) -> np.ndarray:
    """uint8 [n, T, H, W, 3] real clips -> the same with every frame outside ``p.cond`` zeroed."""
    known = np.zeros_like(clips)
    if p.cond:
        known[:, list(p.cond)] = clips[:, list(p.cond)]
    return known


def export_contexts(p: Protocol, source: Any, out: str | os.PathLike) -> Path:
    """Write the contexts file of protocol ``p`` on ``source`` (see the module docstring)."""
    from ramvid.video import save_npz

    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a .npz file path")
    keys = workload_keys(p)
    n, t, r = p.num_videos, p.frames, p.resolution
    if source is None:
        known = np.zeros((n, t, r, r, 3), np.uint8)
        digest = ""
    else:
        known = context_clips(p, source.clips(range(n)))
        digest = clips_digest(source, n)
    return save_npz(out, known, cond=np.asarray(p.cond, np.int64),
                    keys=np.asarray(keys, np.int64).reshape(-1, 2),
                    seeds=np.asarray([key_seed(p, k) for k in keys], np.int64),
                    protocol=np.asarray(p.key), protocol_json=np.asarray(json.dumps(p.to_dict())),
                    clips_sha256=np.asarray(digest))
