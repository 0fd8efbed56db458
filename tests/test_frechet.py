"""Fréchet distance and streamed statistics: float64, 1/(N-1), symmetric square roots."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from metrics.frechet import frechet_distance, symmetric_sqrt
from metrics.stats import StreamingStats


def _feats(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift


def _tfgan(a1: np.ndarray, a2: np.ndarray) -> float:
    """tensorflow_gan's formula transcribed (SVD roots, 1e-10 left unrooted)."""
    def root(m: np.ndarray) -> np.ndarray:
        u, s, vt = np.linalg.svd(m)
        return (u * np.where(s < 1e-10, s, np.sqrt(s))) @ vt
    m1, m2 = a1.mean(0), a2.mean(0)
    s1, s2 = np.cov(a1, rowvar=False), np.cov(a2, rowvar=False)
    r = root(s1)
    return float(np.trace(s1) + np.trace(s2) - 2 * np.trace(root(r @ s2 @ r)) + ((m1 - m2) ** 2).sum())


def test_self_distance_is_zero() -> None:
    a = _feats(0, 50, 20)
    mu, sigma = a.mean(0), np.cov(a, rowvar=False)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


@pytest.mark.parametrize("n", [200, 12])  # full rank, and rank-deficient (N < D) like small FVD sets
def test_matches_tfgan_formula(n: int) -> None:
    a, b = _feats(1, n, 40), _feats(2, n, 40, shift=0.5)
    ours = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours == pytest.approx(_tfgan(a, b), rel=1e-8)


def test_matches_scipy_sqrtm_full_rank() -> None:
    a, b = _feats(3, 300, 30), _feats(4, 300, 30, shift=-0.2)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(a.mean(0), s1, b.mean(0), s2) == pytest.approx(ref, rel=1e-8)


def test_symmetric_sqrt_squares_back() -> None:
    a = _feats(5, 80, 16)
    s = np.cov(a, rowvar=False)
    r = symmetric_sqrt(s)
    assert np.allclose(r @ r, s, atol=1e-10) and np.allclose(r, r.T)


def test_nan_is_one_clear_error() -> None:
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu * np.nan, sigma, mu, sigma)


def test_streaming_stats_equal_numpy_any_batching_and_order() -> None:
    x = _feats(6, 103, 25, shift=10.0)  # a large mean: the naive sum-of-squares formula would lose digits
    for batch, order in [(1, None), (7, None), (50, np.random.default_rng(0).permutation(103))]:
        s = StreamingStats(25)
        y = x if order is None else x[order]
        for i in range(0, len(y), batch):
            s.update(y[i:i + batch])
        assert s.n == 103
        assert np.allclose(s.mean, x.mean(0), rtol=0, atol=1e-12)
        assert np.allclose(s.cov, np.cov(x, rowvar=False), rtol=0, atol=1e-12)


def test_streaming_stats_errors() -> None:
    s = StreamingStats(4)
    with pytest.raises(ValueError, match="NaN"):
        s.update(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        s.update(np.zeros((2, 5)))
    s.update(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = s.cov
