"""FLOPs of one network evaluation, counted by PyTorch's own FLOP counter on the meta device.

Nothing is allocated: the U-Net is built and run on ``meta`` tensors, so the count for the 235M
``bair`` preset takes a few seconds and no memory.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ramvid.config import ModelConfig


def forward_flops(config: ModelConfig, frames: int, batch: int = 1) -> int:
    """FLOPs (2 per multiply-add) of one forward pass on ``batch`` videos of ``frames`` frames."""
    from ramvid.model.unet import build_model

    with torch.device("meta"):
        model = build_model(config)
        x = torch.zeros(batch, config.in_channels, frames, config.image_size, config.image_size)
        t = torch.zeros(batch)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, t)
    return int(counter.get_total_flops())
