"""Reusable FVD statistics files: ``ramvid-bench fvd --save-stats real_stats.npz REAL`` writes one,
and it stands in for a video set (``ramvid-bench fvd real_stats.npz FAKE``).

A file holds float64 ``mu`` [D] and ``sigma`` [D, D] (1/(N-1)), ``n``, ``frames``, the extractor's
float32 ``features`` [N, D] (so intervals can still be computed; small: 1.6 kB a video), and
``key_json``: the same settings that key the statistics cache (``metrics.fvd.stats_key``: extractor,
weights sha256, resize rule and size, BatchNorm epsilon, statistics version, frames). Like a cache
file it carries the sha256 of its arrays (``metrics.fvd.write_checked``), checked on every read.
Statistics are only compared with statistics made under the same settings: anything else is refused.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metrics._io import CacheCorrupt, atomic_path
from metrics.fvd import FeatureSet, checked_arrays, stats_key, write_checked
from metrics.stats import Stats

# The settings two sides must share (``stats_key`` fields); "key" (the caller's own) is not one.
SETTINGS = ("extractor", "weights_sha256", "resize", "size", "bn_eps", "stats", "version", "frames")


@dataclass(frozen=True)
class SavedStats:
    """A statistics file: its statistics, the settings they were made under, and the features."""

    path: Path
    stats: Stats
    settings: dict[str, Any]
    features: np.ndarray | None  # float32 [N, D], or None in a file written without them


def settings_of(weights_sha256: str, frames: int | None) -> dict[str, Any]:
    """The settings of statistics made now with extractor weights ``weights_sha256`` on ``frames``."""
    key = stats_key({}, weights_sha256=weights_sha256, frames=frames)
    return {k: key[k] for k in SETTINGS}


def is_stats_file(path: str | os.PathLike) -> bool:
    """True for an .npz with the members of a statistics file (a video .npz has ``videos``)."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {"mu.npy", "sigma.npy", "key_json.npy"} <= names


def save_stats(path: str | os.PathLike, found: FeatureSet, *, weights_sha256: str) -> Path:
    """Write the statistics (and features) of ``found`` to ``path`` (atomic, checksummed)."""
    stats = found.stats()
    text = json.dumps(settings_of(weights_sha256, found.frames), sort_keys=True)
    arrays = {"mu": stats.mu, "sigma": stats.sigma, "n": np.asarray(stats.n, np.int64),
              "frames": np.asarray(found.frames or 0, np.int64), "key_json": np.asarray(text),
              "features": np.asarray(found.features, np.float32)}
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--save-stats {path} is a folder; give a .npz file path")
    with atomic_path(path) as tmp:
        write_checked(tmp, arrays)
    return path


def load_stats(path: str | os.PathLike) -> SavedStats:
    """Read and check a statistics file; one line naming it when it is damaged or not one."""
    path = Path(path)
    try:
        arrays = checked_arrays(path.read_bytes())
        settings = json.loads(str(arrays["key_json"]))
        frames = int(arrays["frames"])
        stats = Stats(mu=np.asarray(arrays["mu"], np.float64), sigma=np.asarray(arrays["sigma"], np.float64),
                      n=int(arrays["n"]), frames=frames if frames > 0 else None)
    except CacheCorrupt as e:
        raise ValueError(f"{path}: {e}; write it again with `ramvid-bench fvd --save-stats`") from None
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a statistics file ({type(e).__name__}); write one with "
                         "`ramvid-bench fvd --save-stats`") from None
    missing = [k for k in SETTINGS if k not in settings]
    if missing:
        raise ValueError(f"{path}: its settings lack {missing}; write it again with --save-stats")
    return SavedStats(path=path, stats=stats, settings={k: settings[k] for k in SETTINGS},
                      features=arrays.get("features"))


def check_same_settings(a: dict[str, Any], b: dict[str, Any], a_name: str, b_name: str) -> None:
    """Refuse, in one line naming both sides and the first setting that differs, unequal settings."""
    for key in SETTINGS:
        if key == "frames" and None in (a.get(key), b.get(key)):
            continue  # a side of unknown length (checked when its videos are read)
        if a.get(key) != b.get(key):
            show = {k: (str(v)[:12] + "..." if k == "weights_sha256" else v) for k, v in
                    (("a", a.get(key)), ("b", b.get(key)))}
            raise ValueError(f"{a_name} was made with {key} {show['a']!r} but {b_name} with {show['b']!r}; "
                             "FVD compares statistics made under the same settings: recompute one side "
                             "(`ramvid-bench fvd --save-stats`)")
