"""TGANv2's C3D (UCF-101 classifier) in PyTorch, loading Chainer's ``conv3d_deepnetA_ucf.npz`` directly.

Input contract: float [N, 3, 16, H, W] in [-1, 1] (RGB), any H, W. Preprocessing is TGANv2's, in its
order: RGB -> BGR and x128, bilinear resize of every frame to 112x112 with align-corners semantics
(Chainer's ``resize_images``), then add ``128 - mean`` (``mean2.npz['mean'][:, :, 8:120, 8:120]``, a
per-frame, per-pixel BGR mean). Network: eight 3x3x3 convolutions (pad 1, ReLU), max pools with
Chainer's ``cover_all=True`` (= PyTorch ``ceil_mode=True``: pool5 maps 7 -> 4), fc6/fc7 with ReLU,
fc8 -> 101 logits. Dropout is a no-op in evaluation, so it is left out.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_FRAMES = 16
SIZE = 112
N_CLASSES = 101
WEIGHTS_ENV = "RAMVID_C3D_WEIGHTS"
MEAN_ENV = "RAMVID_C3D_MEAN"
# (name, in channels, out channels); the pool after each name, if any, follows POOLS.
CONVS = (("conv1a", 3, 64), ("conv2a", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
         ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512))
POOLS = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2),
         "conv5b": (2, 2, 2)}
FCS = (("fc6", 512 * 1 * 4 * 4, 4096), ("fc7", 4096, 4096), ("fc8", 4096, N_CLASSES))
SOURCE_HINT = ("both files come from TGANv2's release page (GitHub pfnet-research/tgan2: "
               "conv3d_deepnetA_ucf.npz, the C3D weights, and mean2.npz, the C3D mean)")


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Chainer's npz key -> shape: Convolution3D W [out, in, 3, 3, 3], Linear W [out, in], b [out]."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, cin, cout in CONVS:
        shapes[f"{name}/W"] = (cout, cin, 3, 3, 3)
        shapes[f"{name}/b"] = (cout,)
    for name, fin, fout in FCS:
        shapes[f"{name}/W"] = (fout, fin)
        shapes[f"{name}/b"] = (fout,)
    return shapes


class C3D(nn.Module):
    """TGANv2's C3D. ``forward(x [N,3,16,H,W] in [-1,1]) -> logits [N,101]`` (fc8, pre-softmax)."""

    def __init__(self, mean_offset: torch.Tensor) -> None:
        super().__init__()
        if tuple(mean_offset.shape) != (3, N_FRAMES, SIZE, SIZE):
            raise ValueError(f"C3D mean offset must be [3, 16, 112, 112], got {list(mean_offset.shape)}")
        for name, cin, cout in CONVS:
            self.add_module(name, nn.Conv3d(cin, cout, 3, padding=1))
        for name, fin, fout in FCS:
            self.add_module(name, nn.Linear(fin, fout))
        # 128 - BGR mean, per frame and pixel; a buffer so .to(device) moves it.
        self.register_buffer("offset", mean_offset.float().clone())

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[N,3,16,H,W] RGB in [-1,1] -> [N,3,16,112,112] BGR, x128, resized, plus (128 - mean)."""
        check_input(x)
        n, c, t, h, w = x.shape
        x = x.flip(1) * 128.0
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)
        if (h, w) != (SIZE, SIZE):
            frames = F.interpolate(frames, size=(SIZE, SIZE), mode="bilinear", align_corners=True)
        x = frames.reshape(n, t, c, SIZE, SIZE).transpose(1, 2)
        return x + self.offset

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed [N,3,16,112,112] -> pool5 output flattened in Chainer's (C,T,H,W) order [N,8192]."""
        for name, _, _ in CONVS:
            x = F.relu(getattr(self, name)(x))
            if name in POOLS:
                # Chainer pads the end with -inf (cover_all=True): the same as ceil_mode.
                x = F.max_pool3d(x, POOLS[name], POOLS[name], ceil_mode=True)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.preprocess(x))
        h = F.relu(self.fc6(h))
        h = F.relu(self.fc7(h))
        return self.fc8(h)

    @torch.inference_mode()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities [N,101] (softmax of fc8, float32 as in TGANv2)."""
        return torch.softmax(self(x), dim=1)


def check_input(x: torch.Tensor) -> None:
    """Assert the C3D input contract: float [N,3,16,H,W] in [-1,1]."""
    if not torch.is_floating_point(x):
        raise ValueError(f"C3D input must be float in [-1, 1], got {x.dtype}; use to_c3d_input for uint8")
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"C3D input must be [N, 3, T, H, W], got {list(x.shape)}")
    if x.shape[2] != N_FRAMES:
        raise ValueError(f"C3D (TGANv2) needs exactly {N_FRAMES} frames, got {x.shape[2]}")


def to_c3d_input(videos: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [N,T,H,W,3] (disk layout) -> float32 [N,3,T,H,W] in [-1,1] as x/127.5 - 1."""
    x = torch.as_tensor(videos)
    if x.dtype != torch.uint8 or x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 videos [N, T, H, W, 3], got {x.dtype} {list(x.shape)}")
    return x.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def resolve_paths(weights: str | os.PathLike | None, mean: str | os.PathLike | None) -> tuple[Path, Path]:
    """Explicit paths, else the env vars; one clear error naming both files when either is missing."""
    w = weights or os.environ.get(WEIGHTS_ENV)
    m = mean or os.environ.get(MEAN_ENV)
    missing = []
    if not w or not Path(w).is_file():
        missing.append(f"C3D weights conv3d_deepnetA_ucf.npz ({w or 'not given'})")
    if not m or not Path(m).is_file():
        missing.append(f"C3D mean mean2.npz ({m or 'not given'})")
    if missing:
        raise FileNotFoundError(
            f"missing {' and '.join(missing)}: pass --c3d-weights PATH / --c3d-mean PATH or set "
            f"{WEIGHTS_ENV} / {MEAN_ENV}; {SOURCE_HINT}")
    return Path(w), Path(m)


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable numpy .npz file ({e}); {SOURCE_HINT}") from None


def read_chainer_weights(path: Path) -> dict[str, torch.Tensor]:
    """Chainer npz -> our state dict (Chainer W layouts are PyTorch's; keys may carry a prefix)."""
    arrays = _npz_arrays(path)
    prefix = next((k[: -len("conv1a/W")] for k in arrays if k.endswith("conv1a/W")), "")
    state = {}
    for key, shape in expected_shapes().items():
        arr = arrays.get(prefix + key)
        if arr is None:
            raise ValueError(f"{path}: key '{key}' missing (found {sorted(arrays)[:6]}...); "
                             f"expected Chainer's conv3d_deepnetA_ucf.npz; {SOURCE_HINT}")
        if tuple(arr.shape) != shape:
            raise ValueError(f"{path}: '{key}' has shape {list(arr.shape)}, expected {list(shape)}")
        name, kind = key.split("/")
        state[f"{name}.{'weight' if kind == 'W' else 'bias'}"] = torch.from_numpy(arr.astype(np.float32))
    return state


def read_mean_offset(path: Path) -> torch.Tensor:
    """``mean2.npz['mean']`` [3, 16, >=120, >=120] (BGR) -> 128 - mean[:, :, 8:120, 8:120]."""
    arrays = _npz_arrays(path)
    if "mean" not in arrays:
        raise ValueError(f"{path}: no 'mean' array (found {sorted(arrays)}); expected mean2.npz; "
                         f"{SOURCE_HINT}")
    mean = arrays["mean"]
    if mean.ndim != 4 or mean.shape[:2] != (3, N_FRAMES) or min(mean.shape[2:]) < 8 + SIZE:
        raise ValueError(f"{path}: 'mean' has shape {list(mean.shape)}, expected [3, 16, >=120, >=120] "
                         "(C3D's [3, 16, 128, 171])")
    crop = mean[:, :, 8:8 + SIZE, 8:8 + SIZE].astype(np.float32)
    return torch.from_numpy(128.0 - crop)


def load_c3d(weights: str | os.PathLike | None = None, mean: str | os.PathLike | None = None,
             device: torch.device | str = "cpu") -> C3D:
    """TGANv2's C3D in eval mode from ``conv3d_deepnetA_ucf.npz`` and ``mean2.npz`` (or the env vars)."""
    w_path, m_path = resolve_paths(weights, mean)
    offset = read_mean_offset(m_path)
    state = {**read_chainer_weights(w_path), "offset": offset}
    with torch.device("meta"):  # skip the random init of 60M parameters that the load replaces
        model = C3D(offset)
    model.load_state_dict(state, assign=True)
    return model.eval().requires_grad_(False).to(device)
