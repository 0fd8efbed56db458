"""What fills in the unknown frames of a run: a RaMViD checkpoint or a baseline.

A ``Method`` turns a list of (video index, sample index) keys into uint8 [n, T, H, W, 3] videos.
Video i, sample s of a model run uses ``make_generator(protocol.seed, i, s)``: the same number at
any batch size, on any device count, and after resuming.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks import baselines
from benchmarks.registry import Protocol

Keys = Sequence[tuple[int, int]]


@dataclass
class Method:
    name: str  # "ramvid" or a baseline name
    identity: dict[str, Any]  # what makes its samples what they are (work-dir hash, manifest)
    row: dict[str, Any] = field(default_factory=dict)  # checkpoint fields of the results row
    produce: Callable[[Keys], np.ndarray] | None = None


def make_method(protocol: Protocol, source: Any, *, ckpt: str | None = None, preset: str | None = None,
                baseline: str | None = None, device: str | None = None,
                progress: bool = True) -> Method:
    """The checkpoint (``ckpt``) or baseline (``baseline``) method for ``protocol`` on ``source``."""
    if (ckpt is None) == (baseline is None):
        raise ValueError("give exactly one of --ckpt CKPT or --baseline NAME")
    if baseline is not None:
        return baseline_method(protocol, source, baseline)
    return model_method(protocol, source, ckpt, preset=preset, device=device, progress=progress)


def baseline_method(protocol: Protocol, source: Any, name: str) -> Method:
    if name not in baselines.BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(baselines.BASELINES)}")
    n, total = protocol.num_videos, protocol.samples_per_video * protocol.repeats
    if name == "real":
        need = n * (1 + total)
        if len(source) < need:
            raise ValueError(f"baseline 'real' needs {need} clips (a disjoint second set) but "
                             f"{protocol.dataset}/{protocol.split} has {len(source)}; lower --num-videos")

        def produce(keys: Keys) -> np.ndarray:  # sample s of video v: clip N + s*N + v
            return source.clips([n + s * n + v for v, s in keys])
    else:
        if not protocol.cond:
            baselines.fill(name, np.zeros((1, 2, 8, 8, 3), np.uint8), protocol.cond)  # raises

        def produce(keys: Keys) -> np.ndarray:
            return baselines.fill(name, source.clips([v for v, _ in keys]), protocol.cond)
    return Method(name=name, identity={"baseline": name}, row={"method": name}, produce=produce)


def model_method(protocol: Protocol, source: Any, ckpt: str, *, preset: str | None,
                 device: str | None, progress: bool) -> Method:
    """Load ``ckpt`` (EMA weights), check it fits the protocol, and sample with per-video seeds."""
    from ramvid.checkpoint import load_model
    from ramvid.model import count_parameters
    from ramvid.sampling import generate
    from ramvid.utils import resolve_device

    dev = resolve_device(device)
    model, config, info = load_model(ckpt, preset=preset, use_ema=True, device=dev)
    check_fits(protocol, config.frames, config.resolution, ckpt)
    full = config.diffusion.steps
    steps = None if protocol.sampler_steps >= full else protocol.sampler_steps

    def produce(keys: Keys) -> np.ndarray:
        known = source.clips([v for v, _ in keys]) if protocol.cond else None
        return generate(model, config, known, protocol.cond, n=len(keys), steps=steps,
                        seed=protocol.seed, batch_size=len(keys), device=dev,
                        resample=protocol.resample, keys=list(keys), frames=protocol.frames,
                        sampler=protocol.sampler, progress=progress)

    row = {"method": "ramvid", "checkpoint": str(ckpt), "ckpt_sha256": info["sha256"][:12],
           "step": info.get("step"), "preset": config.name, "p_uncond": config.mask.p_uncond,
           "params": count_parameters(model)}
    identity = {"checkpoint_sha256": info["sha256"], "weights": info.get("weights")}
    return Method(name="ramvid", identity=identity, row=row, produce=produce)


def check_fits(protocol: Protocol, frames: int, resolution: int, ckpt: str) -> None:
    """A checkpoint fits when resolutions match and it was trained on at least the protocol's frames.

    Shorter clips are allowed on purpose: the paper trains BAIR on 20 frames and evaluates 16.
    """
    if resolution != protocol.resolution or frames < protocol.frames:
        raise ValueError(
            f"{ckpt}: trained on {frames} frames at {resolution}x{resolution} but protocol "
            f"{protocol.name} needs {protocol.frames} frames at {protocol.resolution}x"
            f"{protocol.resolution}; use a checkpoint trained for this protocol's data")
