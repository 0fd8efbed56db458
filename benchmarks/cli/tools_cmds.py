"""Developer tools: ``probe`` (does a checkpoint use its known frames?) and ``showcase`` (store a model)."""
from __future__ import annotations

import click

from benchmarks.cli import one_line_errors


@click.command("probe")
@click.argument("ckpt", type=click.Path(dir_okay=False))
@click.option("--cond", default="0,1,2,3", show_default=True, help="Known frame indices, comma separated.")
@click.option("--num", type=click.IntRange(min=1), default=8, show_default=True, help="Test clips.")
@click.option("--data", default=None, help="Dataset (default: the checkpoint's).")
@click.option("--data-path", default=None, help="Dataset location, for datasets read from disk.")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise of clip i from (seed, 7, i).")
@one_line_errors
def probe(ckpt: str, cond: str, num: int, data: str | None, data_path: str | None, seed: int) -> None:
    """x0 error of CKPT by noise level against copy-last and the per-clip mean (benchmarks/probe.py).

    \b
    Example:  ramvid-bench probe benchmarks/assets/checkpoints/showcase-tiny-shapes.pt --cond 0,1,2,3
    """
    from benchmarks.probe import format_rows, probe_checkpoint
    from ramvid.masking import parse_cond_indices

    header, rows = probe_checkpoint(ckpt, parse_cond_indices(cond), num=num, data=data,
                                    data_path=data_path, seed=seed)
    click.echo(header)
    for line in format_rows(rows):
        click.echo(line)


@click.command("showcase")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@one_line_errors
def showcase(run_dir: str, dst: str) -> None:
    """Store RUN_DIR's newest checkpoint as a slim EMA-only model at DST, with TRAINING.md and the loss log.

    \b
    Example:  ramvid-bench showcase runs/showcase benchmarks/assets/checkpoints/showcase-tiny-shapes.pt
    """
    from benchmarks.showcase import store_showcase

    click.echo(store_showcase(run_dir, dst))
