"""What fills in the unknown frames of a run: every kind of method has the same shape.

A ``Method`` turns a list of (video index, sample index) keys into uint8 [n, T, H, W, 3] videos.
``METHOD_KINDS`` is the one table of kinds: a RaMViD checkpoint (``ramvid``), a built-in baseline,
samples made elsewhere (``samples``), or any Python callable (``callable``, through
``benchmarks.evaluate``). The runner has one path for all of them. Video i, sample s of a model
run uses ``make_generator(protocol.seed, i, s)``: the same noise at any batch size, on any device
count, and after resuming.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks import baselines
from benchmarks.contexts import context_clips, key_seed
from benchmarks.registry import Protocol

Keys = Sequence[tuple[int, int]]
# generate(known uint8 [B,T,H,W,3] with unknown frames zeroed, cond indices, seeds int [B]) -> uint8 videos
GenerateFn = Callable[[np.ndarray, tuple[int, ...], np.ndarray], Any]


@dataclass
class Method:
    name: str  # the row's method: "ramvid", a baseline, or the external method's name
    kind: str  # a key of METHOD_KINDS
    identity: dict[str, Any]  # what makes its samples what they are (work-dir hash, manifest)
    row: dict[str, Any] = field(default_factory=dict)  # the method's fields of the results row
    produce: Callable[[Keys], np.ndarray] | None = None


def make_method(protocol: Protocol, source: Any, *, ckpt: str | None = None, preset: str | None = None,
                baseline: str | None = None, samples: str | None = None, generate: GenerateFn | None = None,
                method_name: str | None = None, allow_changed_context: bool = False,
                device: str | None = None, progress: bool = True) -> Method:
    """The one method that ``ckpt``, ``baseline``, ``samples`` or ``generate`` names (exactly one)."""
    given = {"ramvid": ckpt, "baseline": baseline, "samples": samples, "callable": generate}
    chosen = [k for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise ValueError("give exactly one of --ckpt CKPT, --baseline NAME or --samples PATH")
    kind = chosen[0]
    method = METHOD_KINDS[kind](protocol, source, given[kind], preset=preset, device=device,
                                progress=progress, method_name=method_name)
    if kind in ("samples", "callable"):
        method = _checked_context(protocol, source, method, allow_changed_context)
    return method


def baseline_method(protocol: Protocol, source: Any, name: str, **_: Any) -> Method:
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
    return Method(name=name, kind="baseline", identity={"baseline": name}, row={"method": name},
                  produce=produce)


def model_method(protocol: Protocol, source: Any, ckpt: str, *, preset: str | None = None,
                 device: str | None = None, progress: bool = True, **_: Any) -> Method:
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
                        sampler=protocol.sampler, progress=progress, quantize=protocol.quantize,
                        guidance=protocol.guidance, eta=protocol.eta)

    row = {"method": "ramvid", "checkpoint": str(ckpt), "ckpt_sha256": info["sha256"][:12],
           "step": info.get("step"), "preset": config.name, "p_uncond": config.mask.p_uncond,
           "params": count_parameters(model), "sampler": protocol.sampler,
           "sampler_steps": protocol.sampler_steps, "resample": protocol.resample}
    identity = {"checkpoint_sha256": info["sha256"], "weights": info.get("weights")}
    return Method(name="ramvid", kind="ramvid", identity=identity, row=row, produce=produce)


def samples_method(protocol: Protocol, source: Any, path: str, *, method_name: str | None = None,
                   **_: Any) -> Method:
    """Samples made elsewhere (``run --samples PATH``), read by (video, sample) key."""
    from benchmarks.contexts import workload_keys
    from benchmarks.external import ExternalSamples, samples_digest

    reader = ExternalSamples(path, workload_keys(protocol), protocol.frames, protocol.resolution)
    name = method_name or "external"
    digest = samples_digest(path)
    return Method(name=name, kind="samples", identity={"samples_sha256": digest, "method": name},
                  row={"method": name, "samples": str(path), "samples_sha256": digest[:12]}, produce=reader)


def callable_method(protocol: Protocol, source: Any, fn: GenerateFn, *, method_name: str | None = None,
                    **_: Any) -> Method:
    """Any Python callable ``fn(known, cond, seeds) -> uint8 [B, T, H, W, 3]`` (``benchmarks.evaluate``).

    ``known`` holds only what the protocol lets a method see (unknown frames zeroed); ``seeds`` are
    the per-key seeds of ``ramvid-bench export``.
    """
    name = method_name or getattr(fn, "__name__", "callable")

    def produce(keys: Keys) -> np.ndarray:
        n, r = len(keys), protocol.resolution
        clips = (source.clips([v for v, _ in keys]) if source is not None
                 else np.zeros((n, protocol.frames, r, r, 3), np.uint8))
        seeds = np.asarray([key_seed(protocol, k) for k in keys], np.int64)
        out = fn(context_clips(protocol, clips), tuple(protocol.cond), seeds)
        return _as_uint8_videos(out, n, (protocol.frames, r, r, 3), name)

    return Method(name=name, kind="callable", identity={"callable": name}, row={"method": name},
                  produce=produce)


METHOD_KINDS: dict[str, Callable[..., Method]] = {
    "ramvid": model_method,
    "baseline": baseline_method,
    "samples": samples_method,
    "callable": callable_method,
}


def _as_uint8_videos(out: Any, n: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().cpu().numpy()
    out = np.asarray(out)
    if out.dtype != np.uint8 or out.shape != (n, *shape):
        raise ValueError(f"method {name!r} returned {out.dtype} {list(out.shape)}; it must return uint8 "
                         f"{[n, *shape]} (convert with benchmarks.api.to_videos)")
    return out


def _checked_context(protocol: Protocol, source: Any, method: Method, allow: bool) -> Method:
    """An external method must leave the known frames as given; else refuse (or record, ``allow``)."""
    if not protocol.cond or source is None:
        return method
    inner = method.produce
    changed: list[int] = []

    def produce(keys: Keys) -> np.ndarray:
        videos = inner(keys)
        real = source.clips([v for v, _ in keys])[:, list(protocol.cond)]
        given = videos[:, list(protocol.cond)]
        bad = [k for k, a, b in zip(keys, given, real, strict=True) if not np.array_equal(a, b)]
        if bad and not allow:
            v, s = bad[0]
            raise ValueError(f"{method.name}: the known frames {list(protocol.cond)} of video {v} sample {s} "
                             f"differ from the context ({len(bad)} of {len(keys)} in this batch); a method "
                             "must keep them, or pass --allow-changed-context to record that it did not")
        changed.extend(v for v, _ in bad)
        method.row["changed_context"] = len(changed)
        return videos

    method.produce = produce
    method.row["changed_context"] = 0
    method.identity["allow_changed_context"] = allow
    return method


def check_fits(protocol: Protocol, frames: int, resolution: int, ckpt: str) -> None:
    """A checkpoint fits when resolutions match and it was trained on at least the protocol's frames.

    Shorter clips are allowed on purpose: the paper trains BAIR on 20 frames and evaluates 16.
    """
    if resolution != protocol.resolution or frames < protocol.frames:
        raise ValueError(
            f"{ckpt}: trained on {frames} frames at {resolution}x{resolution} but protocol "
            f"{protocol.name} needs {protocol.frames} frames at {protocol.resolution}x"
            f"{protocol.resolution}; use a checkpoint trained for this protocol's data")
