"""Fréchet distance between two Gaussians, as tensorflow_gan computes it for FVD.

float64 throughout; the trace of sqrtm(S1 S2) is taken as trace(sqrt(sqrt(S1) S2 sqrt(S1))) with
symmetric square roots, which stays real and stable where scipy's sqrtm(S1 @ S2) returns complex
noise. Like tfgan's ``_symmetric_matrix_square_root``, values below 1e-10 are left unrooted (tiny
negative ones, round-off of a PSD matrix, are clipped to 0 first).
"""
from __future__ import annotations

import numpy as np

EPS = 1e-10


def symmetric_sqrt(mat: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Square root of a symmetric PSD matrix [D, D] via eigh (float64)."""
    mat = (mat + mat.T) / 2.0
    w, v = np.linalg.eigh(mat)
    w = np.clip(w, 0.0, None)
    root = np.where(w < eps, w, np.sqrt(w))
    return (v * root) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, eps: float = EPS) -> float:
    """trace(sqrtm(sigma1 @ sigma2)) through the symmetric form sqrt(S1) S2 sqrt(S1)."""
    s1 = symmetric_sqrt(sigma1, eps)
    w = np.linalg.eigvalsh((s1 @ sigma2 @ s1 + (s1 @ sigma2 @ s1).T) / 2.0)
    w = np.clip(w, 0.0, None)
    return float(np.where(w < eps, w, np.sqrt(w)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)); inputs mu [D], sigma [D, D]."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"frechet_distance: shape mismatch mu {mu1.shape}/{mu2.shape}, "
                         f"sigma {sigma1.shape}/{sigma2.shape}")
    for name, arr in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(arr).all():
            raise ValueError(f"frechet_distance: {name} contains NaN or inf (bad features or N < 2)")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * trace_sqrt_product(sigma1, sigma2))
