"""The ``Protocol`` dataclass and a validating registry (duplicates rejected, typos get suggestions).

A protocol is everything that makes a number comparable: data, clip, conditioning, which frames the
metric sees, workload, metric and sampler settings, seed. Protocols are versioned and never edited in
place: a changed protocol gets a new version (``name@2``); ``get("name")`` resolves to the newest.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.scoring import METRICS
from ramvid.data import DATASETS
from ramvid.sampling import QUANTIZE, SAMPLERS

METRIC_FRAMES = ("all", "generated")
# How the evaluation clip is cut from each test video. "start": frames [0, frames) of video i,
# deterministic (``VideoSource.clip(i)``); the official code's random crops are not a protocol.
WINDOWS = ("start",)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol. Clips are uint8 [num_videos, frames, resolution, resolution, 3]."""

    name: str
    version: int
    dataset: str  # ramvid.data.open_dataset name
    split: str
    resolution: int
    frames: int
    cond: tuple[int, ...]  # known (conditioning) frame indices; () = unconditional
    metric_frames: str  # "all": whole clip enters the metric; "generated": only frames not in cond
    num_videos: int  # test videos (conditioning sets)
    samples_per_video: int
    repeats: int  # independent metric evaluations on fresh samples -> mean +- std
    metric: str  # "fvd" | "is"
    metric_options: tuple[tuple[str, Any], ...] = ()
    sampler: str = "ddpm"
    sampler_steps: int = 1000
    resample: int = 1  # RePaint-style resampling per step (1 = plain ancestral DDPM)
    guidance: float = 0.0  # classifier-free guidance W (ramvid.sampling.Guided); 0 = off
    eta: float = 0.0  # DDIM's noise scale (0 = deterministic); samplers that read it (ddim) only
    seed: int = 0  # sampling seed; video i, sample s uses make_generator(seed, i, s)
    data_seed: int = 0  # synthetic datasets' seed (which clips form the test set)
    quantize: str = "round"  # samples' float -> uint8 (ramvid.sampling.QUANTIZE): "floor" = official script
    window: str = "start"
    table: str = ""  # paper table it reproduces ("1".."5"), or "" for embedded protocols
    description: str = ""

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ValueError(f"protocol {self.name!r}: {problem}")

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def generated(self) -> tuple[int, ...]:
        """Indices of the frames the model must produce."""
        return tuple(i for i in range(self.frames) if i not in self.cond)

    @property
    def metric_indices(self) -> tuple[int, ...]:
        """Indices of the frames that enter the metric clip."""
        return tuple(range(self.frames)) if self.metric_frames == "all" else self.generated

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.metric_options).get(key, default)

    def replace(self, **changes: Any) -> Protocol:
        """A validated copy with ``changes`` (e.g. a smaller ``num_videos``); None values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def protocol_defaults() -> dict[str, Any]:
    """Every Protocol field that has a default, with it (a field added later holds it in older runs)."""
    return {f.name: f.default for f in dataclasses.fields(Protocol) if f.default is not dataclasses.MISSING}


def _problems(p: Protocol) -> Iterator[str]:
    """Yield each violated rule as one line naming the fix."""
    if not _NAME.match(p.name):
        yield "name must be lowercase letters, digits and dashes"
    if p.version < 1:
        yield "version must be >= 1"
    if p.metric not in METRICS:
        yield f"metric must be one of {tuple(METRICS)}, got {p.metric!r}"
    if p.dataset not in DATASETS:
        yield f"dataset must be one of {tuple(DATASETS)}, got {p.dataset!r}"
    if p.metric_frames not in METRIC_FRAMES:
        yield f"metric_frames must be one of {METRIC_FRAMES}, got {p.metric_frames!r}"
    if p.sampler not in SAMPLERS:
        yield f"sampler must be one of {tuple(SAMPLERS)}, got {p.sampler!r}"
    elif p.resample != 1 and not SAMPLERS[p.sampler].resample:
        yield f"resample={p.resample} needs a sampler that resamples, not {p.sampler!r}"
    elif p.eta != 0 and not SAMPLERS[p.sampler].eta:
        yield f"eta={p.eta} needs a sampler that reads eta (ddim), not {p.sampler!r}"
    if not (isinstance(p.eta, int | float) and 0 <= p.eta < float("inf")):
        yield f"eta must be a finite number >= 0, got {p.eta!r}"
    if not p.guidance >= 0:
        yield f"guidance must be >= 0 (0 = off), got {p.guidance!r}"
    if p.quantize not in QUANTIZE:
        yield f"quantize must be one of {tuple(QUANTIZE)}, got {p.quantize!r}"
    if p.window not in WINDOWS:
        yield f"window must be one of {WINDOWS}, got {p.window!r}"
    if p.resolution < 8 or p.frames < 2:
        yield "resolution must be >= 8 and frames >= 2"
    if min(p.num_videos, p.samples_per_video, p.repeats, p.sampler_steps, p.resample) < 1:
        yield "num_videos, samples_per_video, repeats, sampler_steps and resample must be >= 1"
    if not isinstance(p.cond, tuple) or list(p.cond) != sorted(set(p.cond)):
        yield f"cond must be a sorted tuple of distinct indices, got {p.cond!r}"
    elif p.cond and (p.cond[0] < 0 or p.cond[-1] >= p.frames):
        yield f"cond indices {p.cond} must lie in [0, {p.frames})"
    elif len(p.cond) >= p.frames:
        yield "cond leaves no frame to generate"
    yield from _metric_problems(p)


def _metric_problems(p: Protocol) -> Iterator[str]:
    """Options must be ones the metric's code reads; the metric checks the clip (e.g. I3D's >= 9)."""
    if p.metric not in METRICS or p.metric_frames not in METRIC_FRAMES:
        return
    metric = METRICS[p.metric]
    keys = [k for k, _ in p.metric_options]
    unknown = set(keys) - set(metric.options)
    if unknown or len(keys) != len(set(keys)):
        allowed = sorted(metric.options) or "none"
        yield f"metric_options {keys}: {p.metric} reads only distinct keys among {allowed}"
        return
    problem = metric.check(len(p.metric_indices), p.frames, p.metric_frames, dict(p.metric_options))
    if problem:
        yield problem


class Registry:
    """Protocols by ``name@version``; rejects duplicates and suggests close names for typos."""

    def __init__(self, protocols: Iterable[Protocol] = (), source: str = "built-in") -> None:
        self._by_key: dict[str, Protocol] = {}
        self._source: dict[str, str] = {}
        for p in protocols:
            self.register(p, source)

    def register(self, p: Protocol, source: str = "built-in") -> Protocol:
        """Add ``p`` (from ``source``: "built-in" or a protocols file); duplicates are refused."""
        if not isinstance(p, Protocol):
            raise TypeError(f"expected a Protocol, got {type(p).__name__}")
        if p.key in self._by_key:
            where = self._source[p.key]
            raise ValueError(f"protocol {p.key} is registered twice ({where} and {source}); bump the "
                             "version of the new one or rename it")
        self._by_key[p.key] = p
        self._source[p.key] = source
        return p

    def source(self, p: Protocol) -> str:
        """Where ``p`` was declared: "built-in" or the protocols file's path."""
        return self._source[p.key]

    def copy(self) -> Registry:
        out = Registry()
        out._by_key, out._source = dict(self._by_key), dict(self._source)
        return out

    def names(self) -> list[str]:
        return sorted({p.name for p in self._by_key.values()})

    def __iter__(self) -> Iterator[Protocol]:
        """Newest version of every protocol, in registration order."""
        newest = {p.name: p for p in sorted(self._by_key.values(), key=lambda p: p.version)}
        return iter([p for p in self._by_key.values() if newest[p.name] is p])

    def __len__(self) -> int:
        return len(self.names())

    def get(self, name: str) -> Protocol:
        """``name`` (newest version) or ``name@version``; unknown names raise one line with suggestions."""
        base, _, version = name.partition("@")
        found = [p for p in self._by_key.values() if p.name == base]
        if found and not version:
            return max(found, key=lambda p: p.version)
        if found and f"{base}@{version}" in self._by_key:
            return self._by_key[f"{base}@{version}"]
        if found:
            have = ", ".join(sorted(p.key for p in found))
            raise ValueError(f"protocol {name!r}: no such version; registered: {have}")
        close = difflib.get_close_matches(base, self.names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "list them with `ramvid-bench protocols`"
        raise ValueError(f"unknown protocol {name!r}; {hint}")
