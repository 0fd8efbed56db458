"""What a run will cost before it is spent: network evaluations and FLOPs (``run --dry-run``)."""
from __future__ import annotations

from typing import Any

Protocol = Any  # a benchmarks.registry.Protocol


def nfe_per_sample(p: Protocol, full_steps: int) -> int:
    """Network evaluations per sampled video, as ``SamplerSettings.network_evaluations`` counts them:
    the sampler's calls on the respaced chain (Heun: 2 per step), x resample, x2 with guidance and
    known frames. Protocols written before ``guidance``/``eta`` existed hold their defaults."""
    from ramvid.sampling import SamplerSettings

    settings = SamplerSettings(sampler=p.sampler, steps=p.sampler_steps, resample=p.resample,
                               guidance=getattr(p, "guidance", 0.0), eta=getattr(p, "eta", 0.0))
    return settings.network_evaluations(full_steps, conditional=bool(p.cond))


def workload(p: Protocol, *, ckpt: str | None, preset: str | None) -> dict[str, Any]:
    """Videos x samples x network evaluations, and FLOPs per evaluation and in total when the
    network's config can be read (a checkpoint that carries it, or ``--preset``)."""
    samples = p.num_videos * p.samples_per_video * p.repeats
    out: dict[str, Any] = {"videos": p.num_videos, "samples_per_video": p.samples_per_video,
                           "repeats": p.repeats, "samples": samples}
    if ckpt is None:
        return {**out, "network_evaluations": 0, "note": "a baseline runs no network"}
    config, why = _config(ckpt, preset)
    if config is None:
        return {**out, "note": f"network cost unknown: {why}"}
    from ramvid.model.flops import forward_flops

    nfe = nfe_per_sample(p, config.diffusion.steps)
    flops = forward_flops(config.model, p.frames)
    return {**out, "nfe_per_sample": nfe, "network_evaluations": nfe * samples,
            "flops_per_evaluation": flops, "total_flops": flops * nfe * samples,
            "total_flops_readable": readable(flops * nfe * samples)}


def readable(flops: float) -> str:
    """1.9e13 -> '19.1 TFLOP'."""
    for unit, scale in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops:.3g} FLOP"


def _config(ckpt: str, preset: str | None) -> tuple[Any, str]:
    from ramvid.config import RamvidConfig, get_preset

    if preset is not None:
        return get_preset(preset), ""
    try:
        import torch

        obj = torch.load(ckpt, map_location="meta", weights_only=True, mmap=True)
    except Exception as e:  # noqa: BLE001 - a dry run reports, it does not fail
        return None, f"{ckpt} unreadable ({type(e).__name__}); pass --preset"
    if isinstance(obj, dict) and isinstance(obj.get("config"), dict):
        return RamvidConfig.from_dict(obj["config"]), ""
    return None, f"{ckpt} carries no config; pass --preset"
