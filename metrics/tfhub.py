"""FVD features from the original TF-Hub I3D module: a literal cross-check of our PyTorch I3D.

Runs google-research's ``frechet_video_distance`` preprocessing in TensorFlow itself, then the
module's ``default`` signature (400 Kinetics logits averaged over time):
``tf.compat.v1.image.resize_bilinear`` (align_corners=False, half_pixel_centers=False) of every
frame to 224x224, then ``2 * x / 255 - 1``. Needs the extra ``[tf]`` (tensorflow-cpu,
tensorflow-hub) and a reachable module: a URL, or a local folder holding the unpacked module.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from tqdm import tqdm

from metrics.stats import Stats, StreamingStats

DEFAULT_MODULE = "https://tfhub.dev/deepmind/i3d-kinetics-400/1"
SIZE = (224, 224)
INSTALL_HINT = "install extra [tf]: pip install 'ramvid-bench[tf]' (tensorflow-cpu and tensorflow-hub)"


class TFHubUnavailable(ValueError):
    """TensorFlow / tensorflow-hub missing, or the module cannot be loaded (one clear line)."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise TFHubUnavailable(f"--backend tfhub needs {name} ({e}); {INSTALL_HINT}") from None


def preprocess(videos: np.ndarray) -> Any:
    """uint8 [B,T,H,W,3] -> tf.float32 [B,T,224,224,3] in [-1,1], exactly as the reference FVD code."""
    tf = _import("tensorflow")
    videos = np.asarray(videos)
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"expected videos [N, T, H, W, 3], got {list(videos.shape)}")
    b, t = videos.shape[:2]
    frames = tf.reshape(tf.constant(videos), [-1, *videos.shape[-3:]])
    resized = tf.compat.v1.image.resize_bilinear(frames, size=SIZE)
    resized = tf.reshape(resized, [b, t, *SIZE, 3])
    return 2.0 * tf.cast(resized, tf.float32) / 255.0 - 1.0


def load_module(module: str = DEFAULT_MODULE) -> Any:
    """The module's ``default`` signature as a callable ``f(videos [B,T,224,224,3]) -> [B,400]``."""
    _import("tensorflow")
    hub = _import("tensorflow_hub")
    try:
        loaded = hub.load(module)
        signature = loaded.signatures["default"]
    except Exception as e:  # hub raises many types (OSError, ValueError, KeyError, URLError...)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise TFHubUnavailable(
            f"cannot load the TF-Hub I3D module '{module}' ({type(e).__name__}: {first}); pass "
            "--tfhub-module PATH to an unpacked copy of deepmind/i3d-kinetics-400/1") from None
    kwargs = signature.structured_input_signature[1]
    if len(kwargs) > 1:
        raise TFHubUnavailable(f"module '{module}': its 'default' signature takes {sorted(kwargs)}, "
                               "expected one input")
    name = next(iter(kwargs), None)

    def run(x: Any) -> np.ndarray:
        out = signature(**{name: x}) if name else signature(x)
        out = out["default"] if "default" in out else next(iter(out.values()))
        return np.asarray(out, dtype=np.float64)

    return run


def tfhub_video_features(videos: np.ndarray | Iterable[np.ndarray], module: str = DEFAULT_MODULE, *,
                         batch_size: int = 16, progress: bool = True) -> Iterable[np.ndarray]:
    """Yield float64 logits [B, 400] for uint8 videos [N,T,H,W,3] (an array or an iterator of batches)."""
    if isinstance(videos, np.ndarray):
        batches: Iterable[np.ndarray] = [videos[i:i + batch_size] for i in range(0, len(videos), batch_size)]
    else:
        batches = videos
    run = None
    for batch in tqdm(batches, desc="TF-Hub I3D", unit="batch", disable=not progress):
        batch = np.asarray(batch)
        if batch.dtype != np.uint8:
            raise ValueError(f"videos must be uint8 (0..255) as the reference expects, got {batch.dtype}")
        run = run or load_module(module)
        yield run(preprocess(batch))


def tfhub_video_stats(videos: np.ndarray | Iterable[np.ndarray], module: str = DEFAULT_MODULE, *,
                      batch_size: int = 16, progress: bool = True) -> Stats:
    """``metrics.stats.Stats`` (float64 mean, 1/(N-1) covariance) of the TF-Hub I3D logits of ``videos``."""
    stats: StreamingStats | None = None
    for feats in tfhub_video_features(videos, module, batch_size=batch_size, progress=progress):
        stats = stats or StreamingStats(feats.shape[1])
        stats.update(feats)
    if stats is None:
        raise ValueError("no videos given to the TF-Hub I3D")
    return stats.result()
