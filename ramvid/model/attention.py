"""Joint space-time self-attention over all T*H*W positions (no positional encoding).

The qkv projection uses improved-diffusion's LEGACY channel order (``QKVAttentionLegacy``):
the 3C qkv channels are split into heads first, then each head's 3*ch block into q, k, v.
Official checkpoints depend on this order, so it must not be "simplified".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ramvid.model.layers import checkpointed, normalization, zero_module


def legacy_qkv_attention(qkv: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Multi-head attention in legacy order: qkv [B, 3*C, L] -> [B, C, L].

    Reshape to [B, heads, 3*ch, L], split into q, k, v of [B, heads, ch, L]; softmax(q^T k / sqrt(ch)) v.
    """
    b, width, length = qkv.shape
    if width % (3 * num_heads):
        raise ValueError(f"qkv width {width} is not divisible by 3 * num_heads ({3 * num_heads})")
    ch = width // (3 * num_heads)
    per_head = qkv.reshape(b, num_heads, 3 * ch, length).transpose(2, 3).contiguous()
    q, k, v = per_head.split(ch, dim=3)
    # [B, heads, L, ch] with unit stride in ch: what SDPA's fused (flash) kernels need, CPU too. Its
    # default scale 1/sqrt(ch) equals the official sqrt(1/sqrt(ch)) applied to both q and k.
    # Under bf16/fp16 autocast q, k, v arrive in bf16/fp16, yet the softmax runs in float32 as in the
    # official code (softmax(w.float())): SDPA's flash and memory-efficient kernels (CUDA, CPU) keep
    # the logits, softmax and accumulators in float32, and its math fallback upcasts to float32
    # unless torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp(True) was set (we never set it).
    # tests/test_model.py pins the bf16 error against a float64 reference.
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(2, 3).reshape(b, num_heads * ch, length)


class AttentionBlock(nn.Module):
    """Residual self-attention block: [B,C,T,H,W] -> [B,C,T,H,W]; ``proj_out`` starts at zero.

    ``grad_checkpoint`` (a plain attribute, not in the state dict) recomputes it in backward.
    """

    grad_checkpoint = False

    def __init__(self, channels: int, num_heads: int = 4, norm_groups: int = 32) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"attention channels {channels} not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.norm = normalization(channels, norm_groups)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return checkpointed(self, self._forward, x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(flat))
        h = legacy_qkv_attention(qkv, self.num_heads)
        return (flat + self.proj_out(h)).reshape(b, c, *spatial)
