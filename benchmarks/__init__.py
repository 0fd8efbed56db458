"""ramvid-bench: protocols, runner, tables and the command line.

The Python API (imported on first use, so ``import benchmarks`` stays light): ``evaluate`` scores
any method on a protocol, ``fvd`` compares two video arrays, ``to_videos`` converts arrays and
tensors to uint8 [N, T, H, W, 3] with an explicit layout and value range (``benchmarks/api.py``).
"""
from __future__ import annotations

from typing import Any

__all__ = ["evaluate", "fvd", "to_videos"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from benchmarks import api

        return getattr(api, name)
    raise AttributeError(f"module 'benchmarks' has no attribute {name!r}")
