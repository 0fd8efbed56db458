"""Baselines that need no checkpoint, so tables mean something on day one.

- ``copy-last``: each unknown frame repeats the nearest earlier known frame (the nearest later one
  when none precedes it).
- ``interpolate``: linear blend of the nearest known frames on either side (a copy at the ends).
- ``real``: a second, disjoint set of real clips (indices [N, 2N) of the split): the floor any
  model can reach. The runner handles it, since it needs the data source rather than known frames.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ramvid.video import check_videos

BASELINES = ("copy-last", "interpolate", "real")


def _neighbours(t: int, cond: Sequence[int]) -> tuple[int | None, int | None]:
    before = [c for c in cond if c <= t]
    after = [c for c in cond if c >= t]
    return (before[-1] if before else None), (after[0] if after else None)


def copy_last(known: np.ndarray, cond: Sequence[int]) -> np.ndarray:
    """uint8 [N, T, H, W, 3] -> same shape; frames outside ``cond`` copy the last known frame."""
    check_videos(known, "known")
    _require_cond(cond, "copy-last")
    out = known.copy()
    for t in range(known.shape[1]):
        before, after = _neighbours(t, cond)
        out[:, t] = known[:, before if before is not None else after]
    return out


def interpolate(known: np.ndarray, cond: Sequence[int]) -> np.ndarray:
    """uint8 [N, T, H, W, 3] -> same shape; unknown frames blend the nearest known ones linearly."""
    check_videos(known, "known")
    _require_cond(cond, "interpolate")
    out = known.copy()
    for t in range(known.shape[1]):
        before, after = _neighbours(t, cond)
        if before is None or after is None or before == after:
            out[:, t] = known[:, before if before is not None else after]
            continue
        w = (t - before) / (after - before)
        blend = (1.0 - w) * known[:, before].astype(np.float64) + w * known[:, after].astype(np.float64)
        out[:, t] = np.clip(np.floor(blend + 0.5), 0, 255).astype(np.uint8)  # round half up
    return out


def _require_cond(cond: Sequence[int], name: str) -> None:
    if not cond:
        raise ValueError(f"baseline {name!r} needs known frames; on an unconditional protocol use "
                         "--baseline real or a checkpoint")


def fill(name: str, known: np.ndarray, cond: Sequence[int]) -> np.ndarray:
    """Apply the known-frames baseline ``name`` (``copy-last`` or ``interpolate``)."""
    if name == "copy-last":
        return copy_last(known, cond)
    if name == "interpolate":
        return interpolate(known, cond)
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
