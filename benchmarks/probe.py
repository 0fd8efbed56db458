"""Denoising probe: does a checkpoint use the known frames, and at which noise levels?

For test clips with frames ``cond`` known, noise the other frames to step t (the training
distribution), ask the model for x0, and report the MSE of that prediction on the unknown frames
beside two yardsticks on the same frames: ``copy-last`` (what copying the nearest known frame gives)
and ``mean`` (predicting each clip's per-channel mean: what a model that ignores the video scores).
The best possible predictor sees everything ``copy-last`` sees, so it beats it at every t; a model
whose high-t error sits at or above ``mean`` has not learnt to carry the known frames over, and
the layout of its samples (decided at high t) owes little to them. Values are in model units
([-1, 1] pixels, squared).

    ramvid-bench probe benchmarks/assets/checkpoints/showcase-tiny-shapes.pt --cond 0,1,2,3
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from benchmarks.baselines import copy_last
from ramvid import diffusion, masking
from ramvid.config import RamvidConfig
from ramvid.utils import make_generator, randn_per_item
from ramvid.video import to_model

DEFAULT_TS = (10, 50, 100, 250, 500, 750, 999)
PROBE_KEY = 7  # generator key (seed, PROBE_KEY, video): apart from sampling's (seed, video)


@dataclass(frozen=True)
class ProbeRow:
    t: int
    x0_mse: float  # the model's x0 prediction vs the real unknown frames
    copy_last_mse: float  # the copy-last baseline on the same frames
    mean_mse: float  # each clip's per-channel mean on the same frames
    pred_std: float  # spread of the prediction: far below the data's when it is a blur


def probe(model: torch.nn.Module, config: RamvidConfig, clips: np.ndarray, cond: Sequence[int],
          ts: Sequence[int] = DEFAULT_TS, seed: int = 0,
          device: str | torch.device = "cpu") -> list[ProbeRow]:
    """One ``ProbeRow`` per step in ``ts`` for uint8 clips [N, T, H, W, 3] with ``cond`` known."""
    n, frames = clips.shape[:2]
    cond = masking.validate_cond_indices(cond, frames)
    if not cond:
        raise ValueError("the probe needs known frames (--cond); it measures how they are used")
    bad = [t for t in ts if not 0 <= t < config.diffusion.steps]
    if bad:
        raise ValueError(f"step {bad[0]} is outside 0..{config.diffusion.steps - 1}")
    schedule = diffusion.Schedule.linear(config.diffusion.steps)
    denoiser = diffusion.as_eps_denoiser(model.to(device).eval(), config.diffusion.prediction,
                                         config.diffusion.steps)
    x0 = to_model(clips, device)
    mask = masking.mask_from_indices(cond, frames, batch=n, device=device)
    noise = randn_per_item(x0.shape[1:], [make_generator(seed, PROBE_KEY, i) for i in range(n)], device)

    def mse(pred: torch.Tensor) -> float:  # every row has the same unknown frames: a plain mean
        return float(masking.masked_mse(pred, x0, mask))

    copy = mse(to_model(copy_last(clips, cond), device))
    mean = mse(x0.mean(dim=(2, 3, 4), keepdim=True).expand_as(x0))
    rows = []
    with torch.inference_mode():
        for t in ts:
            tt = torch.full((n,), int(t), device=device)
            x_t = masking.impose(diffusion.q_sample(schedule, x0, tt, noise), x0, mask)
            pred = diffusion.p_mean_variance(denoiser, schedule, x_t, tt).pred_x0
            spread = float(pred.transpose(1, 2)[~mask].std())
            rows.append(ProbeRow(int(t), mse(pred), copy, mean, spread))
    return rows


def probe_checkpoint(ckpt: str, cond: Sequence[int], *, num: int = 8, data: str | None = None,
                     data_path: str | None = None, seed: int = 0) -> tuple[str, list[ProbeRow]]:
    """Probe ``ckpt`` on ``num`` test clips of ``data`` (default: the checkpoint's); (header, rows)."""
    from ramvid.checkpoint import load_model
    from ramvid.data import open_dataset

    model, config, info = load_model(ckpt)
    data = data or (info.get("dataset") or {}).get("name") or "shapes"
    source = open_dataset(data, "test", frames=config.frames, resolution=config.resolution, path=data_path)
    clips = source.clips(list(range(min(num, len(source)))))
    rows = probe(model, config, clips, cond, seed=seed)
    header = (f"{ckpt} (step {info['step']}, {config.diffusion.prediction}-prediction), {len(clips)} "
              f"{data} test clips, known frames {','.join(map(str, cond))}")
    return header, rows


def format_rows(rows: Sequence[ProbeRow]) -> list[str]:
    """The probe table as text lines."""
    lines = [f"{'t':>5} {'x0 MSE':>8} {'copy-last':>10} {'mean':>8} {'pred std':>9}"]
    for r in rows:
        d = asdict(r)
        lines.append(f"{d['t']:>5} {d['x0_mse']:>8.4f} {d['copy_last_mse']:>10.4f} {d['mean_mse']:>8.4f} "
                     f"{d['pred_std']:>9.3f}")
    return lines
