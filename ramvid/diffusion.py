"""Gaussian diffusion math: a float64 schedule and small stateless functions over it.

Follows improved-diffusion as RaMViD uses it: linear betas, eps prediction, fixed *large* variance,
timesteps shown to the network rescaled to [0, 1000) ("rescale_timesteps"). Named schedules may be
added, never changed. A network trained to output v instead of eps (``DiffusionConfig.prediction``)
is turned into an eps denoiser by ``as_eps_denoiser``, so every sampler works on eps alone.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

# eps = denoiser(x_t [B,C,T,H,W], t [B] float model-scale timesteps in [0, 1000))
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Schedule:
    """All per-step buffers of one (possibly respaced) diffusion chain, float64 [S].

    ``timestep_map[i]`` is the original step index of step ``i``; ``original_steps`` is the length
    of the chain the model was trained on (needed to rescale timesteps for the network).
    """

    betas: np.ndarray
    alphas_cumprod: np.ndarray
    alphas_cumprod_prev: np.ndarray
    posterior_variance: np.ndarray
    posterior_log_variance_clipped: np.ndarray
    posterior_mean_coef1: np.ndarray
    posterior_mean_coef2: np.ndarray
    model_log_variance: np.ndarray  # fixed large: log(betas), with posterior_variance[1] at step 0
    timestep_map: np.ndarray  # int64 [S]
    original_steps: int

    @property
    def steps(self) -> int:
        return len(self.betas)

    @classmethod
    def from_betas(cls, betas: np.ndarray, timestep_map: np.ndarray | None = None,
                   original_steps: int | None = None) -> Schedule:
        """Derive every buffer from ``betas`` (float64 [S], each in (0, 1])."""
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or len(betas) < 1 or (betas <= 0).any() or (betas > 1).any():
            raise ValueError("betas must be a non-empty 1-D array with values in (0, 1]")
        steps = len(betas)
        ac = np.cumprod(1.0 - betas)
        ac_prev = np.append(1.0, ac[:-1])
        post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
        # post_var[0] == 0: improved-diffusion substitutes post_var[1] before taking the log.
        first = post_var[1] if steps > 1 else betas[0]
        tmap = np.arange(steps) if timestep_map is None else np.asarray(timestep_map)
        return cls(
            betas=_frozen(betas),
            alphas_cumprod=_frozen(ac),
            alphas_cumprod_prev=_frozen(ac_prev),
            posterior_variance=_frozen(post_var),
            posterior_log_variance_clipped=_frozen(np.log(np.append(first, post_var[1:]))),
            posterior_mean_coef1=_frozen(betas * np.sqrt(ac_prev) / (1.0 - ac)),
            posterior_mean_coef2=_frozen((1.0 - ac_prev) * np.sqrt(1.0 - betas) / (1.0 - ac)),
            model_log_variance=_frozen(np.log(np.append(first, betas[1:]))),
            timestep_map=_frozen(tmap.astype(np.int64)),
            original_steps=int(steps if original_steps is None else original_steps),
        )

    @classmethod
    def linear(cls, steps: int = 1000) -> Schedule:
        """improved-diffusion's "linear": betas linspace(1e-4, 0.02) scaled by 1000 / steps."""
        if steps < 1:
            raise ValueError(f"diffusion steps must be >= 1, got {steps}")
        scale = 1000.0 / steps
        return cls.from_betas(np.linspace(scale * 1e-4, scale * 0.02, steps, dtype=np.float64))

    def respace(self, spacing: int | str | Sequence[int]) -> Schedule:
        """Keep the steps ``space_timesteps(self.steps, spacing)`` picks (an int: that many, evenly).

        Betas are recomputed from the kept ``alphas_cumprod`` so the marginals q(x_t | x_0) match.
        """
        return self.keep(space_timesteps(self.steps, spacing))

    def keep(self, indices: Sequence[int]) -> Schedule:
        """The chain through the given step indices of this one (improved-diffusion SpacedDiffusion)."""
        keep = sorted(set(int(i) for i in indices))
        if not keep or keep[0] < 0 or keep[-1] >= self.steps:
            raise ValueError(f"kept steps must be a non-empty subset of 0..{self.steps - 1}")
        ac = self.alphas_cumprod[keep]
        betas = 1.0 - ac / np.append(1.0, ac[:-1])
        return Schedule.from_betas(betas, self.timestep_map[keep], self.original_steps)


def _parse_sections(spacing: int | str | Sequence[int]) -> list[int] | int:
    """``spacing`` -> section counts, or the step count N of "ddimN" returned as a bare int."""
    if isinstance(spacing, str):
        text = spacing.strip()
        if text.startswith("ddim"):
            if not text[4:].isdigit():
                raise ValueError(f"cannot respace with {spacing!r}: write ddimN with a whole N, e.g. ddim25")
            return int(text[4:])
        try:
            return [int(x) for x in text.split(",")]
        except ValueError:
            raise ValueError(f"cannot respace with {spacing!r}: write a step count (25), section counts "
                             "(10,15,20) or ddimN (ddim25)") from None
    return [int(spacing)] if isinstance(spacing, (int, np.integer)) else [int(x) for x in spacing]


def check_spacing(spacing: int | str | Sequence[int]) -> None:
    """Syntax and sign check without a chain length (what a spec can check before any work)."""
    sections = _parse_sections(spacing)
    counts = [sections] if isinstance(sections, int) else sections
    if any(c < 0 for c in counts) or sum(counts) < 1:
        raise ValueError(f"cannot respace with {spacing!r}: counts must be >= 0 and keep at least one step")


def space_timesteps(num_timesteps: int, spacing: int | str | Sequence[int]) -> list[int]:
    """The kept step indices (sorted) of a ``num_timesteps`` chain, as improved-diffusion's respace.py.

    ``spacing``: an int N (N steps, evenly strided over the whole chain); section counts as a
    sequence or a string "10,15,20" (the chain is cut into that many equal parts, the first
    ``num_timesteps % sections`` one step longer, and section k keeps ``counts[k]`` steps: the
    section's first step, then a fractional stride (size - 1) / (count - 1) accumulated in floats and
    rounded with Python's round, so the last step of each section is kept); or "ddimN": the smallest
    integer stride k with len(range(0, num_timesteps, k)) == N, keeping 0, k, 2k, ... (DDIM's
    striding; the last step of the chain is usually not kept).
    """
    sections = _parse_sections(spacing)
    check_spacing(spacing)
    if isinstance(sections, int):
        for stride in range(1, num_timesteps):
            if len(range(0, num_timesteps, stride)) == sections:
                return list(range(0, num_timesteps, stride))
        raise ValueError(f"cannot respace a {num_timesteps}-step chain with {spacing!r}: no integer stride "
                         f"keeps exactly {sections} steps; pick another N or give a step count")
    size_per, extra = divmod(num_timesteps, len(sections))
    start, kept = 0, []
    for k, count in enumerate(sections):
        size = size_per + (1 if k < extra else 0)
        if size < count:
            raise ValueError(f"cannot respace a {num_timesteps}-step chain with {spacing!r}: section {k} has "
                             f"{size} steps, fewer than the {count} asked; ask for at most {size}")
        stride = (size - 1) / (count - 1) if count > 1 else 1.0
        cur = 0.0
        for _ in range(count):  # cumulative float sum, then round: the exact rounding of the original
            kept.append(start + round(cur))
            cur += stride
        start += size
    return sorted(set(kept))


def extract(arr: np.ndarray, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Gather float64 ``arr[t]`` and return it as ``like``'s dtype/device, shaped [B, 1, ..., 1].

    Indexing happens on the CPU in float64; only the gathered values are cast (MPS has no float64).
    """
    vals = torch.from_numpy(arr[t.detach().cpu().numpy()]).to(device=like.device, dtype=like.dtype)
    return vals.view(-1, *([1] * (like.ndim - 1)))


def model_timesteps(schedule: Schedule, t: torch.Tensor) -> torch.Tensor:
    """Step indices [B] -> what the network sees: original index * 1000 / original_steps, float."""
    orig = torch.from_numpy(schedule.timestep_map[t.detach().cpu().numpy()]).to(t.device)
    return orig.float() * (1000.0 / schedule.original_steps)


def train_index(t_model: torch.Tensor, steps: int) -> torch.Tensor:
    """``model_timesteps`` inverted: what the network sees -> index on the ``steps``-step training chain."""
    return torch.round(t_model.detach().double().cpu() * (steps / 1000.0)).long()


def q_sample(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; x0, noise [B, ...], t [B] step indices."""
    ac = schedule.alphas_cumprod
    return extract(np.sqrt(ac), t, x0) * x0 + extract(np.sqrt(1.0 - ac), t, x0) * noise


def predict_x0_from_eps(schedule: Schedule, x_t: torch.Tensor, t: torch.Tensor,
                        eps: torch.Tensor) -> torch.Tensor:
    """x0 = sqrt(1/abar_t) x_t - sqrt(1/abar_t - 1) eps."""
    ac = schedule.alphas_cumprod
    return extract(np.sqrt(1.0 / ac), t, x_t) * x_t - extract(np.sqrt(1.0 / ac - 1.0), t, x_t) * eps


def q_posterior_mean(schedule: Schedule, x0: torch.Tensor, x_t: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
    """Mean of q(x_{t-1} | x_t, x0) = coef1_t x0 + coef2_t x_t."""
    return (extract(schedule.posterior_mean_coef1, t, x_t) * x0
            + extract(schedule.posterior_mean_coef2, t, x_t) * x_t)


def denoise(denoiser: Denoiser, schedule: Schedule, x_t: torch.Tensor, t: torch.Tensor, *,
            clip: bool = True) -> torch.Tensor:
    """The x0 prediction [B, C, T, H, W] of an eps denoiser at step indices ``t`` [B] of ``schedule``.

    ``clip`` clamps it to [-1, 1] (improved-diffusion's clip_denoised, default on).
    """
    eps = denoiser(x_t, model_timesteps(schedule, t))
    if eps.shape != x_t.shape:
        raise ValueError(f"denoiser returned shape {list(eps.shape)}, expected {list(x_t.shape)}")
    pred_x0 = predict_x0_from_eps(schedule, x_t, t, eps)
    return pred_x0.clamp(-1.0, 1.0) if clip else pred_x0


def eps_from_x0(schedule: Schedule, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """eps = (sqrt(1/abar_t) x_t - x0) / sqrt(1/abar_t - 1), coefficients from the float64 tables."""
    ac = schedule.alphas_cumprod
    return (extract(np.sqrt(1.0 / ac), t, x_t) * x_t - x0) / extract(np.sqrt(1.0 / ac - 1.0), t, x_t)


class MeanVariance(NamedTuple):
    mean: torch.Tensor  # [B, C, T, H, W]
    log_variance: torch.Tensor  # [B, 1, 1, 1, 1]
    pred_x0: torch.Tensor  # [B, C, T, H, W]


def p_mean_variance(denoiser: Denoiser, schedule: Schedule, x_t: torch.Tensor, t: torch.Tensor,
                    *, clip: bool = True) -> MeanVariance:
    """Mean and (fixed large) log-variance of p(x_{t-1} | x_t) from an eps-predicting denoiser.

    ``t`` [B] are step indices of ``schedule``; the denoiser gets ``model_timesteps(schedule, t)``.
    ``clip`` clamps the x0 prediction to [-1, 1] (improved-diffusion's clip_denoised, default on).
    """
    pred_x0 = denoise(denoiser, schedule, x_t, t, clip=clip)
    mean = q_posterior_mean(schedule, pred_x0, x_t, t)
    return MeanVariance(mean, extract(schedule.model_log_variance, t, x_t), pred_x0)


def _eps_target(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return noise


def _v_target(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    ac = schedule.alphas_cumprod
    return extract(np.sqrt(ac), t, x0) * noise - extract(np.sqrt(1.0 - ac), t, x0) * x0


def training_target(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                    prediction: str) -> torch.Tensor:
    """What the network regresses: ``noise`` ("eps") or v = sqrt(abar) noise - sqrt(1-abar) x0 ("v")."""
    return get_prediction(prediction).target(schedule, x0, t, noise)


class EpsFromV:
    """Wrap a v-predicting network as an eps ``Denoiser``: eps = sqrt(1-abar) x_t + sqrt(abar) v.

    ``abar`` is looked up on the training chain ``schedule`` (the original, unrespaced one) from the
    model-scale timestep the sampler passes, so respaced samplers need nothing else.
    """

    def __init__(self, network: Denoiser, schedule: Schedule) -> None:
        if schedule.steps != schedule.original_steps:
            raise ValueError("EpsFromV needs the training chain, not a respaced schedule")
        self.network = network
        self.steps = schedule.steps
        self.sqrt_ac = np.sqrt(schedule.alphas_cumprod)
        self.sqrt_one_minus_ac = np.sqrt(1.0 - schedule.alphas_cumprod)

    def __call__(self, x_t: torch.Tensor, t_model: torch.Tensor) -> torch.Tensor:
        v = self.network(x_t, t_model)
        idx = train_index(t_model, self.steps)
        return extract(self.sqrt_one_minus_ac, idx, x_t) * x_t + extract(self.sqrt_ac, idx, x_t) * v


def as_eps_denoiser(network: Denoiser, prediction: str, steps: int) -> Denoiser:
    """The network itself for "eps"; an ``EpsFromV`` over the linear ``steps``-step chain for "v"."""
    return get_prediction(prediction).as_eps(network, steps)


@dataclass(frozen=True)
class Prediction:
    """What a network outputs: its training target and how samplers turn it into eps."""

    name: str
    help: str
    target: Callable[[Schedule, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    as_eps: Callable[[Denoiser, int], Denoiser]


# The one table of prediction types (DiffusionConfig.prediction, train --prediction).
PREDICTIONS: dict[str, Prediction] = {p.name: p for p in (
    Prediction("eps", "the paper's: the network predicts the noise", _eps_target, lambda net, steps: net),
    Prediction("v", "v = sqrt(abar) eps - sqrt(1-abar) x0; its x0 estimate stays bounded at high noise",
               _v_target, lambda net, steps: EpsFromV(net, Schedule.linear(steps))),
)}


def get_prediction(name: str) -> Prediction:
    try:
        return PREDICTIONS[name]
    except KeyError:
        raise ValueError(f"unknown prediction {name!r}; choose one of {', '.join(PREDICTIONS)}") from None
