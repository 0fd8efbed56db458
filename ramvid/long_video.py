"""Videos longer than the model's clip: windows of the model's length, each conditioned on frames
already given or generated.

A scheme turns (total frames, window length, given frames, context k) into a *plan*: a list of
windows, each a tuple of ``window`` frame positions of the long video. A window's positions that are
given or filled by an earlier window are its known frames; the others it generates.

- ``autoregressive``: fill from left to right; each window starts ``k`` frames before the first
  frame still missing (so its first k frames are known), the last one ends at the video's end.
- ``hierarchical``: first one window of keyframes spread over the whole video (the last k given
  frames, then evenly spaced positions up to the last frame), then the same left-to-right fill,
  which now infills between keyframes. The network has no frame-index input, so the keyframe window
  is a clip at a lower frame rate than it was trained on.

Window w of video i samples with generator (seed, *keys[i], w): a video's frames do not depend on
the batch size or on the other videos (up to the CPU float rounding ``generate`` documents).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ramvid.config import RamvidConfig
from ramvid.sampling import SamplerSettings, generate
from ramvid.video import check_videos

Plan = list[tuple[int, ...]]  # windows of frame positions, in the order they are sampled


def fill_plan(total: int, window: int, filled: set[int], context: int) -> Plan:
    """Left-to-right windows until every frame of ``total`` is filled; ``filled`` is updated."""
    plan: Plan = []
    while len(filled) < total:
        first = min(set(range(total)) - filled)
        start = min(max(0, first - context), total - window)
        plan.append(tuple(range(start, start + window)))
        filled.update(plan[-1])
    return plan


def autoregressive_plan(total: int, window: int, given: Sequence[int], context: int) -> Plan:
    return fill_plan(total, window, set(given), context)


def hierarchical_plan(total: int, window: int, given: Sequence[int], context: int) -> Plan:
    last = max(given, default=-1)
    anchors = sorted(given)[-context:] if given else []
    count = window - len(anchors)
    keys = [round(last + (total - 1 - last) * j / count) for j in range(1, count + 1)]
    if len(set(keys)) != count or (keys and keys[0] <= last):
        raise ValueError(f"hierarchical: {count} keyframes do not fit after frame {last} of {total}; "
                         "use --scheme autoregressive or more --total-frames")
    keyframes = tuple(anchors + keys)
    return [keyframes] + fill_plan(total, window, set(given) | set(keyframes), context)


@dataclass(frozen=True)
class Scheme:
    name: str
    plan: Callable[[int, int, Sequence[int], int], Plan]
    help: str


# The one table of long-video schemes (``sample --scheme``).
SCHEMES: dict[str, Scheme] = {s.name: s for s in (
    Scheme("autoregressive", autoregressive_plan, "windows left to right, the last k frames known"),
    Scheme("hierarchical", hierarchical_plan, "keyframes over the whole video first, then infill the gaps"),
)}


def make_plan(scheme: str, total: int, window: int, given: Sequence[int], context: int) -> Plan:
    """The windows of ``scheme`` (checked: 2 <= window < total, 1 <= context < window)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r} (--scheme); choose one of {', '.join(SCHEMES)}")
    if not 2 <= window < total:
        raise ValueError(f"--total-frames {total} must exceed the model's {window}-frame window")
    if not 1 <= context < window:
        raise ValueError(f"--context {context} must be in 1..{window - 1} (frames known per window)")
    bad = [i for i in given if not 0 <= i < total]
    if bad or len(set(given)) != len(given):
        raise ValueError(f"given frames {list(given)} must be distinct and inside 0..{total - 1}")
    return SCHEMES[scheme].plan(total, window, sorted(given), context)


def generate_long(model: torch.nn.Module, config: RamvidConfig, known: np.ndarray | None,
                  cond: Sequence[int], settings: SamplerSettings | None = None, *, total_frames: int,
                  scheme: str = "autoregressive", context: int = 4, n: int | None = None,
                  keys: Sequence[Sequence[int]] | None = None, window: int | None = None,
                  batch_size: int = 8, device: torch.device | str | None = None, progress: bool = True,
                  **sampler: Any) -> np.ndarray:
    """Sample videos of ``total_frames`` frames -> uint8 [N, total_frames, H, W, 3].

    known: uint8 [N, T, H, W, 3] (T <= total_frames) holding the given frames ``cond`` (indices of
    the long video, < T), or None with ``n`` videos and no given frames. ``window`` defaults to the
    model's clip length ``config.frames``. Given frames are copied into the output bit-exactly;
    every window is ``generate`` with the sampler ``settings`` (or its fields as keywords) and keys
    (*keys[i], window index), keys[i] defaulting to (i,).
    """
    window = config.frames if window is None else window
    cond = tuple(sorted(cond))
    if known is None:
        if cond or n is None:
            raise ValueError("without known videos give n and no given frames (--cond \"\")")
    else:
        n = len(check_videos(known, "known videos"))
        if known.shape[1] > total_frames or (cond and cond[-1] >= known.shape[1]):
            raise ValueError(f"known videos have {known.shape[1]} frames: given frames {list(cond)} must lie "
                             f"inside them and they may not exceed --total-frames {total_frames}")
    plan = make_plan(scheme, total_frames, window, cond, context)
    keys = [(i,) for i in range(n)] if keys is None else [tuple(k) for k in keys]
    if len(keys) != n:
        raise ValueError(f"{len(keys)} generator keys for {n} videos; pass one key tuple per video")
    res = config.resolution
    video = np.zeros((n, total_frames, res, res, 3), np.uint8)
    if known is not None:
        video[:, list(cond)] = known[:, list(cond)]
    filled = set(cond)
    for w, positions in enumerate(plan):
        local = tuple(j for j, p in enumerate(positions) if p in filled)
        clip = video[:, list(positions)] if local else None
        out = generate(model, config, clip, local, settings, n=None if local else n,
                       keys=[(*k, w) for k in keys], frames=window, batch_size=batch_size, device=device,
                       progress=progress, **sampler)
        new = [j for j, p in enumerate(positions) if p not in filled]
        video[:, [positions[j] for j in new]] = out[:, new]
        filled.update(positions)
    return video
