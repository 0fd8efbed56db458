"""The metric step of a run: real features (cached) vs generated samples -> value +- std, interval.

FVD: real I3D features are cached (``metrics.fvd.cached_video_features``) under the protocol's name
plus a key of everything that changes them, including a hash of the real clips' bytes, so a change
to the data code can never serve stale statistics. Both sides' features are kept in the run's work
dir (``features.npz``), so ``ramvid-bench rescore`` recomputes the value, its bootstrap interval and
``fvd_inf`` without sampling again. Each repeat scores its own N x S samples.
IS: TGANv2's C3D; repeats are groups of N x S consecutive samples (``metrics.inception_score``).
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass
class Score:
    """A protocol's metric: ``value`` (mean over repeats) with its uncertainty and what it was made of.

    ``extra`` holds the results-row fields of the uncertainty: bootstrap interval and standard error,
    ``fvd_inf`` (1/N extrapolation), the extractor's weights sha256, N real and N generated.
    """

    value: float
    std: float | None  # over repeats (None with one repeat)
    per_repeat: list[float]
    extra: dict[str, Any] = field(default_factory=dict)


def score(protocol: Protocol, source: Any, store: ShardStore, *, batch_size: int, device: Any,
          progress: bool = True, bootstrap: int = 0) -> Score:
    """The protocol's metric on the samples in ``store``; ``bootstrap`` resamples for an interval (FVD)."""
    return METRICS[protocol.metric].score(protocol, source, store, batch_size=batch_size, device=device,
                                          progress=progress, bootstrap=bootstrap)


FEATURES = "features.npz"


def sample_keys(store: ShardStore) -> np.ndarray:
    """int64 [M, 2] (video, sample) of every stored sample, in ``iter_batches`` order (sample-major)."""
    keys = sorted((k for k, _ in store.key_index()), key=lambda k: (k[1], k[0]))
    return np.asarray(keys, np.int64).reshape(-1, 2)


def _fvd(protocol: Protocol, source: Any, store: ShardStore, *, batch_size: int, device: Any,
         progress: bool, bootstrap: int = 0) -> Score:
    from metrics.fvd import cached_video_features, get_i3d, video_features, weights_digest

    idx = protocol.metric_indices
    n = protocol.num_videos

    def make() -> Iterator[np.ndarray]:
        return _select(real_batches(source, n, batch_size), idx)

    key = real_stats_key(protocol, clips_digest(source, n))
    real = cached_video_features(f"{protocol.name}-v{protocol.version}-real", key, make, frames=len(idx),
                                 batch_size=batch_size, device=device, progress=progress, total=n)
    keys = sample_keys(store)
    fake = video_features(_select(store.iter_batches(), idx), batch_size=batch_size, device=device,
                          progress=progress, total=len(keys))
    digest = weights_digest(get_i3d(None, device))
    save_features(store.root, real.features, fake.features, keys, protocol=protocol.key,
                  samples_per_video=protocol.samples_per_video, frames=len(idx), i3d_sha256=digest)
    return fvd_score(real.features, fake.features, keys, protocol.samples_per_video, bootstrap=bootstrap,
                     seed=protocol.seed, paired=bool(protocol.cond), extra={"i3d_sha256": digest})


def save_features(root: Any, real: np.ndarray, fake: np.ndarray, keys: np.ndarray, **meta: Any) -> Path:
    """``root/features.npz`` (atomic, with a sha256 of its arrays): float32 ``real`` [N, 400] (row i =
    video i), ``fake`` [M, 400] with ``keys`` [M, 2] (video, sample), and ``meta`` as JSON."""
    import json

    from metrics._io import atomic_path
    from metrics.fvd import write_checked

    arrays = {"real": np.asarray(real, np.float32), "fake": np.asarray(fake, np.float32),
              "keys": np.asarray(keys, np.int64), "meta_json": np.asarray(json.dumps(meta, sort_keys=True))}
    path = Path(root) / FEATURES
    with atomic_path(path) as tmp:
        write_checked(tmp, arrays)
    return path


def load_features(root: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(real, fake, keys, meta) from ``root/features.npz``; one line naming the file when absent or bad."""
    import json

    from metrics._io import CacheCorrupt
    from metrics.fvd import checked_arrays

    path = Path(root) / FEATURES
    try:
        arrays = checked_arrays(path.read_bytes())
    except FileNotFoundError:
        raise ValueError(f"{path}: no stored features (runs before features were kept, or another metric); "
                         "run the protocol again") from None
    except (CacheCorrupt, OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable features ({e}); run the protocol again") from None
    return arrays["real"], arrays["fake"], arrays["keys"], json.loads(str(arrays["meta_json"]))


def fvd_score(real: np.ndarray, fake: np.ndarray, keys: np.ndarray, samples_per_video: int, *,
              bootstrap: int = 0, seed: int = 0, paired: bool = True,
              extra: dict[str, Any] | None = None) -> Score:
    """FVD of stored features: one value per repeat (generated rows with sample index in
    [r S, (r + 1) S)), their mean, and with ``bootstrap`` B > 0 an interval and ``fvd_inf``.
    ``paired``: generated video i was conditioned on real clip i, so resampling keeps them together."""
    from metrics.fvd import fvd_from_stats, stats_from_features
    from metrics.uncertainty import FeaturePairs, bootstrap_fvd, extrapolate_fvd

    group = keys[:, 1] // samples_per_video
    real_stats = stats_from_features(real)
    values = []
    for r in np.unique(group):
        with warnings.catch_warnings():
            # small-N bias is expected on embedded workloads: every row and table records N
            warnings.filterwarnings("ignore", message="FVD with N")
            values.append(float(fvd_from_stats(real_stats, stats_from_features(fake[group == r]))))
    out = Score(*_summary(values), extra={**(extra or {}), "n_real": len(real), "n_fake": len(fake)})
    if bootstrap:
        pairs = FeaturePairs.of(real, fake, keys[:, 0], group, paired=paired)
        interval = bootstrap_fvd(pairs, draws=bootstrap, seed=seed)
        repeats = len(values)
        line = extrapolate_fvd(pairs, draws=max(2, -(-20 // repeats)), seed=seed)
        out.extra.update(ci_low=interval.low, ci_high=interval.high, se=interval.se, bootstrap=bootstrap,
                         fvd_inf=line.fvd_inf, uncertainty={"interval": interval.to_dict(),
                                                            "extrapolation": line.to_dict()})
    return out


def _inception(protocol: Protocol, source: Any, store: ShardStore, *, batch_size: int, device: Any,
               progress: bool, bootstrap: int = 0) -> Score:
    from metrics.c3d import load_c3d
    from metrics.fvd import weights_digest
    from metrics.inception_score import inception_score

    c3d = load_c3d(device=device)  # paths from $RAMVID_C3D_WEIGHTS / $RAMVID_C3D_MEAN
    splits = _is_splits(dict(protocol.metric_options))
    mean, std = inception_score(store.iter_batches(), c3d, splits=splits,
                                repeats=protocol.repeats, batch_size=batch_size, device=device,
                                progress=progress)
    return Score(float(mean), float(std), [float(mean)], extra={"c3d_sha256": weights_digest(c3d)})


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
    score: Callable[..., Score]
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "fvd": Metric("fvd", (), _fvd_check, _fvd, higher_is_better=False),
    "is": Metric("is", ("estimator", "splits"), _is_check, _inception, higher_is_better=True),
}
