"""TF1's legacy ``resize_bilinear`` (align_corners=False, half_pixel_centers=False) in PyTorch.

The FVD reference resizes every frame with this rule: output index d reads source coordinate
``d * in / out``; floor and ceil (clamped to in-1) are blended linearly. It is not the half-pixel
rule of ``torch.nn.functional.interpolate`` (see metrics/README.md for the size of the difference).
The rule is separable, so it is two small interpolation matrices: a matmul per axis is the fastest
exact way to apply it on CPU and GPU.
"""
from __future__ import annotations

import functools

import torch

RESIZE_RULE = "tf1-legacy-bilinear(align_corners=False,half_pixel_centers=False)"


@functools.lru_cache(maxsize=32)
def _matrix_cpu(n_in: int, n_out: int) -> torch.Tensor:
    """float32 [n_out, n_in]: row d holds the two TF1 legacy weights for output index d."""
    # TF computes the scale and source coordinate in float32: scale = in / out, src = d * scale.
    scale = torch.tensor(float(n_in), dtype=torch.float32) / torch.tensor(float(n_out), dtype=torch.float32)
    src = torch.arange(n_out, dtype=torch.float32) * scale
    lo = src.floor().long()
    hi = torch.clamp(lo + 1, max=n_in - 1)
    frac = src - lo.float()
    m = torch.zeros(n_out, n_in, dtype=torch.float32)
    rows = torch.arange(n_out)
    m.index_put_((rows, lo), 1.0 - frac, accumulate=True)
    m.index_put_((rows, hi), frac, accumulate=True)
    return m


def interp_matrix(n_in: int, n_out: int, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The [n_out, n_in] TF1-legacy bilinear interpolation matrix for one axis."""
    return _matrix_cpu(int(n_in), int(n_out)).to(device=device, dtype=dtype)


def resize_bilinear_tf1(x: torch.Tensor, size: tuple[int, int] = (224, 224)) -> torch.Tensor:
    """Resize float [N, H, W, C] to [N, size[0], size[1], C] exactly like TF1 ``resize_bilinear``.

    Values keep their scale (0..255 in, 0..255 out); float32 accumulation.
    """
    if x.ndim != 4:
        raise ValueError(f"resize_bilinear_tf1: expected [N, H, W, C], got {list(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    n, h, w, c = x.shape
    ry = interp_matrix(h, size[0], x.device, x.dtype)   # [H', H]
    rx = interp_matrix(w, size[1], x.device, x.dtype)   # [W', W]
    # Rows first: [H', H] @ [N, H, W*C] -> [N, H', W*C]; then columns on [N*H', W, C].
    y = torch.matmul(ry, x.reshape(n, h, w * c)).reshape(n * size[0], w, c)
    y = torch.matmul(rx, y)                              # [N*H', W', C]
    return y.reshape(n, size[0], size[1], c)
