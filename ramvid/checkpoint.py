"""Self-describing training checkpoints, and loading a model from one (or from a bare state dict).

A checkpoint is a ``torch.save`` of plain builtins and tensors only, so ``torch.load(...,
weights_only=True)`` reads it without running pickled code:

    format_version  int (FORMAT_VERSION)
    config          RamvidConfig.to_dict()  -> ``--ckpt`` alone rebuilds the model
    step            int, optimizer steps taken
    model, ema      state dicts keyed like ``UNet3D.state_dict()``
    optimizer       ``AdamW.state_dict()``
    rng             {"seed": int, "torch_cpu": uint8 tensor, "next_step_generator": uint8 tensor}:
                    every training draw is derived from (seed, step, item), so seed + step is
                    what makes a resume exact; the generator states are kept for inspection
    git_hash        str
    dataset         {"name": str, "path": str | None}

A *bare* state dict (a released official checkpoint such as ``ema_0.9999_250000.pt``: a flat dict
of tensors) carries no config; the caller names the preset.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import torch

from ramvid.config import RamvidConfig, get_preset
from ramvid.utils import atomic_path

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
CKPT_RE = re.compile(r"^ckpt-(\d+)\.pt$")
_BARE_STEP_RE = re.compile(r"(\d+)\.pt$")  # ema_0.9999_250000.pt, model250000.pt


def checkpoint_name(step: int) -> str:
    return f"ckpt-{int(step)}.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically (temp file + rename): a crash never leaves a half-written file."""
    state = {"format_version": FORMAT_VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` on CPU, with one clear line for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors come in many types; all mean "not a plain checkpoint"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a weights-only torch checkpoint ({first[:200]})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, found {type(obj).__name__}")
    if "format_version" in obj:
        version = obj["format_version"]
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"{path}: checkpoint format_version {version!r} is not supported by this "
                             f"ramvid (supports {list(SUPPORTED_VERSIONS)}); upgrade ramvid-bench")
    return obj


def is_bare_state_dict(obj: dict[str, Any]) -> bool:
    """A flat dict of tensors, as ``torch.save(model.state_dict())`` writes it."""
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The ``ckpt-<step>.pt`` with the highest step in ``directory`` (None if none or no folder)."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """All ``(step, path)`` of ``ckpt-<step>.pt`` files in ``directory``, by increasing step."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = [(int(m.group(1)), p) for p in d.iterdir() if (m := CKPT_RE.match(p.name)) and p.is_file()]
    return sorted(out)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(path: str | os.PathLike, *, preset: str | None = None, use_ema: bool = True,
               device: torch.device | str = "cpu") -> tuple[torch.nn.Module, RamvidConfig, dict[str, Any]]:
    """Rebuild a model (eval mode, on ``device``) from a checkpoint.

    Self-describing checkpoints rebuild from their stored config (``preset``, if given, must agree);
    a bare state dict needs ``preset``. ``use_ema`` picks the EMA weights when the file has them.
    Returns ``(model, config, info)``; ``info`` has step, sha256, path, dataset, weights, git_hash.
    Weights with NaN/inf values are refused (ValueError naming the file and the first bad tensor).
    """
    from ramvid.model import build_model, load_state_dict_checked  # the network is only needed here

    path = Path(path)
    obj = read_checkpoint(path)
    if "format_version" in obj:
        config = RamvidConfig.from_dict(obj["config"])
        if preset is not None:
            _check_preset_agrees(path, config, preset)
        weights = "ema" if use_ema and obj.get("ema") is not None else "model"
        state = obj[weights]
        info = {"step": int(obj.get("step", 0)), "dataset": obj.get("dataset"),
                "git_hash": obj.get("git_hash"), "format": "ramvid"}
    elif is_bare_state_dict(obj):
        if preset is None:
            raise ValueError(f"{path}: bare state dict: pass --preset bair|kinetics|ucf|tiny")
        config = get_preset(preset)
        state = obj
        m = _BARE_STEP_RE.search(path.name)
        weights = "ema" if path.name.startswith("ema") else "model"
        info = {"step": int(m.group(1)) if m else None, "dataset": None, "git_hash": None,
                "format": "bare"}
    else:
        raise ValueError(f"{path}: neither a ramvid checkpoint (no format_version) nor a flat "
                         "state dict of tensors")
    _check_finite(path, state, weights)
    model = build_model(config.model)
    load_state_dict_checked(model, state)
    model = model.to(device).eval()
    info.update(path=str(path), sha256=file_sha256(path), weights=weights)
    return model, config, info


def _check_finite(path: Path, state: dict[str, Any], weights: str) -> None:
    """A NaN/inf weight samples black videos without any error: refuse it here, naming the tensor."""
    for name, v in state.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all():
            bad = int((~torch.isfinite(v)).sum())
            raise ValueError(f"{path}: {weights} weight {name} has {bad} NaN/inf value(s); the checkpoint "
                             "is broken, use an earlier one")


def _check_preset_agrees(path: Path, config: RamvidConfig, preset: str) -> None:
    want = get_preset(preset)
    if (want.name, want.frames, want.model) != (config.name, config.frames, config.model):
        raise ValueError(f"{path}: checkpoint was trained with preset {config.name!r} "
                         f"({config.frames} frames, {config.model.model_channels} channels) but "
                         f"--preset {preset} was given; drop --preset (the checkpoint carries its config)")
