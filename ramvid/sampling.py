"""Samplers: RaMViD's conditional ancestral DDPM, DDIM, and ``generate`` from uint8 to uint8 videos.

Noise is drawn per video from that video's own generator (``randn_per_item``), so video i gets the
same noise at any batch size and on any number of processes (what that guarantees for the output:
see ``generate``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ramvid.config import RamvidConfig
from ramvid.diffusion import Denoiser, Schedule, as_eps_denoiser, extract, p_mean_variance
from ramvid.masking import impose, mask_from_indices, validate_cond_indices
from ramvid.specs import option, validate
from ramvid.utils import make_generator, randn_per_item, resolve_device
from ramvid.video import check_videos, to_model, to_uint8


def ddpm(denoiser: Denoiser, schedule: Schedule, x_known: torch.Tensor, cond_mask: torch.Tensor,
         generators: Sequence[torch.Generator], *, resample: int = 1,
         progress: bool = False) -> torch.Tensor:
    """Ancestral DDPM (Ho et al. 2020) with RaMViD's conditioning -> float [B, C, T, H, W].

    x_known [B,C,T,H,W]: clean frames, read only where cond_mask [B,T] is True. Before every step the
    known frames are set to these clean values (as the official code does), and the result carries
    them exactly. ``resample`` R > 1: after each step re-noise one step,
    x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z, and redo it; R denoiser calls per step, as the
    official code (RePaint-style, jump length 1).
    """
    if resample < 1:
        raise ValueError(f"resample must be >= 1, got {resample}")
    if len(generators) != x_known.shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {x_known.shape[0]}")
    shape, dev = x_known.shape[1:], x_known.device
    x = randn_per_item(shape, generators, dev, x_known.dtype)
    steps = range(schedule.steps - 1, -1, -1)
    for i in tqdm(steps, desc="ddpm", leave=False, disable=not progress):
        t = torch.full((x.shape[0],), i, dtype=torch.long, device=dev)
        for r in range(resample):
            x = impose(x, x_known, cond_mask)
            mean, log_var, _ = p_mean_variance(denoiser, schedule, x, t)
            x = mean if i == 0 else mean + (0.5 * log_var).exp() * randn_per_item(shape, generators, dev)
            if r < resample - 1:
                beta = float(schedule.betas[i])
                x = (1 - beta) ** 0.5 * x + beta ** 0.5 * randn_per_item(shape, generators, dev)
    return impose(x, x_known, cond_mask)


def ddim(denoiser: Denoiser, schedule: Schedule, x_known: torch.Tensor, cond_mask: torch.Tensor,
         generators: Sequence[torch.Generator], *, eta: float = 0.0, progress: bool = False) -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12) with RaMViD's conditioning -> float [B, C, T, H, W].

    Same contract as ``ddpm``; eta = 0 is deterministic given the starting noise, eta = 1 matches
    DDPM's posterior variance. Good samples in far fewer steps than ancestral DDPM (the official
    code's DDIM crashes; this one is tested). eps is re-derived from the clipped x0 prediction.
    """
    if len(generators) != x_known.shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {x_known.shape[0]}")
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    shape, dev = x_known.shape[1:], x_known.device
    x = randn_per_item(shape, generators, dev, x_known.dtype)
    for i in tqdm(range(schedule.steps - 1, -1, -1), desc="ddim", leave=False, disable=not progress):
        t = torch.full((x.shape[0],), i, dtype=torch.long, device=dev)
        x = impose(x, x_known, cond_mask)
        pred_x0 = p_mean_variance(denoiser, schedule, x, t).pred_x0
        ab, ab_prev = extract(schedule.alphas_cumprod, t, x), extract(schedule.alphas_cumprod_prev, t, x)
        eps = (x / ab.sqrt() - pred_x0) / (1 / ab - 1).sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).sqrt()
        x = pred_x0 * ab_prev.sqrt() + (1 - ab_prev - sigma**2).sqrt() * eps
        if i > 0 and eta > 0:
            x = x + sigma * randn_per_item(shape, generators, dev)
    return impose(x, x_known, cond_mask)


@dataclass(frozen=True)
class Sampler:
    """A sampler by name: the function and the options it reads."""

    name: str
    fn: Callable[..., torch.Tensor]  # fn(denoiser, schedule, x_known, cond_mask, generators, **opts)
    help: str
    eta: bool = False  # reads SamplerSettings.eta
    resample: bool = False  # reads SamplerSettings.resample

    def run(self, denoiser: Denoiser, schedule: Schedule, x_known: torch.Tensor, mask: torch.Tensor,
            gens: Sequence[torch.Generator], settings: SamplerSettings, progress: bool) -> torch.Tensor:
        opts: dict[str, Any] = {"progress": progress}
        if self.eta:
            opts["eta"] = settings.eta
        if self.resample:
            opts["resample"] = settings.resample
        return self.fn(denoiser, schedule, x_known, mask, gens, **opts)


# The one table of samplers: the CLI's --sampler choices, protocol validation and the docs read it.
SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("ddpm", ddpm, "the paper's ancestral sampler (RePaint-style --resample)", resample=True),
    Sampler("ddim", ddim, "DDIM, deterministic at --eta 0; good in few steps", eta=True),
)}


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: which sampler, how many respaced steps, its options, and the seed."""

    sampler: str = option("ddpm", "Sampler: " + "; ".join(f"{s.name}: {s.help}" for s in SAMPLERS.values()),
                          choices=tuple(SAMPLERS))
    steps: int | None = option(None, "Respaced sampling steps (default: the full diffusion chain).", min=1)
    eta: float = option(0.0, "DDIM noise scale (0 deterministic, 1 DDPM-like); ddim only.", min=0.0)
    resample: int = option(1, "RePaint-style resampling: denoiser calls per step; ddpm only.", min=1)
    seed: int = option(0, "Video i (sample s) draws from generator (seed, i[, s]).")

    def __post_init__(self) -> None:
        validate(self)
        chosen = SAMPLERS[self.sampler]
        if self.resample != 1 and not chosen.resample:
            raise ValueError(f"--resample applies to the ddpm sampler only, not {self.sampler}; "
                             "drop --resample or use --sampler ddpm")
        if self.eta != 0 and not chosen.eta:
            raise ValueError(f"--eta applies to the ddim sampler only, not {self.sampler}; "
                             "drop --eta or use --sampler ddim")


def _check_known(known: np.ndarray, frames: int, resolution: int) -> np.ndarray:
    _, t, h, w, _ = check_videos(known, "known videos").shape
    if t != frames:
        raise ValueError(f"known videos have {t} frames but {frames} were requested; pass videos of"
                         f" {frames} frames or set frames={t}")
    if (h, w) != (resolution, resolution):
        raise ValueError(f"known videos are {h}x{w} but the model generates {resolution}x{resolution};"
                         " resize the input or use a matching checkpoint")
    return known


def _check_finite(x: torch.Tensor, first: int, n: int) -> None:
    """NaN/inf would become black frames in ``to_uint8``: refuse, naming the first bad video."""
    bad = ~torch.isfinite(x).flatten(1).all(1)
    if bool(bad.any()):
        i = first + int(bad.nonzero()[0, 0])
        raise ValueError(f"video {i} (of {n}): the sampler output has NaN/inf values, so the model's outputs "
                         "are not finite; nothing was written (check the checkpoint)")


def generate(model: torch.nn.Module, config: RamvidConfig, known_uint8: np.ndarray | None,
             cond_indices: Sequence[int], settings: SamplerSettings | None = None, *, n: int | None = None,
             keys: Sequence[Sequence[int]] | None = None, frames: int | None = None, batch_size: int = 8,
             device: torch.device | str | None = None, progress: bool = True, **sampler: Any) -> np.ndarray:
    """Sample videos with the given frames known -> uint8 [N, T, H, W, 3].

    known_uint8: uint8 [N, T, H, W, 3], or None for unconditional sampling (then ``n`` is required
    and ``cond_indices`` must be empty). ``frames`` defaults to the input's T, else config.frames
    (the U-Net takes any T). ``settings`` (or its fields as keywords: ``sampler``, ``steps``,
    ``eta``, ``resample``, ``seed``) say how to sample; ``steps=None`` runs the full chain. Video i
    uses ``make_generator(seed, *keys[i])`` (default keys[i] = (i,)); its known frames are copied
    into the output bit-exactly. ``model`` (pass the EMA weights) is moved to ``device``. A NaN/inf
    in the sampler's output is refused (ValueError naming the video), never written as black frames.

    Batch size: every noise draw of video i is bit-identical at any ``batch_size`` and in any
    process, and at a fixed batch size (same device and threads) the output is bit-identical run to
    run. Across batch sizes the network's CPU kernels may round differently (another batch shape,
    another summation order), so a uint8 value sitting at a rounding boundary can move by 1/255.
    Measured on the showcase model (shapes test clips 0-5, cond 0-3, DDIM 10 steps, batch 1, 2, 3
    and 6): float outputs within 4.7e-5, uint8 within 1/255 on at most 1.9e-4 of the values.
    """
    settings = dataclasses.replace(settings or SamplerSettings(), **sampler)
    steps, seed = settings.steps, settings.seed
    cond = tuple(cond_indices)
    if known_uint8 is None:
        if n is None or n < 1:
            raise ValueError("unconditional sampling needs n >= 1 (number of videos)")
        if cond:
            raise ValueError(f"conditioning frames {list(cond)} given but no known videos; pass videos")
        frames = config.frames if frames is None else frames
    else:
        check_videos(known_uint8, "known videos")
        frames = known_uint8.shape[1] if frames is None else frames
        known_uint8 = _check_known(known_uint8, frames, config.resolution)
        if n is not None and n != len(known_uint8):
            raise ValueError(f"n={n} but {len(known_uint8)} known videos were given; pass n=None")
        n = len(known_uint8)
    cond = validate_cond_indices(cond, frames)
    keys = [(i,) for i in range(n)] if keys is None else [tuple(k) for k in keys]
    if len(keys) != n:
        raise ValueError(f"{len(keys)} generator keys for {n} videos; pass one key tuple per video")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dev = resolve_device(None if device is None else str(device))
    full = Schedule.linear(config.diffusion.steps)
    schedule = full if steps is None or steps >= full.steps else full.respace(steps)
    model = model.to(dev).eval()
    denoiser = as_eps_denoiser(model, config.diffusion.prediction, config.diffusion.steps)
    res = config.resolution
    out = np.empty((n, frames, res, res, 3), np.uint8)
    with torch.inference_mode(), tqdm(total=n, desc="sampling", unit="video", disable=not progress) as bar:
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            if known_uint8 is None:
                x_known = torch.zeros(hi - lo, 3, frames, res, res, device=dev)
            else:
                x_known = to_model(known_uint8[lo:hi], dev)
            mask = mask_from_indices(cond, frames, batch=hi - lo, device=dev)
            gens = [make_generator(seed, *keys[i]) for i in range(lo, hi)]
            x = SAMPLERS[settings.sampler].run(denoiser, schedule, x_known, mask, gens, settings, progress)
            _check_finite(x, lo, n)
            out[lo:hi] = to_uint8(x)
            if known_uint8 is not None and cond:
                out[lo:hi, list(cond)] = known_uint8[lo:hi, list(cond)]
            bar.update(hi - lo)
    return out
