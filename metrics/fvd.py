"""Fréchet Video Distance: videos -> I3D logits -> streamed (mu, sigma, n) -> Fréchet distance.

Reference: google-research ``frechet_video_distance`` with the TF-Hub I3D (metrics/README.md lists
every pitfall this reproduces and the size of each deviation).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metrics._io import CacheCorrupt, arrays_sha256, cache_dir, read_cache, resolve_device, write_cache
from metrics.frechet import frechet_distance
from metrics.i3d import I3D, MIN_FRAMES, load_i3d
from metrics.resize import RESIZE_RULE
from metrics.stats import Stats, StreamingStats

FEATURE_DIM = 400
STATS_VERSION = 2  # bump when anything that changes the statistics changes (2: key by tensors)
VideosLike = np.ndarray | torch.Tensor | Iterable[np.ndarray | torch.Tensor]
_MODELS: dict[tuple[str, str], I3D] = {}


def get_i3d(weights: str | None = None, device: str | torch.device | None = None) -> I3D:
    """``load_i3d`` memoised per (weights source, device), so repeated calls do not reload.

    The source is the one ``load_i3d`` would use (argument, else ``$RAMVID_I3D_WEIGHTS``), so a
    changed setting is never answered from memory."""
    dev = resolve_device(device)
    key = (str(weights or os.environ.get("RAMVID_I3D_WEIGHTS") or ""), str(dev))
    if key not in _MODELS:
        _MODELS[key] = load_i3d(weights, dev)
    return _MODELS[key]


def as_video_tensor(x: np.ndarray | torch.Tensor, where: str = "videos") -> torch.Tensor:
    """The input contract: uint8 [B, T, H, W, 3] with T >= 9. One clear line on violation."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        x = np.ascontiguousarray(x)
        t = torch.from_numpy(x if min(x.strides, default=0) >= 0 else x.copy())  # e.g. x[::-1] views
    if t.ndim != 5 or t.shape[-1] != 3:
        raise ValueError(f"{where}: expected uint8 videos [N, T, H, W, 3], got shape {list(t.shape)}")
    if t.dtype != torch.uint8:
        if t.is_floating_point() or t.dtype == torch.bool:
            raise ValueError(f"{where}: expected uint8 videos (0..255), got {t.dtype}; convert with "
                             "np.clip(np.round(x), 0, 255).astype(np.uint8)")
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{where}: values {lo}..{hi} are outside 0..255; videos must be uint8")
        t = t.to(torch.uint8)
    if t.shape[1] < MIN_FRAMES:
        raise ValueError(f"{where}: {t.shape[1]} frames per video; FVD's I3D needs at least {MIN_FRAMES}")
    return t


def _rechunk(videos: VideosLike, batch_size: int) -> Iterator[torch.Tensor]:
    """Batches of exactly ``batch_size`` videos (the last may be smaller) from an array or iterator."""
    if isinstance(videos, np.ndarray | torch.Tensor):
        for start in range(0, len(videos), batch_size):
            yield as_video_tensor(videos[start:start + batch_size])
        return
    pending: list[torch.Tensor] = []
    count = 0
    for batch in videos:
        pending.append(as_video_tensor(batch))
        count += len(pending[-1])
        while count >= batch_size:
            joined = torch.cat(pending) if len(pending) > 1 else pending[0]
            yield joined[:batch_size]
            pending, count = ([joined[batch_size:]] if len(joined) > batch_size else []), count - batch_size
    if count:
        yield torch.cat(pending)


def _forward(videos_or_batches: VideosLike, *, batch_size: int, device: str | None, progress: bool,
             weights: str | None, model: Callable | None, total: int | None,
             frames_out: list[int]) -> Iterator[torch.Tensor]:
    """Extractor outputs [b, 400] per batch (on the CPU); the clips' frame count lands in ``frames_out``."""
    from tqdm.auto import tqdm

    model = model if model is not None else get_i3d(weights, device)
    params = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
    dev = params.device if params is not None else torch.device("cpu")
    if total is None and hasattr(videos_or_batches, "__len__"):
        total = len(videos_or_batches)  # arrays, tensors and metrics.videos.VideoSet
    with torch.inference_mode(), tqdm(total=total, disable=not progress, desc="I3D", unit="video") as bar:
        for batch in _rechunk(videos_or_batches, batch_size):
            if frames_out and batch.shape[1] != frames_out[0]:
                raise ValueError(f"videos have different frame counts ({frames_out[0]} and {batch.shape[1]})")
            frames_out[:] = [batch.shape[1]]
            yield torch.as_tensor(model(batch.to(dev))).detach().cpu()
            bar.update(len(batch))


def video_stats(videos_or_batches: VideosLike, *, batch_size: int = 16, device: str | None = None,
                progress: bool = False, weights: str | None = None, model: Callable | None = None,
                total: int | None = None) -> Stats:
    """Streamed float64 I3D-logit statistics of uint8 [N, T, H, W, 3] videos (array or batches).

    ``model`` replaces the I3D: any callable mapping uint8 [B, T, H, W, 3] tensors to [B, 400] (e.g.
    the TF-Hub backend). ``total`` sizes the progress bar when the input has no ``len``. Memory does
    not grow with N; ``video_features`` keeps the features instead (for intervals and stats files).
    """
    stats, frames = StreamingStats(FEATURE_DIM), []
    for out in _forward(videos_or_batches, batch_size=batch_size, device=device, progress=progress,
                        weights=weights, model=model, total=total, frames_out=frames):
        stats.update(out.double())
    if stats.n < 2:
        raise ValueError(f"FVD needs at least 2 videos per set, got {stats.n}")
    return stats.result(frames=frames[0])


@dataclass(frozen=True)
class FeatureSet:
    """Extractor features of a video set: float32 [N, 400] (I3D's logits are float32, so this is exact)
    and the frames per clip they came from."""

    features: np.ndarray
    frames: int | None

    def stats(self) -> Stats:
        """float64 statistics of the features, computed in one pass (the same bits every time)."""
        return stats_from_features(self.features, self.frames)


def stats_from_features(features: np.ndarray, frames: int | None = None) -> Stats:
    """float64 (mu, sigma 1/(N-1), n) of features [N, D], as one ``StreamingStats`` update."""
    if len(features) < 2:
        raise ValueError(f"FVD needs at least 2 videos per set, got {len(features)}")
    stats = StreamingStats(features.shape[1])
    stats.update(np.asarray(features, np.float64))
    return stats.result(frames=frames)


def video_features(videos_or_batches: VideosLike, *, batch_size: int = 16, device: str | None = None,
                   progress: bool = False, weights: str | None = None, model: Callable | None = None,
                   total: int | None = None) -> FeatureSet:
    """The extractor's features of uint8 [N, T, H, W, 3] videos, float32 [N, 400] in input order."""
    frames: list[int] = []
    parts = [out.float().numpy() for out in _forward(
        videos_or_batches, batch_size=batch_size, device=device, progress=progress, weights=weights,
        model=model, total=total, frames_out=frames)]
    feats = np.concatenate(parts) if parts else np.zeros((0, FEATURE_DIM), np.float32)
    if len(feats) < 2:
        raise ValueError(f"FVD needs at least 2 videos per set, got {len(feats)}")
    if not np.isfinite(feats).all():
        raise ValueError("features contain NaN or inf: check the input videos and the weights")
    return FeatureSet(features=feats, frames=frames[0])


def fvd_from_stats(a: Stats, b: Stats) -> float:
    """FVD between two statistics; warns when either set is smaller than the feature dimension."""
    if a.frames is not None and b.frames is not None and a.frames != b.frames:
        raise ValueError(f"the two sets have different frame counts ({a.frames} vs {b.frames}); "
                         "FVD compares clips of equal length")
    for s in (a, b):
        if s.n < 2:
            raise ValueError(f"FVD needs at least 2 videos per set, got {s.n}")
    if min(a.n, b.n) < FEATURE_DIM:
        warnings.warn(f"FVD with N = {min(a.n, b.n)} < {FEATURE_DIM} videos is biased upwards "
                      "(rank-deficient covariance); report N and compare only at equal N", stacklevel=2)
    value = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    if not np.isfinite(value):
        raise ValueError("FVD is NaN: the statistics are not finite")
    return value


def compute_fvd(real: VideosLike, fake: VideosLike, **kw: Any) -> float:
    """FVD between two video sets (uint8 [N, T, H, W, 3] arrays or iterators of batches)."""
    return fvd_from_stats(video_stats(real, **kw), video_stats(fake, **kw))


def weights_digest(model: Callable) -> str:
    """sha256 of the weights an extractor actually computes with (its state dict, as it is now).

    A module is hashed from its tensors, so weights changed on disk or in memory give a new digest;
    any other callable must say who it is with a ``weights_sha256`` attribute.
    """
    if isinstance(model, torch.nn.Module):
        return arrays_sha256(model.state_dict())
    digest = getattr(model, "weights_sha256", "")
    if not digest:
        raise ValueError(f"cached statistics need the extractor's weights digest: {model!r} is not a torch "
                         "module and has no weights_sha256 attribute; set one, or use video_stats")
    return str(digest)


def stats_key(key: dict, *, weights_sha256: str, frames: int | None = None) -> dict:
    """Everything that affects cached statistics: the caller's key plus extractor, weights, resize."""
    from metrics.i3d_weights import BN_EPS

    return {"key": key, "frames": frames, "extractor": "i3d-kinetics-400-logits",
            "weights_sha256": weights_sha256, "resize": RESIZE_RULE, "size": 224,
            "bn_eps": BN_EPS, "stats": "float64, 1/(N-1)", "version": STATS_VERSION}


def _stats_arrays(stats: Stats, text: str) -> dict[str, np.ndarray]:
    return {"mu": np.asarray(stats.mu, np.float64), "sigma": np.asarray(stats.sigma, np.float64),
            "n": np.asarray(stats.n, np.int64), "frames": np.asarray(stats.frames or 0, np.int64),
            "key_json": np.asarray(text)}


def checked_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz written by ``write_checked``, after checking the sha256 stored beside them."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    stored = str(arrays.pop("sha256", ""))
    if not stored:
        raise CacheCorrupt("has no checksum (written by an older version)")
    if arrays_sha256(arrays) != stored:
        raise CacheCorrupt("failed its checksum")
    return arrays


def write_checked(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` plus their ``arrays_sha256`` as member ``sha256``, as an .npz at ``tmp``."""
    with open(tmp, "wb") as f:
        np.savez(f, **arrays, sha256=np.asarray(arrays_sha256(arrays)))


def _arrays_for_key(data: bytes, text: str, what: str) -> tuple[dict[str, np.ndarray], int | None]:
    """(arrays, frames) of a cached .npz's bytes, after checking its sha256 and that it is ``text``'s."""
    arrays = checked_arrays(data)
    if str(arrays["key_json"]) != text:
        raise CacheCorrupt(f"holds {what} for another key")
    f = int(arrays["frames"])
    return arrays, f if f > 0 else None


def _parse_stats(data: bytes, text: str) -> Stats:
    """Statistics from a cached .npz's bytes, after checking the sha256 stored beside them."""
    arrays, frames = _arrays_for_key(data, text, "statistics")
    return Stats(mu=arrays["mu"], sigma=arrays["sigma"], n=int(arrays["n"]), frames=frames)


def _cache_entry(sub: str, name: str, key: dict, model: Callable, frames: int | None,
                 **extra: Any) -> tuple[Path, str]:
    """(cache file, key text): ``name`` made filesystem-safe plus a hash of ``stats_key`` (+ ``extra``)."""
    text = json.dumps({**stats_key(key, weights_sha256=weights_digest(model), frames=frames), **extra},
                      sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "stats"
    return cache_dir(sub) / f"{slug}-{digest}.npz", text


def cached_video_stats(name: str, key: dict, make_batches: Callable[[], VideosLike], *,
                       frames: int | None = None, weights: str | None = None,
                       model: Callable | None = None, **kw: Any) -> Stats:
    """``video_stats(make_batches(), **kw)``, cached under ``$RAMVID_CACHE/fvd_stats``.

    The file name is ``name`` (made filesystem-safe) plus a hash of ``stats_key``: the caller's key,
    frames, the sha256 of the weights the extractor actually holds (``weights_digest``), the resize
    rule and versions. Each file stores a sha256 of its contents, checked on every read; a file that
    fails it is recomputed with a one-line ``CacheWarning``, and so is a cache that cannot be written.
    ``make_batches`` is called only on a miss.
    """
    return _cached("cached_video_stats", "fvd_stats", name, key, make_batches, _parse_stats, video_stats,
                   _stats_arrays, frames=frames, weights=weights, model=model, **kw)


def _cached(what: str, sub: str, name: str, key: dict, make_batches: Callable[[], VideosLike],
            parse: Callable[[bytes, str], Any], compute: Callable[..., Any],
            to_arrays: Callable[[Any, str], dict[str, np.ndarray]], *, frames: int | None,
            weights: str | None, model: Callable | None, extra: dict | None = None, **kw: Any) -> Any:
    """The cache read, compute-on-miss and checked write shared by ``cached_video_stats`` and
    ``cached_video_features`` (``what`` names the caller in errors)."""
    model = model if model is not None else get_i3d(weights, kw.get("device"))
    path, text = _cache_entry(sub, name, key, model, frames, **(extra or {}))
    hit = read_cache(path, lambda data: parse(data, text))
    if hit is not None:
        return hit
    found = compute(make_batches(), weights=weights, model=model, **kw)
    if frames is not None and found.frames != frames:
        raise ValueError(f"{what}({name!r}): videos have {found.frames} frames, the key says {frames}")
    arrays = to_arrays(found, text)
    write_cache(path, lambda tmp: write_checked(tmp, arrays))
    return found


def _parse_features(data: bytes, text: str) -> FeatureSet:
    arrays, frames = _arrays_for_key(data, text, "features")
    return FeatureSet(features=arrays["features"], frames=frames)


def _feature_arrays(found: FeatureSet, text: str) -> dict[str, np.ndarray]:
    return {"features": found.features, "frames": np.asarray(found.frames or 0, np.int64),
            "key_json": np.asarray(text)}


def cached_video_features(name: str, key: dict, make_batches: Callable[[], VideosLike], *,
                          frames: int | None = None, weights: str | None = None,
                          model: Callable | None = None, **kw: Any) -> FeatureSet:
    """``video_features(make_batches(), **kw)``, cached under ``$RAMVID_CACHE/fvd_features``.

    Keyed, checked and rebuilt exactly like ``cached_video_stats``; the features (float32 [N, 400])
    let intervals and other estimators be computed without another pass of the extractor.
    """
    return _cached("cached_video_features", "fvd_features", name, key, make_batches, _parse_features,
                   video_features, _feature_arrays, frames=frames, weights=weights, model=model,
                   extra={"cached": "features float32"}, **kw)
