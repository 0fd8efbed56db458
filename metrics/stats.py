"""Streaming first and second moments of feature vectors in float64 (memory independent of N)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Stats:
    """Mean ``mu`` [D], covariance ``sigma`` [D, D] (1/(N-1)), sample count ``n`` (float64)."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    frames: int | None = None  # frames per video the features came from (None: unknown)


class StreamingStats:
    """Running mean and centred scatter (Chan et al.'s pairwise update), all in float64.

    Merging centred per-batch sums keeps the result independent of batch size and order to ~1e-12,
    and avoids the cancellation of the naive ``sum(x x^T) - n mu mu^T``.
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim = None if dim is None else int(dim)  # None: taken from the first batch
        self.n = 0
        self._mean = np.zeros(self.dim or 0, np.float64)
        self._m2 = np.zeros((self.dim or 0, self.dim or 0), np.float64)

    def update(self, feats: np.ndarray | torch.Tensor) -> None:
        """Add a batch of features [B, D]."""
        if isinstance(feats, torch.Tensor):
            feats = feats.detach().cpu().numpy()
        x = np.asarray(feats, dtype=np.float64)
        if self.dim is None and x.ndim == 2:
            self.__init__(x.shape[1])
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"StreamingStats: expected features [B, {self.dim}], got {list(x.shape)}")
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or inf: check the input videos and the weights")
        b = x.shape[0]
        if b == 0:
            return
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        n = self.n + b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (b / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (self.n * b / n)
        self.n = n

    @property
    def mean(self) -> np.ndarray:
        """float64 [D]."""
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """float64 [D, D] with the unbiased 1/(N-1) normalisation of the reference."""
        if self.n < 2:
            raise ValueError(f"covariance needs at least 2 videos, got {self.n}")
        return self._m2 / (self.n - 1)

    def result(self, frames: int | None = None) -> Stats:
        """Freeze into a ``Stats``."""
        return Stats(mu=self.mean, sigma=self.cov, n=self.n, frames=frames)
