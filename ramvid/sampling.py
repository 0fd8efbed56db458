"""Samplers: RaMViD's conditional ancestral DDPM, DDIM, and ``generate`` from uint8 to uint8 videos.

Noise is drawn per video from that video's own generator (``randn_per_item``), so video i gets the
same noise at any batch size and on any number of processes (what that guarantees for the output:
see ``generate``).
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ramvid import solvers
from ramvid.config import RamvidConfig
from ramvid.diffusion import (
    Denoiser,
    Schedule,
    as_eps_denoiser,
    check_spacing,
    denoise,
    eps_from_x0,
    extract,
    p_mean_variance,
    q_sample,
    space_timesteps,
    train_index,
)
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
    code's DDIM crashes; this one is tested). eps is re-derived from the clipped x0 prediction with
    improved-diffusion's float64 tables sqrt(1/abar) and sqrt(1/abar - 1).
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
        pred_x0 = denoise(denoiser, schedule, x, t)
        ab, ab_prev = extract(schedule.alphas_cumprod, t, x), extract(schedule.alphas_cumprod_prev, t, x)
        eps = eps_from_x0(schedule, x, t, pred_x0)  # float64 tables, as improved-diffusion
        sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).sqrt()
        x = pred_x0 * ab_prev.sqrt() + (1 - ab_prev - sigma**2).sqrt() * eps
        if i > 0 and eta > 0:
            x = x + sigma * randn_per_item(shape, generators, dev)
    return impose(x, x_known, cond_mask)


class Guided:
    """Classifier-free guidance (Ho & Salimans 2022) from RaMViD's mixed training, as an eps Denoiser.

    eps = eps_u + (1 + w) (eps_c - eps_u); both predictions come from one network call on 2B
    videos [conditional; unconditional]. The conditional input is x_t as the sampler passes it
    (known frames clean). The unconditional input is what a p_U training example looked like: the
    network has no mask input and learnt "unconditional" as every frame at the same noise level t.
    So the known positions hold sqrt(abar_t) x_known + sqrt(1 - abar_t) z, the known frames on the
    forward process, with z the sampler's own starting noise x_T at those positions (drawn from
    copies of the per-video generators): at t = T that input is the unguided sampler's own x_T,
    along the way it is in distribution at every t, and no draw is added (deterministic samplers
    stay deterministic; the sampler's noise stream is untouched). Pure noise there instead would be
    a noise level the network never saw at t < T. The unknown positions are the same in both
    branches, so eps_c - eps_u is what seeing the known frames clean adds.

    x_known, noise: [B, C, T, H, W]; cond_mask: bool [B, T]; ``train_schedule``: the unrespaced
    chain (model-scale t -> abar_t, as ``EpsFromV``).
    """

    def __init__(self, denoiser: Denoiser, guidance: float, train_schedule: Schedule,
                 x_known: torch.Tensor, cond_mask: torch.Tensor, noise: torch.Tensor) -> None:
        if train_schedule.steps != train_schedule.original_steps:
            raise ValueError("Guided needs the training chain, not a respaced schedule")
        self.denoiser, self.guidance, self.train = denoiser, float(guidance), train_schedule
        self.x_known, self.noise = x_known, noise
        self.frames = cond_mask[:, None, :, None, None].to(x_known.device)  # bool [B, 1, T, 1, 1]

    def __call__(self, x_t: torch.Tensor, t_model: torch.Tensor) -> torch.Tensor:
        idx = train_index(t_model, self.train.steps)
        noised = q_sample(self.train, self.x_known, idx, self.noise)
        x_u = torch.where(self.frames, noised, x_t)
        eps = self.denoiser(torch.cat([x_t, x_u]), torch.cat([t_model, t_model]))
        cond, uncond = eps.chunk(2)
        return uncond + (1.0 + self.guidance) * (cond - uncond)


def _copy(g: torch.Generator) -> torch.Generator:
    out = torch.Generator(device=g.device)
    out.set_state(g.get_state())
    return out


@dataclass(frozen=True)
class Sampler:
    """A sampler by name: the function, the options it reads, and its network calls per schedule.

    Every sampler also honours ``SamplerSettings.steps``/``respacing`` (the schedule it is given),
    ``guidance`` (its denoiser is wrapped) and ``seed`` (its generators).
    """

    name: str
    fn: Callable[..., torch.Tensor]  # fn(denoiser, schedule, x_known, cond_mask, generators, **opts)
    help: str
    eta: bool = False  # reads SamplerSettings.eta
    resample: bool = False  # reads SamplerSettings.resample
    calls: Callable[[int], int] = lambda steps: steps  # denoiser calls for a chain of ``steps`` steps

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
    Sampler("dpm++2m", solvers.dpmpp_2m, "DPM-Solver++(2M), 2nd-order multistep ODE solver, 1 call per step"),
    Sampler("heun", solvers.heun, "EDM's Heun, 2nd-order ODE solver, 2 calls per step (2S-2 in all)",
            calls=lambda steps: max(1, 2 * steps - 2)),
)}


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: which sampler, which respaced steps, its options, guidance, and the seed."""

    sampler: str = option("ddpm", "Sampler: " + "; ".join(f"{s.name}: {s.help}" for s in SAMPLERS.values()),
                          choices=tuple(SAMPLERS))
    steps: int | None = option(None, "Respaced sampling steps, evenly strided (default: the full diffusion "
                               "chain).", min=1)
    respacing: str | None = option(None, 'Steps in improved-diffusion\'s syntax instead of --steps: "ddim25" '
                                   '(stride 40 on 1000), "10,15,20" (steps per equal section), "25".',
                                   parse=lambda text: text.strip())
    eta: float = option(0.0, "DDIM noise scale (0 deterministic, 1 DDPM-like); ddim only.", min=0.0)
    resample: int = option(1, "RePaint-style resampling: denoiser calls per step; ddpm only.", min=1)
    guidance: float = option(0.0, "Classifier-free guidance W: eps_u + (1+W)(eps_c - eps_u), the "
                             "unconditional model from p_U training; 0 = off (2x network cost).", min=0.0)
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
        if self.respacing is not None:
            if self.steps is not None:
                raise ValueError(f"--steps {self.steps} and --respacing {self.respacing!r} both choose the "
                                 f"steps; give one (--steps N is --respacing N)")
            check_spacing(self.respacing)

    def schedule(self, diffusion_steps: int) -> Schedule:
        """The chain to sample on: the linear ``diffusion_steps`` chain, respaced as asked.

        ``steps`` >= the chain's length means the full chain (as the protocols' ``sampler_steps``).
        """
        full = Schedule.linear(diffusion_steps)
        if self.respacing is not None:
            return full.respace(self.respacing)
        return full if self.steps is None or self.steps >= full.steps else full.respace(self.steps)

    def chain_steps(self, diffusion_steps: int) -> int:
        """Steps of the chain ``schedule`` returns, without building it."""
        if self.respacing is not None:
            return len(space_timesteps(diffusion_steps, self.respacing))
        return diffusion_steps if self.steps is None else min(self.steps, diffusion_steps)

    def network_evaluations(self, diffusion_steps: int, conditional: bool = True) -> int:
        """Network forward passes per video (a guided call runs 2 per video when frames are known)."""
        calls = SAMPLERS[self.sampler].calls(self.chain_steps(diffusion_steps)) * self.resample
        return calls * (2 if self.guidance > 0 and conditional else 1)


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


def _floor_uint8(x: torch.Tensor) -> np.ndarray:
    """The official ``video_sample.py``: ((x + 1) * 127.5).clamp(0, 255) cast to uint8, which truncates."""
    y = ((x.detach().float() + 1) * 127.5).clamp(0, 255).to(torch.uint8)
    return y.permute(0, 2, 3, 4, 1).cpu().numpy()


# float [N, 3, T, H, W] in [-1, 1] -> uint8 [N, T, H, W, 3], by name (``generate(quantize=)``, a
# protocol field): ours rounds; the official script truncates (docs/paper-facts.md section 6).
QUANTIZE: dict[str, Callable[[torch.Tensor], np.ndarray]] = {"round": to_uint8, "floor": _floor_uint8}


def generate(model: torch.nn.Module, config: RamvidConfig, known_uint8: np.ndarray | None,
             cond_indices: Sequence[int], settings: SamplerSettings | None = None, *, n: int | None = None,
             keys: Sequence[Sequence[int]] | None = None, frames: int | None = None, batch_size: int = 8,
             device: torch.device | str | None = None, progress: bool = True, quantize: str = "round",
             **sampler: Any) -> np.ndarray:
    """Sample videos with the given frames known -> uint8 [N, T, H, W, 3].

    known_uint8: uint8 [N, T, H, W, 3], or None for unconditional sampling (then ``n`` is required
    and ``cond_indices`` must be empty). ``frames`` defaults to the input's T, else config.frames
    (the U-Net takes any T). ``settings`` (or its fields as keywords: ``sampler``, ``steps`` or
    ``respacing``, ``eta``, ``resample``, ``guidance``, ``seed``) say how to sample; ``steps=None``
    runs the full chain. ``guidance`` W > 0 with known frames wraps the denoiser in ``Guided`` (one
    network call on 2B videos per step); W = 0 is the plain sampler, bit for bit. Video i
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
    seed = settings.seed
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize {quantize!r}: choose one of {', '.join(QUANTIZE)}")
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
    schedule = settings.schedule(config.diffusion.steps)
    guided = settings.guidance > 0 and bool(cond)  # nothing known: both branches would be the same
    train_schedule = Schedule.linear(config.diffusion.steps) if guided else None  # once, for Guided
    if guided and config.mask.p_uncond == 0:
        warnings.warn(f"guidance {settings.guidance:g}: the checkpoint was trained with p_uncond = 0, so "
                      "there is no unconditional model to guide with; sample with guidance 0", stacklevel=2)
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
            net = denoiser
            if guided:  # z: the sampler's starting noise, drawn from copies of the generators
                z = randn_per_item(x_known.shape[1:], [_copy(g) for g in gens], dev, x_known.dtype)
                net = Guided(denoiser, settings.guidance, train_schedule, x_known, mask, z)
            x = SAMPLERS[settings.sampler].run(net, schedule, x_known, mask, gens, settings, progress)
            _check_finite(x, lo, n)
            out[lo:hi] = QUANTIZE[quantize](x)
            if known_uint8 is not None and cond:
                out[lo:hi, list(cond)] = known_uint8[lo:hi, list(cond)]
            bar.update(hi - lo)
    return out
