"""``ramvid-bench report``: a static HTML page of runs, results tables, plots and training curves."""
from __future__ import annotations

import click

from benchmarks.cli import one_line_errors


@click.command("report")
@click.argument("run_dirs", nargs=-1, type=click.Path())
@click.option("--results", default=None, help="Results CSV with the runs' rows (default: results/runs.csv "
              "when it exists).")
@click.option("--train-dir", "train_dirs", multiple=True, help="A training run folder (its log.jsonl) or "
              "a log.jsonl file: draw its loss curve. Repeatable.")
@click.option("--out", default="report", show_default=True, help="Folder for index.html.")
@click.option("--videos", type=click.IntRange(min=1, max=16), default=4, show_default=True,
              help="Videos per run in the sample grids.")
@click.option("--title", default=None, help="Page title (default: the protocols shown).")
@one_line_errors
def report(run_dirs: tuple[str, ...], results: str | None, train_dirs: tuple[str, ...], out: str,
           videos: int, title: str | None) -> None:
    """Write OUT/index.html: for each RUN_DIR (a run work dir runs/<protocol>-<hash>/, or a folder of
    them) its protocol card, value with uncertainty, sample grid and provenance; across runs the results
    table and the metric against NFE and training step; loss curves of --train-dir. One self-contained
    file: open it from disk.

    \b
    Examples:
      ramvid-bench report runs/ --out report/
      ramvid-bench report runs/shapes-prediction-1a2b3c4d5e6f --results results/runs.csv
      ramvid-bench report --results results/runs.csv --train-dir runs/tiny --out report/
    """
    from pathlib import Path

    from benchmarks.report import build_report
    from benchmarks.results import DEFAULT_RESULTS

    if results is None and DEFAULT_RESULTS.is_file():
        results = str(DEFAULT_RESULTS)
    index = build_report(list(run_dirs), results=results, train_dirs=list(train_dirs), out=out,
                         videos=videos, title=title)
    click.echo(f"report: {Path(index).resolve()}")
