"""Core commands: ``train`` and ``sample``, each a thin layer over one spec and one library function."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from benchmarks.cli import one_line_errors
from benchmarks.cli.launch import NPROC, relaunch
from benchmarks.cli.specs import spec_from_cli, spec_options
from ramvid.sample_job import SampleSpec
from ramvid.specs import to_dict
from ramvid.training import TrainSpec

_DRY_RUN = click.option("--dry-run", is_flag=True, help="Print the resolved spec as JSON, then exit.")


@click.command("sample")
@spec_options(SampleSpec)
@_DRY_RUN
@one_line_errors
def sample(dry_run: bool, **kw: Any) -> None:
    """Sample videos given known frames (prediction, infilling, unconditional).

    \b
    Examples:
      ramvid-bench sample --ckpt runs/tiny/ckpt-2000.pt --cond 0,1,2,3 --num 8 --steps 100 \\
          --out samples.npz --gif grid.gif
      ramvid-bench sample --ckpt ema_0.9999_250000.pt --preset bair --cond 0 --frames 16 \\
          --input test.npz --steps 250 --out bair.npz
      ramvid-bench sample --ckpt ckpt.pt --cond "" --num 16 --out uncond.npz
    """
    from ramvid.sample_job import sample_job

    spec = spec_from_cli(SampleSpec, kw)
    if dry_run:
        click.echo(json.dumps(to_dict(spec), indent=1))
        return
    videos, cond = sample_job(spec)
    click.echo(f"wrote {len(videos)} videos {list(videos.shape[1:])} (known frames {list(cond)}) "
               f"to {Path(spec.out)}" + (f" and {spec.gif}" if spec.gif else ""))


@click.command("train")
@spec_options(TrainSpec)
@_DRY_RUN
@NPROC
@one_line_errors
def train(dry_run: bool, nproc: int | None, **kw: Any) -> None:
    """Train a RaMViD model with random masks (resumable, bit-exact on CPU).

    --batch-size is the global batch: with G processes (--nproc G, or torchrun) each trains
    batch/G examples per step, in micro-batches of --micro-batch; a run may resume with another G.

    \b
    Examples:
      ramvid-bench train --preset tiny --data shapes --steps 2000 --out runs/tiny
      ramvid-bench train --preset tiny --data shapes --steps 4000 --out runs/tiny --resume
      ramvid-bench train --preset bair --data hdf5 --data-path bair.h5 --steps 250000 \\
          --micro-batch 2 --save-every 5000 --out runs/bair --device cuda
      ramvid-bench train --preset bair --data hdf5 --data-path bair.h5 --steps 250000 \\
          --nproc 8 --precision bf16 --out runs/bair        # 8 GPUs of one machine
    """
    from ramvid.distributed import env_world
    from ramvid.training import train_job

    spec = spec_from_cli(TrainSpec, kw)
    if dry_run:
        from ramvid.config import get_preset

        click.echo(json.dumps({"spec": to_dict(spec), "preset": get_preset(spec.preset).to_dict()}, indent=1))
        return
    if nproc is not None:
        from ramvid.training import check_global_batch, planned_batch_size

        check_global_batch(planned_batch_size(spec), nproc)  # before starting any process
        relaunch(nproc)
    result = train_job(spec)
    if not env_world().main:  # rank 0 reports
        return
    loss = "" if result.last_loss is None else f", last loss {result.last_loss:.4f}"
    click.echo(f"trained to step {result.step}{loss}; newest checkpoint {result.checkpoint}")
