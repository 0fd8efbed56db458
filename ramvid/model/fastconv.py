"""``nn.Conv3d`` with a faster weight gradient on CPU; same parameters, same results.

oneDNN's Conv3d weight gradient on CPU runs at a few GFLOP/s, 3-4x slower than the forward pass,
and dominates training time on small machines. For our kernels (time kernel 1 or 3, time stride 1)
it equals a Conv2d weight gradient over frames, with the kt time-shifted copies of the input
stacked on the channel axis, which oneDNN computes several times faster. Forward and input gradient
keep the stock Conv3d kernels. GPUs and autocast take the stock path unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.grad import conv2d_weight, conv3d_input


def conv3d_weight_via_2d(x: torch.Tensor, grad_out: torch.Tensor, weight_shape: torch.Size,
                         stride: tuple[int, int], padding: tuple[int, int, int]) -> torch.Tensor:
    """Weight gradient of a time-stride-1 conv3d: x [B,I,T,H,W], grad_out [B,O,T,H',W'] -> [O,I,kt,kh,kw]."""
    b, c_in, t = x.shape[:3]
    c_out, _, kt, kh, kw = weight_shape
    if kt > 1:
        xp = F.pad(x, (0, 0, 0, 0, padding[0], padding[0]))
        x = torch.cat([xp[:, :, j:j + t] for j in range(kt)], dim=1)  # [B, kt*I, T, H, W]
    x2 = x.transpose(1, 2).reshape(b * t, kt * c_in, *x.shape[3:])
    g2 = grad_out.transpose(1, 2).reshape(b * t, c_out, *grad_out.shape[3:])
    gw = conv2d_weight(x2, (c_out, kt * c_in, kh, kw), g2, stride=stride, padding=padding[1:])
    return gw.reshape(c_out, kt, c_in, kh, kw).transpose(1, 2)


class _Conv3dFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv3d(x, weight, bias, stride, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = conv3d_input(x.shape, weight, grad_out, ctx.stride, ctx.padding)
        if ctx.needs_input_grad[1]:
            gw = conv3d_weight_via_2d(x, grad_out, weight.shape, ctx.stride[1:], ctx.padding)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad_out.sum(dim=(0, 2, 3, 4))
        return gx, gw, gb, None, None


class Conv3d(nn.Conv3d):
    """Drop-in ``nn.Conv3d`` (same state dict) whose CPU float32 training backward is faster."""

    def _fast_ok(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dtype == torch.float32 and torch.is_grad_enabled()
                and self.weight.requires_grad and not torch.is_autocast_enabled("cpu")
                and self.stride[0] == 1 and self.groups == 1 and self.dilation == (1, 1, 1)
                and self.padding_mode == "zeros" and isinstance(self.padding, tuple)
                and self.kernel_size[0] == 2 * self.padding[0] + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._fast_ok(x):
            return super().forward(x)
        return _Conv3dFn.apply(x, self.weight, self.bias, self.stride, self.padding)
