"""Strict state-dict loading with one clear line on mismatch (official or our own checkpoints)."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

HINT = "checkpoint is for another config: pass the matching --preset"


def strip_ddp_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a leading ``module.`` (DistributedDataParallel wrapper) when every key carries it."""
    keys = list(state_dict)
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def state_dict_mismatch(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """Describe the first difference between ``model``'s keys/shapes and ``state_dict``; None if equal.

    Walks the model's keys in order, so the message names the earliest layer that differs.
    """
    ours = model.state_dict()
    for key, ref in ours.items():
        if key not in state_dict:
            return f"checkpoint lacks key {key!r} (model shape {tuple(ref.shape)})"
        got = state_dict[key]
        if not isinstance(got, torch.Tensor):
            return f"checkpoint entry {key!r} is a {type(got).__name__}, not a tensor"
        if tuple(got.shape) != tuple(ref.shape):
            return (f"key {key!r}: checkpoint shape {tuple(got.shape)} != model shape "
                    f"{tuple(ref.shape)}")
    for key in state_dict:
        if key not in ours:
            return f"checkpoint has unexpected key {key!r}"
    return None


def load_state_dict_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Strictly load ``state_dict`` into ``model`` (in place) and return the model.

    Raises ``ValueError`` naming the first missing / unexpected key or the first shape mismatch
    (with both shapes), plus a hint to pick the matching preset.
    """
    if not isinstance(state_dict, Mapping):
        raise ValueError("expected a state dict (mapping of names to tensors), got "
                         f"{type(state_dict).__name__}")
    state_dict = strip_ddp_prefix(state_dict)
    problem = state_dict_mismatch(model, state_dict)
    if problem is not None:
        raise ValueError(f"{problem}; {HINT}")
    model.load_state_dict(state_dict, strict=True)
    return model
