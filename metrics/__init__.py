"""Reference-exact video metrics, usable on any two video sets (no ramvid or benchmarks import).

FVD: ``metrics.fvd`` (``compute_fvd``, ``video_stats``, ``fvd_from_stats``, ``cached_video_stats``,
``video_features``) over ``metrics.i3d`` (Inception-I3D, TF-Hub semantics), ``metrics.resize`` (TF1
legacy bilinear), ``metrics.stats`` (streamed float64 moments) and ``metrics.frechet``; its
uncertainty (resampling interval, 1/N extrapolation) in ``metrics.uncertainty``; statistics files
in ``metrics.stats_file``. Inception Score:
``metrics.inception_score`` over ``metrics.c3d``. Pitfalls and measured deviations: metrics/README.md.
Submodules are imported on use, so ``import metrics`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"compute_fvd": "metrics.fvd", "video_stats": "metrics.fvd", "fvd_from_stats": "metrics.fvd",
         "cached_video_stats": "metrics.fvd", "video_features": "metrics.fvd", "load_i3d": "metrics.i3d",
         "bootstrap_fvd": "metrics.uncertainty", "extrapolate_fvd": "metrics.uncertainty",
         "frechet_distance": "metrics.frechet", "load_video_set": "metrics.videos"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'metrics' has no attribute {name!r}")
