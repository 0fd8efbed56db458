"""``--nproc G``: run the same command as G processes on this machine under torchrun.

The command is started again as ``python -m torch.distributed.run --standalone --nproc_per_node G
-m benchmarks <the same arguments without --nproc>``: PyTorch's own launcher, exactly what
``torchrun --standalone --nproc_per_node G -m benchmarks ...`` runs, so one-machine and
multi-node jobs take the same code path.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import click

NPROC = click.option("--nproc", type=click.IntRange(min=1), default=None,
                     help="Start G processes on this machine under torchrun (gloo on CPU, NCCL on CUDA); "
                          "same as `torchrun --standalone --nproc_per_node G -m benchmarks ...`.")


def strip_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N`` (what every rank is given)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def relaunch(nproc: int, argv: Sequence[str] | None = None) -> None:
    """Run this command again as ``nproc`` torchrun processes; exit with torchrun's status."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise click.UsageError("--nproc inside a torchrun job: drop --nproc (torchrun already started it)")
    args = strip_nproc(sys.argv[1:] if argv is None else argv)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "benchmarks", *args]
    raise SystemExit(subprocess.call(cmd))
