"""Inception Score on videos (TGANv2's C3D): IS = exp(mean_x KL(p(y|x) || p(y))).

Two estimators are in use and give different numbers, so both are parameters:
- TGANv2 (the UCF-101 tables): 2048 samples, ``splits=1``, repeated 10 times with fresh samples,
  reported as mean +- std over the 10 repeats. Here ``repeats=R`` splits the N given videos into R
  disjoint consecutive groups of N/R (N must be a multiple of R).
- StyleGAN-V / improved-gan: one set of 2048 cut into ``splits=10``, mean +- std over the splits.
With R > 1 and S > 1 each group scores the mean over its S splits, and the std is over groups.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from metrics.c3d import C3D, to_c3d_input

EPS = 1e-20


@dataclass(frozen=True)
class ISEstimator:
    """How scores are formed from samples: ``repeats`` groups of ``samples`` videos, ``splits`` each."""

    name: str
    samples: int
    splits: int
    repeats: int

    def __post_init__(self) -> None:
        if min(self.samples, self.splits, self.repeats) < 1:
            raise ValueError(f"ISEstimator {self.name}: samples, splits and repeats must be >= 1")

    @property
    def n_videos(self) -> int:
        return self.samples * self.repeats


TGANV2 = ISEstimator("tganv2", samples=2048, splits=1, repeats=10)
STYLEGAN_V = ISEstimator("stylegan-v", samples=2048, splits=10, repeats=1)
# The estimators by name: protocols name one (``estimator``), and the CLI's ``is --estimator`` reads it.
ESTIMATORS: dict[str, ISEstimator] = {e.name: e for e in (TGANV2, STYLEGAN_V)}


def get_estimator(name: str) -> ISEstimator:
    """The named estimator; unknown names get one line listing the known ones."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown IS estimator {name!r}; choose one of {', '.join(ESTIMATORS)}") from None


@dataclass(frozen=True)
class ISResult:
    """``mean`` +- ``std`` over ``scores`` (per group when repeats > 1, else per split)."""

    mean: float
    std: float
    scores: tuple[float, ...]
    n: int
    splits: int
    repeats: int


def split_scores(probs: np.ndarray, splits: int = 1, eps: float = EPS) -> np.ndarray:
    """IS of each of ``splits`` consecutive parts of ``probs`` [N, K] (float64), TGANv2's formula."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"class probabilities must be [N, K], got shape {list(probs.shape)}")
    n = probs.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"cannot cut {n} samples into {splits} splits; use splits between 1 and {n}")
    scores = np.empty(splits, dtype=np.float64)
    for i in range(splits):
        part = probs[i * n // splits:(i + 1) * n // splits] + eps
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores[i] = np.exp(kl.sum(axis=1).mean())
    return scores


def check_groups(n: int, splits: int = 1, repeats: int = 1) -> None:
    """Fail early (before any C3D work) when N videos cannot form ``repeats`` x ``splits`` parts."""
    if n < 1:
        raise ValueError("no videos: the Inception Score needs at least one video per split")
    if repeats < 1 or n % repeats:
        raise ValueError(f"repeats={repeats} needs N divisible by it (TGANv2: 10 x 2048 videos), got N={n}; "
                         "pass a multiple of repeats or --repeats 1")
    if splits < 1 or n // repeats < splits:
        raise ValueError(f"cannot cut groups of {n // repeats} videos into {splits} splits; "
                         f"use splits between 1 and {n // repeats}")


def score_probs(probs: np.ndarray, splits: int = 1, repeats: int = 1, eps: float = EPS) -> ISResult:
    """Inception Score of ``probs`` [N, K]: ``repeats`` disjoint groups of N/R, ``splits`` per group."""
    probs = np.asarray(probs, dtype=np.float64)
    n = probs.shape[0] if probs.ndim else 0
    check_groups(n, splits, repeats)
    size = n // repeats
    if repeats == 1:
        scores = split_scores(probs, splits, eps)
    else:
        scores = np.array([split_scores(probs[g * size:(g + 1) * size], splits, eps).mean()
                           for g in range(repeats)])
    return ISResult(mean=float(scores.mean()), std=float(scores.std()), scores=tuple(map(float, scores)),
                    n=n, splits=splits, repeats=repeats)


def _batches(videos: np.ndarray | torch.Tensor | Iterable, batch_size: int) -> Iterable:
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        for start in range(0, len(videos), batch_size):
            yield videos[start:start + batch_size]
    else:
        yield from videos


def _as_float(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [B,T,H,W,3] (disk layout) or float [B,3,T,H,W] in [-1,1] (model layout) -> float."""
    x = torch.as_tensor(batch)
    if x.dtype == torch.uint8:
        return to_c3d_input(x)
    if not torch.is_floating_point(x):
        raise ValueError(f"videos must be uint8 [N,T,H,W,3] or float [N,3,T,H,W] in [-1,1], got {x.dtype}")
    if x.numel() and (x.min() < -1.001 or x.max() > 1.001 or torch.isnan(x).any()):
        raise ValueError("float videos must lie in [-1, 1] (TGANv2 clips generator output to [-1, 1])")
    return x


def c3d_probs(videos: np.ndarray | torch.Tensor | Iterable, c3d: C3D, *, batch_size: int = 8,
              device: torch.device | str | None = None, progress: bool = True) -> np.ndarray:
    """C3D class probabilities float64 [N, 101] for an array or an iterator of batches.

    ``videos``: uint8 [N,16,H,W,3] or float [N,3,16,H,W] in [-1,1]; an iterator yields such batches.
    """
    if device is not None:
        c3d = c3d.to(device)
    device = next(c3d.parameters()).device
    total = len(videos) if hasattr(videos, "__len__") else None
    out = []
    with tqdm(total=total, desc="C3D", unit="video", disable=not progress) as bar:
        for batch in _batches(videos, batch_size):
            x = _as_float(batch).to(device)
            out.append(c3d.probs(x).double().cpu().numpy())
            bar.update(len(x))
    if not out:
        raise ValueError("no videos given to the Inception Score")
    return np.concatenate(out)


def inception_score(videos: np.ndarray | torch.Tensor | Iterable, c3d: C3D, *, splits: int = TGANV2.splits,
                    repeats: int = TGANV2.repeats, batch_size: int = 8,
                    device: torch.device | str | None = None, progress: bool = True) -> tuple[float, float]:
    """(mean, std) of the Inception Score of ``videos`` (see the module docstring for the estimators)."""
    if hasattr(videos, "__len__"):
        check_groups(len(videos), splits, repeats)
    probs = c3d_probs(videos, c3d, batch_size=batch_size, device=device, progress=progress)
    result = score_probs(probs, splits=splits, repeats=repeats)
    return result.mean, result.std
