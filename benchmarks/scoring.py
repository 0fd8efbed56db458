"""The metric step of a run: real statistics (cached) vs generated samples -> value +- std.

FVD: real I3D statistics are cached (``metrics.fvd.cached_video_stats``) under the protocol's name
plus a key of everything that changes them, including a hash of the real clips' bytes, so a change
to the data code can never serve stale statistics. Each repeat scores its own N x S samples.
IS: TGANv2's C3D; repeats are groups of N x S consecutive samples (``metrics.inception_score``).
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.shards import ShardStore

# ``protocol`` arguments below are ``benchmarks.registry.Protocol``s, typed Any here because the
# registry validates protocols against METRICS: importing it back would be a cycle.
Protocol = Any


def _select(batches: Iterable[np.ndarray], indices: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Keep the metric's frames: uint8 [n, T, H, W, 3] -> [n, len(indices), H, W, 3]."""
    idx = list(indices)
    for b in batches:
        yield np.ascontiguousarray(b[:, idx])


def real_batches(source: Any, n: int, batch_size: int = 32) -> Iterator[np.ndarray]:
    """Real test clips 0..n-1 of ``source`` in batches: uint8 [b, T, H, W, 3]."""
    for lo in range(0, n, batch_size):
        yield source.clips(range(lo, min(lo + batch_size, n)))


def clips_digest(source: Any, n: int) -> str:
    """sha256 prefix of the real clips' bytes (cheap next to I3D; guards the cache)."""
    h = hashlib.sha256()
    for b in real_batches(source, n):
        h.update(np.ascontiguousarray(b).tobytes())
    return h.hexdigest()[:16]


def real_stats_key(protocol: Protocol, digest: str) -> dict[str, Any]:
    return {"dataset": protocol.dataset, "split": protocol.split, "protocol": protocol.name,
            "version": protocol.version, "num_videos": protocol.num_videos,
            "frames": list(protocol.metric_indices), "resolution": protocol.resolution,
            "data_seed": protocol.data_seed, "clips_sha256": digest}


def score(protocol: Protocol, source: Any, store: ShardStore, *, batch_size: int, device: Any,
          progress: bool = True) -> tuple[float, float | None, list[float]]:
    """(mean, std over repeats or None, per-repeat values) of the protocol's metric."""
    return METRICS[protocol.metric].score(protocol, source, store, batch_size=batch_size, device=device,
                                          progress=progress)


def _fvd(protocol: Protocol, source: Any, store: ShardStore, *, batch_size: int, device: Any,
         progress: bool) -> tuple[float, float | None, list[float]]:
    from metrics.fvd import cached_video_stats, fvd_from_stats, video_stats

    idx = protocol.metric_indices
    n = protocol.num_videos

    def make() -> Iterator[np.ndarray]:
        return _select(real_batches(source, n, batch_size), idx)

    key = real_stats_key(protocol, clips_digest(source, n))
    real = cached_video_stats(f"{protocol.name}-v{protocol.version}-real", key, make, frames=len(idx),
                              batch_size=batch_size, device=device, progress=progress, total=n)
    s = protocol.samples_per_video
    values = []
    for r in range(protocol.repeats):
        fake = video_stats(_select(store.iter_batches(set(range(r * s, (r + 1) * s))), idx),
                           batch_size=batch_size, device=device, progress=progress, total=n * s)
        with warnings.catch_warnings():
            # small-N bias is expected on embedded workloads: every row and table records N
            warnings.filterwarnings("ignore", message="FVD with N")
            values.append(float(fvd_from_stats(real, fake)))
    return _summary(values)


def _inception(protocol: Protocol, store: ShardStore, *, batch_size: int, device: Any,
               progress: bool) -> tuple[float, float | None, list[float]]:
    from metrics.c3d import load_c3d
    from metrics.inception_score import inception_score

    c3d = load_c3d(device=device)  # paths from $RAMVID_C3D_WEIGHTS / $RAMVID_C3D_MEAN
    splits = _is_splits(dict(protocol.metric_options))
    mean, std = inception_score(store.iter_batches(), c3d, splits=splits,
                                repeats=protocol.repeats, batch_size=batch_size, device=device,
                                progress=progress)
    return float(mean), float(std), [float(mean)]


def _summary(values: list[float]) -> tuple[float, float | None, list[float]]:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), std, values


def _is_splits(options: dict[str, Any]) -> int:
    """Splits per group: the option, else the named estimator's (``metrics.inception_score``)."""
    from metrics.inception_score import get_estimator

    estimator = get_estimator(options.get("estimator", "tganv2"))
    return int(options.get("splits", estimator.splits))


def _fvd_check(metric_frames: int, frames: int, which: str, options: dict[str, Any]) -> str | None:
    from metrics.i3d import MIN_FRAMES

    if metric_frames < MIN_FRAMES:
        return (f"FVD clip has {metric_frames} frames but I3D needs >= {MIN_FRAMES}; "
                "use more frames or metric_frames='all'")
    return None


def _is_check(metric_frames: int, frames: int, which: str, options: dict[str, Any]) -> str | None:
    from metrics.c3d import N_FRAMES
    from metrics.inception_score import get_estimator

    if frames != N_FRAMES or which != "all":
        return f"IS (C3D) needs {N_FRAMES} frames with metric_frames='all'"
    try:
        estimator = get_estimator(options.get("estimator", "tganv2"))
    except ValueError as e:
        return str(e)
    if int(options.get("splits", estimator.splits)) != estimator.splits:
        return (f"splits={options['splits']} contradicts estimator {estimator.name!r} "
                f"(splits={estimator.splits}); drop one of them")
    return None


@dataclass(frozen=True)
class Metric:
    """A protocol metric: the options its code reads, a clip check, and the scoring step."""

    name: str
    options: tuple[str, ...]  # metric_options keys that ``score`` reads; any other is refused
    check: Callable[[int, int, str, dict[str, Any]], str | None]  # (metric frames, frames, which, opts)
    score: Callable[..., tuple[float, float | None, list[float]]]
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "fvd": Metric("fvd", (), _fvd_check, _fvd, higher_is_better=False),
    "is": Metric("is", ("estimator", "splits"), _is_check, _inception, higher_is_better=True),
}
