"""Peak memory of one training step at micro-batch 1, 2, 4, with and without activation checkpointing.

Usage: python benchmarks/perf/memory.py [--configs tiny] [--micro-batches 1,2,4] [--device cpu|cuda]
       [--precision fp32|bf16] [--cpu-measure profiler|rss]

Each setting runs in a fresh subprocess (so one setting's peak never hides another's): it builds
the model, AdamW and its state and the inputs, then runs one full training step
(``train_throughput.synthetic_step``: forward, masked loss, backward, clip, AdamW) and reports the
step's peak above what was held before it (weights, AdamW state, inputs).
CUDA: ``torch.cuda.max_memory_allocated`` after a warm-up step (exact, tensors only).
CPU, ``--cpu-measure profiler`` (default): torch's CPU profiler with ``profile_memory=True`` and its
memory timeline (every tensor allocation and free, by category): exact tensor bytes, and the most
bytes the profiler classed as activations at any moment (what checkpointing removes).
``--cpu-measure rss``: the process's peak resident set (``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
a high-water mark, so the measured step is the process's first) minus before it: includes oneDNN's
first-use buffers and allocator slack. (tracemalloc does not see torch's allocations.)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import make_config, synthetic_step  # noqa: E402 - a script beside this one


def profiled_peak(step: Callable[[], object]) -> dict[str, int]:
    """Run ``step`` under torch's CPU memory profiler: bytes held before, at the peak, most activations."""
    from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, Category

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True,
                                record_shapes=True, with_stack=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # its suggested successor is CUDA-only
        prof.export_memory_timeline(f"{d}/timeline.json", device="cpu")
        _, sizes = json.loads(Path(d, "timeline.json").read_text())
    totals = [sum(s) for s in sizes]
    peak = max(range(len(totals)), key=totals.__getitem__)
    column = _CATEGORY_TO_INDEX[Category.ACTIVATION] + 1
    return {"before": totals[0], "peak": totals[peak], "activations": max(s[column] for s in sizes)}


def child(args: argparse.Namespace) -> None:
    """One setting in this (fresh) process: print {"before": bytes, "peak": bytes, ...} as JSON."""
    dev = torch.device(args.device)
    cfg, frames = make_config(args.configs, args)
    step = synthetic_step(cfg, frames, args.micro_batch, dev, args.precision, args.grad_checkpoint)
    if dev.type == "cuda":
        step()  # a first step: kernel workspaces (the peak counter is reset below)
        torch.cuda.synchronize(dev)
        before = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        step()
        peak = torch.cuda.max_memory_allocated(dev)
    elif args.cpu_measure == "profiler":
        print(json.dumps(profiled_peak(step)))
        return
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak": peak}))


def run_setting(args: argparse.Namespace, name: str, micro: int, ckpt: bool) -> dict[str, int]:
    cmd = [sys.executable, __file__, "--child", "--configs", name, "--micro-batches", str(micro),
           "--device", args.device, "--precision", args.precision, "--cpu-measure", args.cpu_measure,
           "--paper-channels", str(args.paper_channels), "--paper-frames", str(args.paper_frames),
           "--paper-size", str(args.paper_size)] + (["--grad-checkpoint"] if ckpt else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name} micro-batch {micro}: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="tiny", help="tiny, paper-small (comma-separated)")
    p.add_argument("--micro-batches", default="1,2,4")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--paper-channels", type=int, default=32)
    p.add_argument("--paper-frames", type=int, default=8)
    p.add_argument("--paper-size", type=int, default=32)
    p.add_argument("--cpu-measure", choices=["profiler", "rss"], default="profiler")
    p.add_argument("--grad-checkpoint", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.micro_batch = int(args.micro_batches)
        child(args)
        return
    how = {"profiler": "torch's CPU memory profiler (tensor bytes)",
           "rss": "ru_maxrss (CPU RSS)"}[args.cpu_measure]
    how = "torch.cuda.max_memory_allocated" if args.device.startswith("cuda") else how
    print(f"torch {torch.__version__}, {args.device}, {args.precision}, peak by {how}, one subprocess "
          f"per setting, load average {os.getloadavg()}")
    head = ["config", "micro-batch", "held MB", "step MB", "step MB ckpt", "ckpt / plain", "activations MB",
            "activations MB ckpt"]
    rows = []
    for name in args.configs.split(","):
        for micro in (int(m) for m in args.micro_batches.split(",")):
            plain, ckpt = (run_setting(args, name, micro, c) for c in (False, True))
            extra = [r["peak"] - r["before"] for r in (plain, ckpt)]
            acts = [f"{r['activations'] / 2**20:.0f}" if "activations" in r else "-" for r in (plain, ckpt)]
            rows.append([name, str(micro), f"{plain['before'] / 2**20:.0f}", f"{extra[0] / 2**20:.0f}",
                         f"{extra[1] / 2**20:.0f}", f"{extra[1] / max(extra[0], 1):.2f}", *acts])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print("held: memory before the measured step (weights, AdamW state, inputs; RSS: the whole process); "
          "step: its peak above that; activations: the most held at once (profiler only)")


if __name__ == "__main__":
    main()
