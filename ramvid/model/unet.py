"""improved-diffusion's U-Net with 3D convolutions: RaMViD's denoiser network.

``eps = UNet3D(cfg)(x [B,C,T,H,W], t [B])``. One timestep per clip (all frames share it); time is
never down- or upsampled and carries no positional encoding. The module tree and state-dict keys
match the official RaMViD code, so its checkpoints load with ``load_state_dict_checked``.
"""
from __future__ import annotations

import torch
from torch import nn

from ramvid.config import ModelConfig, RamvidConfig
from ramvid.model.attention import AttentionBlock
from ramvid.model.layers import (
    Downsample,
    ResBlock,
    TimestepEmbedSequential,
    Upsample,
    conv3d,
    normalization,
    timestep_embedding,
    zero_module,
)


class UNet3D(nn.Module):
    """The RaMViD U-Net. ``forward(x [B,C,T,H,W] float, t [B]) -> [B,out_channels,T,H,W]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        mc = cfg.model_channels
        emb_dim = 4 * mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        chans = self._build_down(cfg, emb_dim)
        ch = chans[-1]
        self.middle_block = TimestepEmbedSequential(self._res(cfg, ch, ch, emb_dim),
                                                    AttentionBlock(ch, cfg.num_heads, cfg.norm_groups),
                                                    self._res(cfg, ch, ch, emb_dim))
        self._build_up(cfg, emb_dim, chans)
        self.out = nn.Sequential(normalization(mc, cfg.norm_groups), nn.SiLU(),
                                 zero_module(conv3d(mc, cfg.out_channels, 3)))

    @staticmethod
    def _res(cfg: ModelConfig, c_in: int, c_out: int, emb_dim: int) -> ResBlock:
        return ResBlock(c_in, emb_dim, cfg.dropout, c_out, cfg.use_scale_shift_norm, cfg.norm_groups)

    @staticmethod
    def _has_attention(cfg: ModelConfig, ds: int) -> bool:
        # attention_resolutions are spatial sizes at the configured image_size (16 means 16x16).
        return cfg.image_size // ds in cfg.attention_resolutions

    def _build_down(self, cfg: ModelConfig, emb_dim: int) -> list[int]:
        """Create ``input_blocks``; return the channel count of every skip it leaves behind."""
        mc = cfg.model_channels
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(conv3d(cfg.in_channels, mc, 3))])
        chans, ch, ds = [mc], mc, 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers: list[nn.Module] = [self._res(cfg, ch, mult * mc, emb_dim)]
                ch = mult * mc
                if self._has_attention(cfg, ds):
                    layers.append(AttentionBlock(ch, cfg.num_heads, cfg.norm_groups))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                if not cfg.conv_resample:
                    raise ValueError("conv_resample=False is not supported (the official model uses convs)")
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                chans.append(ch)
                ds *= 2
        return chans

    def _build_up(self, cfg: ModelConfig, emb_dim: int, chans: list[int]) -> None:
        """Create ``output_blocks``: num_res_blocks + 1 per level, each eating one skip."""
        mc, skips = cfg.model_channels, list(chans)
        ch, ds = chans[-1], 2 ** (len(cfg.channel_mult) - 1)
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                layers: list[nn.Module] = [self._res(cfg, ch + skips.pop(), mc * mult, emb_dim)]
                ch = mc * mult
                if self._has_attention(cfg, ds):
                    layers.append(AttentionBlock(ch, cfg.num_heads, cfg.norm_groups))
                if level and i == cfg.num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

    def set_grad_checkpointing(self, enabled: bool = True) -> UNet3D:
        """Recompute every ResBlock and AttentionBlock in backward (activation checkpointing).

        Same outputs and gradients, less activation memory, ~1/3 more compute; the state dict is
        unchanged (a plain attribute per block). Returns the model.
        """
        for m in self.modules():
            if isinstance(m, (ResBlock, AttentionBlock)):
                m.grad_checkpoint = enabled
        return self

    def check_input(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Validate shapes; return t as a [B] tensor (a scalar t is broadcast to the batch)."""
        c = self.cfg.in_channels
        if x.ndim != 5:
            raise ValueError(f"model input must be [B, {c}, T, H, W] (5 dims), got shape {tuple(x.shape)}")
        if x.shape[1] != c:
            raise ValueError(f"model input has {x.shape[1]} channels, expected {c}: "
                             "layout is [B, C, T, H, W]")
        factor = 2 ** (len(self.cfg.channel_mult) - 1)
        if x.shape[3] % factor or x.shape[4] % factor:
            raise ValueError(f"H, W = {x.shape[3]}, {x.shape[4]} must be divisible by {factor} "
                             f"(configured for {self.cfg.image_size}x{self.cfg.image_size})")
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"timesteps must have shape [B] = [{x.shape[0]}], got {tuple(t.shape)}")
        return t

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x [B,C,T,H,W] float, t [B] model-scale timesteps -> [B,out_channels,T,H,W] in x's dtype."""
        t = self.check_input(x, t)
        dtype = self.out[2].weight.dtype
        emb = self.time_embed(timestep_embedding(t, self.cfg.model_channels).to(dtype))
        h = x.to(dtype)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h).to(x.dtype)


def build_model(cfg: ModelConfig | RamvidConfig) -> UNet3D:
    """Build the U-Net for a ``ModelConfig`` (a full ``RamvidConfig`` is accepted for convenience).

    Wrap in ``with torch.device("meta"):`` to inspect the architecture without allocating weights.
    """
    if isinstance(cfg, RamvidConfig):
        cfg = cfg.model
    return UNet3D(cfg)


def count_parameters(module: nn.Module) -> int:
    """Exact number of parameters (works on meta-device modules)."""
    return sum(p.numel() for p in module.parameters())
