"""Training throughput: seconds per step and achieved FLOP/s of forward+backward, against a matmul peak.

Usage: python benchmarks/perf/train_throughput.py [--configs tiny,paper-small] [--micro-batch 1]
       [--precisions fp32,bf16] [--steps 3] [--device cpu|cuda] [--grad-checkpoint off|on|both]

Configs: ``tiny`` (the preset: 16 frames of 32x32, 32 channels) and ``paper-small``: the ``bair``
preset's network (channel_mult 1,2,3,4, 2 res blocks, attention at 16x16 and 8x8 of 64x64, i.e.
at 1/4 and 1/8 of the image) scaled down by ``--paper-channels`` / ``--paper-frames`` /
``--paper-size`` so a CPU can run it. One step = a micro-batch's forward, masked loss, backward,
gradient clip and AdamW update, on fixed random inputs (data drawing is ``train_batches.py``).
FLOPs of forward+backward are counted by ``torch.utils.flop_counter.FlopCounterMode`` on meta
tensors (the model's FLOPs: a grad-checkpoint recompute is not counted). The peak is the best rate
of a large matmul in the same process and the same precision (fp32; TF32 on CUDA fp32; bf16), so
"% of peak" is a ratio measured in one run. The machine's load average is printed: on a shared
CPU the numbers move with it.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ramvid import diffusion
from ramvid.config import ModelConfig, get_preset
from ramvid.model import build_model
from ramvid.train_step import matmul_precision, micro_batch_loss

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def paper_small(channels: int = 32, frames: int = 8, size: int = 32) -> tuple[ModelConfig, int]:
    """The bair preset's network with fewer channels, frames and pixels (attention at the same levels)."""
    cfg = get_preset("bair").model
    scale = cfg.image_size // size
    attention = tuple(r // scale for r in cfg.attention_resolutions)
    return dataclasses.replace(cfg, model_channels=channels, image_size=size,
                               attention_resolutions=attention), frames


def make_config(name: str, args: argparse.Namespace) -> tuple[ModelConfig, int]:
    """(network config, frames) of a named benchmark config."""
    if name == "tiny":
        preset = get_preset("tiny")
        return preset.model, preset.frames
    if name == "paper-small":
        return paper_small(args.paper_channels, args.paper_frames, args.paper_size)
    raise SystemExit(f"unknown config {name!r}; choose tiny or paper-small")


def train_flops(cfg: ModelConfig, frames: int, batch: int) -> int:
    """FLOPs of one forward+backward on ``batch`` clips, counted on meta tensors (nothing allocated)."""
    with torch.device("meta"):
        model = build_model(cfg)
        x = torch.zeros(batch, cfg.in_channels, frames, cfg.image_size, cfg.image_size)
        t = torch.zeros(batch)
    with FlopCounterMode(display=False) as counter:
        model(x, t).square().mean().backward()
    return int(counter.get_total_flops())


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def matmul_peak(dev: torch.device, precision: str, n: int, reps: int = 5) -> float:
    """Best FLOP/s of an n x n matmul in ``precision`` (fp32 on CUDA: TF32 allowed, as in training)."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(dev, DTYPES[precision]) for _ in range(2))
    best = float("inf")
    with matmul_precision(dev, precision):
        torch.mm(a, b)
        for _ in range(reps):
            sync(dev)
            t = time.perf_counter()
            torch.mm(a, b)
            sync(dev)
            best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def synthetic_step(cfg: ModelConfig, frames: int, batch: int, dev: torch.device, precision: str,
                   grad_checkpoint: bool = False):  # noqa: ANN201 - returns a closure
    """A function running one training step (forward, loss, backward, clip, AdamW) on fixed inputs.

    Returns ``step() -> (fwd+bwd seconds, whole-step seconds)``.
    """
    torch.manual_seed(0)
    model = build_model(cfg).to(dev).train()
    if grad_checkpoint:
        model.set_grad_checkpointing(True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for w in model.parameters():  # allocate AdamW's state now (a zero gradient leaves weights as they are)
        w.grad = torch.zeros_like(w)
    opt.step()
    schedule = diffusion.Schedule.linear(1000)
    g = torch.Generator().manual_seed(1)
    shape = (batch, cfg.in_channels, frames, cfg.image_size, cfg.image_size)
    x0, noise = (torch.randn(shape, generator=g).to(dev) for _ in range(2))
    t = torch.randint(1000, (batch,), generator=g).to(dev)
    mask = torch.zeros(batch, frames, dtype=torch.bool, device=dev)
    mask[:, : frames // 4] = True  # a quarter of the frames known

    def step() -> tuple[float, float]:
        sync(dev)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        micro_batch_loss(model, schedule, x0, mask, t, noise, "eps", precision).backward()
        sync(dev)
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync(dev)
        return t1 - t0, time.perf_counter() - t0

    return step


def measure(name: str, args: argparse.Namespace, dev: torch.device, precision: str, ckpt: bool,
            peaks: dict[str, float]) -> list[str]:
    cfg, frames = make_config(name, args)
    flops = train_flops(cfg, frames, args.micro_batch)
    step = synthetic_step(cfg, frames, args.micro_batch, dev, precision, ckpt)
    with matmul_precision(dev, precision):
        step()  # warm-up: allocations, oneDNN/cuDNN kernel choice, AdamW state
        times = [step() for _ in range(args.steps)]
    fb, whole = min(times, key=lambda t: t[1])  # the fastest whole step, and its forward+backward
    rate = flops / fb
    return [name, f"{frames}x{cfg.image_size}²", precision, "on" if ckpt else "off", f"{whole:.3f}",
            f"{fb:.3f}", f"{flops / 1e9:.1f}",
            f"{rate / 1e9:.1f}", f"{peaks[precision] / 1e9:.0f}", f"{100 * rate / peaks[precision]:.1f}%"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="tiny,paper-small")
    p.add_argument("--precisions", default=None, help="default: fp32 on CPU, fp32,bf16 on CUDA")
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=3, help="timed steps (best one is reported)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--grad-checkpoint", choices=["off", "on", "both"], default="off")
    p.add_argument("--paper-channels", type=int, default=32, help="bair: 128")
    p.add_argument("--paper-frames", type=int, default=8, help="bair: 20")
    p.add_argument("--paper-size", type=int, default=32, help="bair: 64")
    p.add_argument("--matmul-n", type=int, default=None, help="default: 2048 on CPU, 8192 on CUDA")
    args = p.parse_args()
    dev = torch.device(args.device)
    precisions = (args.precisions or ("fp32,bf16" if dev.type == "cuda" else "fp32")).split(",")
    n = args.matmul_n or (8192 if dev.type == "cuda" else 2048)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {dev} ({where}), load average {os.getloadavg()}")
    peaks = {pr: matmul_peak(dev, pr, n) for pr in precisions}
    print("matmul peak (" + ", ".join(f"{pr} {n}²: {v / 1e9:.0f} GFLOP/s" for pr, v in peaks.items()) + ")")
    head = ["config", "T x H²", "precision", "grad ckpt", "s/step", "fwd+bwd s", "GFLOP fwd+bwd", "GFLOP/s",
            "peak GFLOP/s", "of peak"]
    ckpts = {"off": [False], "on": [True], "both": [False, True]}[args.grad_checkpoint]
    rows = [measure(name, args, dev, pr, c, peaks) for name in args.configs.split(",") for pr in precisions
            for c in ckpts]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print(f"micro-batch {args.micro_batch}, best of {args.steps} steps (FLOPs exclude the grad-checkpoint "
          f"recompute); load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
