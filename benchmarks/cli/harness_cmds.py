"""Harness commands: ``protocols``, ``run``, ``table``, ``check``, ``demo`` (thin layers over benchmarks/)."""
from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click

from benchmarks.cli import fail


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Library errors (bad input, missing files) become one clear line and exit status 1."""
    try:
        yield
    except (ValueError, FileNotFoundError, KeyError) as e:
        fail(str(e).strip("'\""))


@click.command("protocols")
@click.option("--format", "fmt", type=click.Choice(["simple", "github", "csv"]), default="simple",
              show_default=True, help="tabulate style (github = Markdown), or csv.")
def protocols(fmt: str) -> None:
    """List the registered protocols (newest version of each).

    \b
    Example:  ramvid-bench protocols --format github
    """
    from tabulate import tabulate

    from benchmarks.registry import default_registry

    head = ["name", "v", "data/split", "res", "T", "cond", "metric frames", "metric", "N×S×R",
            "steps", "table"]
    rows = [[p.name, p.version, f"{p.dataset}/{p.split}", p.resolution, p.frames,
             ",".join(map(str, p.cond)) or "-", f"{p.metric_frames} ({len(p.metric_indices)})",
             p.metric + ("".join(f" {k}={v}" for k, v in p.metric_options)),
             f"{p.num_videos}×{p.samples_per_video}×{p.repeats}", p.sampler_steps, p.table or "-"]
            for p in default_registry()]
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([head, *rows])
        return
    click.echo(tabulate(rows, head, tablefmt=fmt))


@click.command("run")
@click.argument("protocol")
@click.option("--ckpt", help="Checkpoint to evaluate (self-describing, or bare with --preset).")
@click.option("--preset", help="Preset for a bare state dict (bair|kinetics|ucf|tiny).")
@click.option("--baseline", help="copy-last | interpolate | real (no checkpoint needed).")
@click.option("--data-path", help="Prepared dataset file/folder (embedded data needs none).")
@click.option("--num-videos", type=int, help="Override the protocol's number of test videos.")
@click.option("--samples-per-video", type=int, help="Override samples per test video.")
@click.option("--sampler-steps", type=int, help="Override the number of (respaced) sampler steps.")
@click.option("--sampler", type=click.Choice(["ddpm", "ddim"]),
              help="Override the protocol's sampler (recorded in the results row).")
@click.option("--seed", type=int, help="Override the protocol's sampling seed (video i draws from "
              "(seed, i)); the row records it. Report a model over a few seeds.")
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available).")
@click.option("--results", default="results/runs.csv", show_default=True, help="CSV to append the row to.")
@click.option("--out-dir", help="Work dir for sample shards (default runs/<protocol>-<hash>/; resumable).")
@click.option("--gif", help="Write a GIF grid of real (top) vs generated (bottom) clips here.")
@click.option("--dry-run", is_flag=True, help="Print the resolved protocol and settings, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run(protocol: str, ckpt: str | None, preset: str | None, baseline: str | None, data_path: str | None,
        num_videos: int | None, samples_per_video: int | None, sampler_steps: int | None,
        sampler: str | None, seed: int | None, batch_size: int, device: str | None, results: str,
        out_dir: str | None, gif: str | None, dry_run: bool, as_json: bool, quiet: bool) -> None:
    """Evaluate a checkpoint or a baseline on PROTOCOL and append one row to the results CSV.

    \b
    Examples:
      ramvid-bench run shapes-prediction --baseline copy-last
      ramvid-bench run shapes-prediction --ckpt results/checkpoints/showcase-tiny-shapes.pt --gif p.gif
      ramvid-bench run bair-prediction --ckpt ema.pt --preset bair --data-path bair.h5 --dry-run
    """
    from benchmarks.runner import RunSpec, describe
    from benchmarks.runner import run as run_protocol

    with one_line_errors():
        if (ckpt is None) == (baseline is None):
            raise ValueError("give exactly one of --ckpt CKPT or --baseline NAME")
        spec = RunSpec(protocol=protocol, ckpt=ckpt, preset=preset, baseline=baseline,
                       data_path=data_path, num_videos=num_videos, samples_per_video=samples_per_video,
                       sampler_steps=sampler_steps, sampler=sampler, batch_size=batch_size, device=device,
                       results=results, out_dir=out_dir, gif=gif, progress=not quiet,
                       overrides={} if seed is None else {"seed": seed})
        if dry_run:
            click.echo(json.dumps(describe(spec), indent=1))
            return
        res = run_protocol(spec)
    p = res.protocol
    if as_json:
        click.echo(json.dumps({p.metric: res.value, "std": res.std, "per_repeat": res.per_repeat,
                               **{k: v for k, v in res.row.items() if k != "value"},
                               "work_dir": str(res.work_dir)}, default=str))
        return
    std = f" ± {res.std:.2f}" if res.std is not None else ""
    click.echo(f"{p.key} {res.row['method']}: {p.metric.upper()} {res.value:.2f}{std} "
               f"(n={p.num_videos}×{p.samples_per_video}, {res.row['wall_s']}s)"
               + (f" -> {results}" if results else ""))


@click.command("table")
@click.option("--table", "table_id", type=click.Choice(["1", "2", "3", "4", "5", "embedded"]),
              help="One table (default: all).")
@click.option("--protocol", help="Only rows of this protocol.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv"]), default="markdown",
              show_default=True)
@click.option("--runs", default="results/runs.csv", show_default=True, help="Our results CSV.")
@click.option("--paper", default=None, help="Reported numbers (default: the repo's results/paper.csv).")
def table(table_id: str | None, protocol: str | None, fmt: str, runs: str, paper: str | None) -> None:
    """Render the paper's tables, reported | reproduced, plus the embedded-data tables.

    \b
    Examples:
      ramvid-bench table --table 1
      ramvid-bench table --table embedded --format csv
    """
    from benchmarks.demo import PAPER_CSV
    from benchmarks.tables import render

    with one_line_errors():
        if protocol is not None:
            from benchmarks.registry import get_protocol

            get_protocol(protocol)  # unknown names get suggestions
        click.echo(render(paper or PAPER_CSV, runs, table=table_id, protocol=protocol, fmt=fmt), nl=False)


@click.command("check")
@click.option("--tolerance", type=float, help="Absolute tolerance for every row (default: each row's own).")
@click.option("--ci", "ci_path", default=None, help="Reference rows (default: the repo's results/ci.csv).")
@click.option("--only", help="Only rows whose name contains one of these (comma-separated).")
@click.option("--device", default=None)
@click.option("--update", is_flag=True, help="Store the recomputed values (after an intended change).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def check(tolerance: float | None, ci_path: str | None, only: str | None, device: str | None,
          update: bool, quiet: bool) -> None:
    """Recompute results/ci.csv rows; exit non-zero naming every row that drifted.

    \b
    Example:  ramvid-bench check --only baseline
    """
    from benchmarks.check import check as run_check
    from benchmarks.demo import RESULTS_DIR

    with one_line_errors():
        results = run_check(ci_path or RESULTS_DIR / "ci.csv", tolerance=tolerance, only=only,
                            device=device, update=update, progress=not quiet, echo=click.echo)
    bad = [r.name for r in results if not r.ok]
    if bad and not update:
        fail(f"{len(bad)} of {len(results)} CI rows drifted: {', '.join(bad)}")
    click.echo(f"all {len(results)} CI rows within tolerance" if not bad else "ci.csv updated")


@click.command("demo")
@click.option("--out", default="demo-out", show_default=True, help="Folder for runs.csv and the GIF.")
@click.option("--num-videos", type=int, default=16, show_default=True)
@click.option("--sampler-steps", type=int, default=None, help="Default: the protocol's.")
@click.option("--device", default=None)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(out: str, num_videos: int, sampler_steps: int | None, device: str | None, quiet: bool) -> None:
    """Evaluate the stored showcase model and copy-last on shapes-prediction; print the table; write a GIF.

    \b
    Example:  ramvid-bench demo --out demo-out
    """
    from benchmarks.demo import demo as run_demo

    with one_line_errors():
        run_demo(out, num_videos=num_videos, sampler_steps=sampler_steps, device=device,
                 progress=not quiet, echo=click.echo)
