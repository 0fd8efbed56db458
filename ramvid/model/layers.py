"""Building blocks of improved-diffusion's U-Net, specialised to 3D (video) convolutions.

Module and attribute names (``in_layers``, ``emb_layers``, ``out_layers``, ``skip_connection``,
``op``, ``conv``) follow the official code so its state dicts load unchanged.
Time is never resampled: only H and W are halved / doubled.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ramvid.model.fastconv import Conv3d


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 (stable under fp16/bf16 autocast), cast back to the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "meta":  # shape-only runs (FLOP counting) have no autocast state
            return super().forward(x.float()).type(x.dtype)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float()).type(x.dtype)


def normalization(channels: int, groups: int = 32) -> GroupNorm32:
    """GroupNorm with 32 groups, as in improved-diffusion (``ModelConfig.norm_groups`` may say fewer)."""
    return GroupNorm32(groups, channels)


def conv3d(c_in: int, c_out: int, kernel: int = 3, stride: int | tuple[int, int, int] = 1) -> nn.Conv3d:
    """A 3D conv with 'same' padding for odd kernels (3x3x3 pad 1, or 1x1x1 pad 0)."""
    return Conv3d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)


def checkpointed(module: nn.Module, forward: Callable[..., torch.Tensor],
                 *args: torch.Tensor) -> torch.Tensor:
    """``forward(*args)``, recomputed in the backward pass when ``module.grad_checkpoint`` is set.

    Activation checkpointing (non-reentrant): the block keeps only its inputs for backward and runs
    its forward again there, trading ~1/3 more compute for the block's activation memory. The RNG
    and autocast state are restored for the recompute, so dropout masks and results are unchanged.
    """
    if getattr(module, "grad_checkpoint", False) and torch.is_grad_enabled():
        return checkpoint(forward, *args, use_reentrant=False)
    return forward(*args)


def zero_module(module: nn.Module) -> nn.Module:
    """Zero all parameters in place (residual branches start as identities); returns the module."""
    for p in module.parameters():
        p.detach().zero_()
    return module


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [B] -> [B, dim], ``cat(cos, sin)`` with improved-diffusion's frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                           device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepBlock(nn.Module):
    """A module whose forward also takes the timestep embedding."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class TimestepEmbedSequential(nn.Sequential):
    """Sequential that passes ``emb`` to the children that want it (ResBlocks)."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Downsample(nn.Module):
    """Halve H and W (not T) with a 3x3x3 conv of stride (1, 2, 2): [B,C,T,H,W] -> [B,C,T,H/2,W/2]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = conv3d(channels, channels, 3, stride=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest-upsample to (T, 2H, 2W), then a 3x3x3 conv: [B,C,T,H,W] -> [B,C,T,2H,2W]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = conv3d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, h, w = x.shape[2:]
        return self.conv(F.interpolate(x, size=(t, 2 * h, 2 * w), mode="nearest"))


class ResBlock(TimestepBlock):
    """Residual block conditioned on the timestep embedding by scale-shift norm.

    ``h = conv(SiLU(GN(x)))``; ``h = conv(dropout(SiLU(GN(h) * (1 + s) + b)))`` with (s, b) from
    ``emb``; output ``skip(x) + h``. The last conv is zero-initialised. ``grad_checkpoint`` (a plain
    attribute, not in the state dict; ``UNet3D.set_grad_checkpointing``) recomputes it in backward.
    """

    grad_checkpoint = False

    def __init__(self, channels: int, emb_channels: int, dropout: float, out_channels: int,
                 use_scale_shift_norm: bool = True, norm_groups: int = 32) -> None:
        super().__init__()
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(normalization(channels, norm_groups), nn.SiLU(),
                                       conv3d(channels, out_channels, 3))
        emb_out = 2 * out_channels if use_scale_shift_norm else out_channels
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, emb_out))
        self.out_layers = nn.Sequential(normalization(out_channels, norm_groups), nn.SiLU(),
                                        nn.Dropout(p=dropout),
                                        zero_module(conv3d(out_channels, out_channels, 3)))
        # improved-diffusion's use_conv=False skip: a 1x1x1 conv only where channels change.
        self.skip_connection = (nn.Identity() if out_channels == channels
                                else conv3d(channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """x [B,C,T,H,W], emb [B,E] -> [B,C_out,T,H,W]."""
        return checkpointed(self, self._forward, x, emb)

    def _forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        emb_out = self.emb_layers(emb).type(h.dtype)[:, :, None, None, None]
        if self.use_scale_shift_norm:
            norm, rest = self.out_layers[0], self.out_layers[1:]
            scale, shift = emb_out.chunk(2, dim=1)
            h = rest(norm(h) * (1 + scale) + shift)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h
