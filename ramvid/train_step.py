"""One optimizer step of RaMViD training: on one process or G under DDP, in float32 or bf16 autocast.

Global batch B: rank r of G trains the examples i of the step with i mod G == r (each drawn from
its own generator (seed, step, i), ``ramvid.batches``), cut into micro-batches. Gradients
accumulate over a rank's micro-batches under ``no_sync()`` and are averaged across ranks by
DistributedDataParallel on the last one. A micro-batch's mean loss is divided by (B/G) / its size,
so every example weighs 1/B after DDP's average: the step's gradient is the one-process gradient
of the same B examples (up to float rounding). One process keeps the exact old arithmetic
(``loss / n_micro``), so G=1 runs are bit-identical to runs without distributed support.

Precision: "fp32" (TF32 matmuls/convolutions allowed on CUDA) or "bf16" (``torch.autocast`` in
bfloat16 around the network's forward; GroupNorm and the attention softmax compute in float32, the
loss in float32 on the network output cast to float).
"""
from __future__ import annotations

import contextlib
import math
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ramvid import diffusion, masking
from ramvid.batches import Batches, micro_batches
from ramvid.config import RamvidConfig
from ramvid.distributed import World, sum_float
from ramvid.ema import Ema
from ramvid.utils import seed_for
from ramvid.video import to_model

PRECISIONS = ("fp32", "bf16")
DROPOUT_KEY = 2**31 - 2  # per-step key for the global RNG (dropout) inside forward passes


class TrainingDiverged(RuntimeError):
    """Loss or gradient norm became NaN/inf; no checkpoint was written for that step."""

    user_error = True  # the CLI prints it as one line


@dataclass
class TrainState:
    model: torch.nn.Module  # the network itself: its state dict is what checkpoints hold
    opt: torch.optim.Optimizer
    ema: Ema
    step: int
    net: Callable[..., torch.Tensor] | None = None  # what runs forward: model, DDP(model), compiled
    ddp: Any = None  # the DistributedDataParallel wrapper when G > 1 (its no_sync())


def check_global_batch(batch_size: int, world_size: int) -> None:
    """Refuse a global batch that the ``world_size`` processes cannot share equally (one line)."""
    if batch_size % world_size:
        lo = batch_size // world_size * world_size
        sizes = " or ".join(str(n) for n in (lo, lo + world_size) if n > 0)
        raise ValueError(f"--batch-size {batch_size} is the global batch, shared by {world_size} "
                         f"processes, so it must be a multiple of {world_size}: use {sizes}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The forward pass's autocast for ``precision`` (a no-op for fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"unknown precision {precision!r} (--precision); choose one of "
                         f"{', '.join(PRECISIONS)}")
    return contextlib.nullcontext()


@contextlib.contextmanager
def matmul_precision(device: torch.device, precision: str) -> Iterator[None]:
    """fp32 on CUDA: allow TF32 matmuls and convolutions while inside (restored after)."""
    if device.type != "cuda" or precision != "fp32":
        yield
        return
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


def check_compile(device: torch.device) -> None:
    """Refuse ``--compile`` where torch.compile cannot run (one line naming the missing piece)."""
    import torch._dynamo

    why = None
    if not torch._dynamo.is_dynamo_supported():
        why = "torch.compile does not support this Python or platform"
    elif device.type == "cuda":
        from torch.utils._triton import has_triton

        why = None if has_triton() else "compiling for CUDA needs triton (pip install triton)"
    elif device.type == "cpu":
        found = any(shutil.which(c) for c in ("g++", "c++", "clang++"))
        why = None if found else "compiling for CPU needs a C++ compiler (g++ or clang++) on PATH"
    else:
        why = f"torch.compile is not wired for device {device.type!r}"
    if why is not None:
        raise ValueError(f"--compile: {why}; drop --compile")


def prepare(state: TrainState, dev: torch.device, world: World, *, grad_checkpoint: bool = False,
            compile_model: bool = False) -> None:
    """Set ``state.net``: the model with activation checkpointing, DDP (G > 1) and torch.compile."""
    model = state.model
    if grad_checkpoint:
        model.set_grad_checkpointing(True)
    net: Any = model
    if world.active:
        from torch.nn.parallel import DistributedDataParallel

        # fastconv's CPU weight gradient of a 1x1x1 conv comes out transposed (not contiguous);
        # DDP copies it into its bucket (cheap) and would warn about it once per rank.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        net = state.ddp = DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if compile_model:
        check_compile(dev)
        net = torch.compile(net)
    state.net = net


def micro_batch_loss(model: Callable[..., torch.Tensor], schedule: diffusion.Schedule, x0: torch.Tensor,
                     mask: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                     prediction: str = "eps", precision: str = "fp32") -> torch.Tensor:
    """RaMViD loss: noise unknown frames only, keep known frames clean, MSE where noised.

    x0, noise float [B,3,T,H,W]; mask bool [B,T] (True = known); t int64 [B] step indices.
    The target is eps (the paper) or v (``prediction="v"``). The network runs under
    ``precision``'s autocast; the loss is always computed in float32.
    """
    x_t = masking.impose(diffusion.q_sample(schedule, x0, t, noise), x0, mask)
    with autocast(x0.device, precision):
        out = model(x_t, diffusion.model_timesteps(schedule, t))
    target = diffusion.training_target(schedule, x0, t, noise, prediction)
    return masking.masked_mse(out.float(), target, mask)


def train_step(state: TrainState, config: RamvidConfig, batches: Batches, schedule: diffusion.Schedule,
               seed: int, dev: torch.device, world: World | None = None,
               precision: str = "fp32") -> tuple[float, float]:
    """One optimizer step over the global batch; returns (loss of the global batch, grad norm).

    Every rank returns the same two numbers (the loss is summed across ranks, the gradients are
    DDP-averaged), so a NaN stops every rank at the same step.
    """
    tc, world = config.train, world or World()
    pieces = micro_batches(tc, world.rank, world.size)
    per_rank = tc.batch_size // world.size
    net = state.net if state.net is not None else state.model
    state.opt.zero_grad(set_to_none=True)
    total = torch.zeros((), device=dev)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    # Dropout (if any) is resumable; its draws depend on G and micro_batch, the examples never do.
    keys = (state.step, DROPOUT_KEY) + ((world.rank,) if world.rank else ())
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed_for(seed, *keys))
        for j, items in enumerate(pieces):
            clips, mask, t, noise = batches(state.step, items)
            last = j == len(pieces) - 1
            with contextlib.nullcontext() if last or state.ddp is None else state.ddp.no_sync():
                # per_rank / len(items) is exactly n_micro for equal micro-batches (G=1: as before)
                loss = micro_batch_loss(net, schedule, to_model(clips, dev), mask.to(dev), t.to(dev),
                                        noise.to(dev), config.diffusion.prediction,
                                        precision) / (per_rank / len(items))
                loss.backward()
            total += loss.detach()
    loss_value = sum_float(float(total), world) / world.size
    if not math.isfinite(loss_value):
        raise TrainingDiverged(f"step {state.step + 1}: loss is {loss_value}")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(state.model.parameters(), tc.grad_clip))
    if not math.isfinite(grad_norm):
        raise TrainingDiverged(f"step {state.step + 1}: gradient norm is {grad_norm}")
    state.opt.step()
    state.ema.update(state.model)
    state.step += 1
    return loss_value, grad_norm


def check_finite_weights(model: torch.nn.Module, step: int) -> None:
    """Raise TrainingDiverged naming the first non-finite weight (every rank checks: same weights)."""
    bad = next((k for k, v in model.state_dict().items()
                if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:  # never overwrite good checkpoints with broken weights
        raise TrainingDiverged(f"step {step}: weight {bad} is not finite")
