"""Exponential moving average of a model's weights (improved-diffusion's ``update_ema``)."""
from __future__ import annotations

import torch
from torch import nn


class Ema:
    """EMA copy of ``model.state_dict()``: floating tensors are averaged, others copied.

    Kept as a state dict keyed exactly like the model, so a checkpoint's EMA loads straight
    into a fresh model (``load_state_dict_checked(model, ema.state_dict())``).
    """

    def __init__(self, model: nn.Module, rate: float) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ema_rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """shadow <- rate * shadow + (1 - rate) * current (same formula as the official code)."""
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if s.is_floating_point():
                s.mul_(self.rate).add_(v.detach(), alpha=1.0 - self.rate)
            else:
                s.copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore a saved shadow; keys and shapes must match the model's state dict exactly."""
        if set(state) != set(self.shadow):
            missing = sorted(set(self.shadow) - set(state))
            extra = sorted(set(state) - set(self.shadow))
            raise ValueError(f"EMA state does not match the model (missing {missing[:1]}, "
                             f"unexpected {extra[:1]}); was the checkpoint made with another config?")
        for k, v in state.items():
            if v.shape != self.shadow[k].shape:
                raise ValueError(f"EMA tensor {k}: checkpoint shape {list(v.shape)} != model "
                                 f"{list(self.shadow[k].shape)}")
            self.shadow[k].copy_(v)
