"""The Python way in: score any method on a protocol, and FVD on arrays, from a notebook.

    import benchmarks
    res = benchmarks.evaluate("shapes-prediction", generate=my_fn)   # my_fn(known, cond, seeds)
    res = benchmarks.evaluate("shapes-prediction", samples=videos)   # uint8 [K, T, H, W, 3]
    print(res.value, res.std, res.n, res.row)
    benchmarks.fvd(real, fake, layout="NCTHW", value_range=(-1, 1))

``evaluate`` is ``ramvid-bench run``: the same work dir (resumable), the same checks on known frames,
the same results row (written when ``results`` names a CSV).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.methods import GenerateFn
from benchmarks.runner import RunResult, RunSpec, run

LAYOUTS = {"NTHWC": (0, 1, 2, 3, 4), "NCTHW": (0, 2, 3, 4, 1), "NTCHW": (0, 1, 3, 4, 2)}
VALUE_RANGES = ((0, 1), (-1, 1), (0, 255))


def to_videos(x: Any, layout: str = "NTHWC", value_range: tuple[float, float] | None = None) -> np.ndarray:
    """A numpy array or torch tensor of videos -> uint8 [N, T, H, W, 3] (explicit, never guessed).

    ``layout``: "NTHWC" (default), "NCTHW" or "NTCHW". Floats need ``value_range`` (0, 1), (-1, 1)
    or (0, 255) and are rounded to the nearest level; uint8 needs none.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 5:
        raise ValueError(f"videos must be 5-D ({layout}), got shape {list(x.shape)}")
    x = x.transpose(LAYOUTS[layout])
    if x.shape[-1] != 3:
        raise ValueError(f"videos in layout {layout} have {x.shape[-1]} channels after reordering; "
                         "pass the layout they are in (NTHWC, NCTHW or NTCHW)")
    if x.dtype == np.uint8:
        if value_range not in (None, (0, 255)):
            raise ValueError(f"uint8 videos are 0..255; value_range={value_range} does not apply")
        return np.ascontiguousarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{x.dtype} videos: give uint8 0..255, or floats with value_range")
    if value_range is None:
        raise ValueError("float videos: pass value_range=(0, 1) or (-1, 1) (or convert yourself: from "
                         "[0, 1] np.clip(np.round(x * 255), 0, 255).astype(np.uint8); from [-1, 1] "
                         "np.clip(np.round((x + 1) * 127.5), 0, 255).astype(np.uint8))")
    if tuple(value_range) not in VALUE_RANGES:
        raise ValueError(f"value_range {value_range}: choose one of {VALUE_RANGES}")
    lo, hi = value_range
    return np.clip(np.round((x.astype(np.float64) - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def fvd(real: Any, fake: Any, *, layout: str = "NTHWC", value_range: tuple[float, float] | None = None,
        batch_size: int = 8, device: str | None = None) -> float:
    """FVD between two video arrays/tensors (see ``to_videos`` for ``layout`` and ``value_range``)."""
    from metrics.fvd import compute_fvd

    return float(compute_fvd(to_videos(real, layout, value_range), to_videos(fake, layout, value_range),
                             batch_size=batch_size, device=device, progress=False))


def evaluate(protocol: str, *, samples: Any = None, generate: GenerateFn | None = None,
             layout: str = "NTHWC", value_range: tuple[float, float] | None = None, **spec: Any) -> RunResult:
    """Score ``samples`` (array, tensor or path, in the exported key order) or ``generate`` on
    ``protocol``; ``spec``: any ``RunSpec`` field (``data_path``, ``num_videos``, ``method_name``,
    ``results`` (None: no row), ``out_dir``, ``batch_size``, ``device``, ``progress``, ``protocols``).

    ``generate(known uint8 [B,T,H,W,3], cond indices, seeds int64 [B]) -> uint8 [B,T,H,W,3]``
    sees only the known frames (the others zeroed). A ``generate`` run resumes only from an
    ``out_dir`` you give (a function is known by its name alone); otherwise it samples afresh.
    Returns the ``RunResult`` (``value``, ``std``, ``n``, ``row``).
    """
    if (samples is None) == (generate is None):
        raise ValueError("give exactly one of samples= or generate=")
    if "seeds" in spec:
        raise ValueError("evaluate runs one seed (seed=S); call it once per seed and combine the values")
    spec.setdefault("results", None)
    if generate is not None:
        # a callable is known by its name only, so it resumes only where told to: without out_dir,
        # a fresh folder (never the samples of an earlier function of the same name)
        if spec.get("out_dir") is None:
            spec["out_dir"] = tempfile.mkdtemp(prefix="ramvid-evaluate-")
        spec.setdefault("method_name", getattr(generate, "__name__", "callable"))
        method_name = spec.pop("method_name")
        return run(RunSpec(protocol=protocol, **spec), generate=_named(generate, method_name))
    if isinstance(samples, (str, os.PathLike)):
        return run(RunSpec(protocol=protocol, samples=str(samples), **spec))
    videos = to_videos(samples, layout, value_range)
    with tempfile.TemporaryDirectory(prefix="ramvid-samples-") as tmp:
        path = Path(tmp) / "samples.npy"
        np.save(path, videos)
        return run(RunSpec(protocol=protocol, samples=str(path), **spec))


def _named(fn: GenerateFn, name: str) -> GenerateFn:
    def generate(known: np.ndarray, cond: tuple[int, ...], seeds: np.ndarray) -> Any:
        return fn(known, cond, seeds)

    generate.__name__ = name
    return generate
