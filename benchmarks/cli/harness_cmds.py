"""Harness commands: ``protocols``, ``run``, ``table``, ``check``, ``demo`` (thin layers over benchmarks/)."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from benchmarks.cli import fail, one_line_errors
from benchmarks.cli.launch import NPROC, relaunch
from benchmarks.cli.specs import spec_from_cli, spec_options
from benchmarks.runner import RunSpec

# --format values shared by the commands that print tables: the word -> tabulate's style
FORMATS = {"text": "simple", "markdown": "github", "csv": "csv"}


@click.command("protocols")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="text", show_default=True,
              help="Output: text (aligned columns), markdown or csv.")
@click.option("--protocols", "protocols_file", default=None,
              help="A TOML file of your own protocols: validated, listed with the built-in ones "
                   "(format: benchmarks/protocol_files.py).")
@one_line_errors
def protocols(fmt: str, protocols_file: str | None) -> None:
    """List the registered protocols (newest version of each) and where each is declared.

    \b
    Example:  ramvid-bench protocols --format markdown
              ramvid-bench protocols --protocols lab.toml
    """
    from tabulate import tabulate

    from benchmarks.protocol_files import registry_with

    registry = registry_with(protocols_file)
    head = ["name", "v", "data/split", "res", "T", "cond", "metric frames", "metric", "N×S×R",
            "sampler", "table", "source"]
    rows = [[p.name, p.version, f"{p.dataset}/{p.split}", p.resolution, p.frames,
             ",".join(map(str, p.cond)) or "-", f"{p.metric_frames} ({len(p.metric_indices)})",
             p.metric + ("".join(f" {k}={v}" for k, v in p.metric_options)),
             f"{p.num_videos}×{p.samples_per_video}×{p.repeats}", f"{p.sampler} {p.sampler_steps}",
             p.table or "-", registry.source(p)]
            for p in registry]
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([head, *rows])
        return
    click.echo(tabulate(rows, head, tablefmt=FORMATS[fmt]))


@click.command("run")
@spec_options(RunSpec)
@click.option("--dry-run", is_flag=True, help="Print the resolved protocol, settings and workload (network "
              "evaluations, FLOPs), then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@NPROC
@one_line_errors
def run(dry_run: bool, as_json: bool, nproc: int | None, **kw: Any) -> None:
    """Evaluate a checkpoint or a baseline on PROTOCOL and append one row to the results CSV.

    \b
    Examples:
      ramvid-bench run shapes-prediction --baseline copy-last
      ramvid-bench run shapes-prediction --ckpt benchmarks/assets/checkpoints/showcase-tiny-shapes.pt
      ramvid-bench run shapes-prediction --ckpt m.pt --seeds 0,1,2   # mean ± std over sample seeds
      ramvid-bench run bair-prediction --ckpt ema.pt --preset bair --data-path bair.h5 --dry-run
      ramvid-bench run shapes-prediction --ckpt m.pt --nproc 2        # 2 processes, one number
      ramvid-bench run bair-prediction --ckpt ema.pt --preset bair --shard 3/8   # array job 3 of 8
    """
    from benchmarks.runner import describe, run_seeds

    spec = spec_from_cli(RunSpec, kw)
    if dry_run:
        click.echo(json.dumps(describe(spec), indent=1))
        return
    if nproc is not None:
        relaunch(nproc)
    results = []
    for res in run_seeds(spec):
        if res is None:  # not rank 0: rank 0 reports
            continue
        results.append(res)
        if not (as_json and spec.seeds):  # --json --seeds: one object at the end
            _report(res, spec, as_json)
    if len(results) > 1 or (results and as_json and spec.seeds):
        _report_seeds(results, as_json)
    errors = [res.row_error for res in results if res.row_error]
    if errors:  # the numbers above are right; only their record is missing
        fail(errors[0])


def _report(res: Any, spec: RunSpec, as_json: bool) -> None:
    """One run's value (with its interval and fvd_inf when measured) or what a --shard run left."""
    from benchmarks.results import uncertainty_text

    p = res.protocol
    if res.value is None and not res.missing:
        click.echo(f"{p.key}: every sample is in {res.work_dir}; another process is scoring it now.")
    elif res.value is None:
        click.echo(f"{p.key}: this share is done; {res.missing} samples of other shares are still missing "
                   f"in {res.work_dir}. The run that completes the folder scores it (or --merge).")
    elif as_json:
        click.echo(json.dumps(_json(res), default=str))
    else:
        std = f" ± {res.std:.2f}" if res.std is not None else ""
        click.echo(f"{p.key} {res.row['method']}: {p.metric.upper()} {res.value:.2f}{std} "
                   f"(n={p.num_videos}×{p.samples_per_video}, seed {p.seed}, {res.row['wall_s']}s)")
        if uncertainty_text(res.row):
            click.echo(f"  {uncertainty_text(res.row)}")
        recorded = f"; row appended to {spec.results}" if spec.results and not res.row_error else ""
        click.echo(f"samples: {res.work_dir}{recorded}")


def _json(res: Any) -> dict[str, Any]:
    """The row (provenance, interval) plus per-repeat values; the interval's details as an object."""
    row = {k: v for k, v in res.row.items() if k != "value"}
    if isinstance(row.get("uncertainty"), str):
        row["uncertainty"] = json.loads(row["uncertainty"])
    return {res.protocol.metric: res.value, "std": res.std, "per_repeat": res.per_repeat, **row,
            "work_dir": str(res.work_dir)}


def _report_seeds(results: list, as_json: bool) -> None:
    """Mean ± std over the seeds' values (rows stay one per seed; the table groups them the same way)."""
    from benchmarks.results import mean_std

    done = [r for r in results if r.value is not None]
    if not done:
        return
    p, seeds = done[0].protocol, [r.protocol.seed for r in done]
    mean, std = mean_std([r.value for r in done])
    if as_json:
        click.echo(json.dumps({"seeds": seeds, "mean": mean, "std": std, "runs": [_json(r) for r in done]},
                              default=str))
        return
    click.echo(f"{p.key} {done[0].row['method']} over seeds {','.join(map(str, seeds))}: {p.metric.upper()} "
               f"{mean:.2f}" + (f" ± {std:.2f}" if std is not None else "")
               + f" (mean ± std over {len(done)} seeds; "
               f"n={p.num_videos}×{p.samples_per_video} each; per seed "
               f"{', '.join(f'{r.value:.2f}' for r in done)})")


@click.command("table")
@click.option("--table", "table_id", type=click.Choice(["1", "2", "3", "4", "5", "embedded"]),
              help="One table (default: all).")
@click.option("--protocol", help="Only rows of this protocol.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv"]), default="markdown",
              show_default=True, help="Output: markdown tables or csv.")
@click.option("--runs", default=None, help="Our results CSV (default: results/runs.csv here if it exists, "
              "else the project's record shipped with the package).")
@click.option("--paper", default=None, help="Reported numbers (default: the package's paper.csv).")
@one_line_errors
def table(table_id: str | None, protocol: str | None, fmt: str, runs: str | None, paper: str | None) -> None:
    """Render the paper's tables, reported | reproduced, plus the embedded-data tables.

    \b
    Examples:
      ramvid-bench table --table 1
      ramvid-bench table --table embedded --format csv
    """
    from benchmarks.assets import default_runs_csv, paper_csv
    from benchmarks.tables import render

    if protocol is not None:
        from benchmarks.protocols import get_protocol

        get_protocol(protocol)  # unknown names get suggestions
    click.echo(render(paper or paper_csv(), runs or default_runs_csv(), table=table_id, protocol=protocol,
                      fmt=fmt), nl=False)


@click.command("check")
@click.option("--tolerance", type=float, help="Absolute tolerance for every row (default: each row's own).")
@click.option("--ci", "ci_path", default=None, help="Reference rows (default: the package's ci.csv).")
@click.option("--only", help="Only rows whose name contains one of these (comma-separated).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available).")
@click.option("--update", is_flag=True, help="Store the recomputed values (after an intended change).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@one_line_errors
def check(tolerance: float | None, ci_path: str | None, only: str | None, device: str | None,
          update: bool, quiet: bool) -> None:
    """Recompute the CI reference rows (ci.csv); exit non-zero naming every row that drifted.

    \b
    Example:  ramvid-bench check --only copy-last,showcase
    """
    from benchmarks.check import check as run_check

    results = run_check(ci_path, tolerance=tolerance, only=only,
                        device=device, update=update, progress=not quiet, echo=click.echo)
    bad = [r.name for r in results if not r.ok]
    if bad and not update:
        fail(f"{len(bad)} of {len(results)} CI rows drifted: {', '.join(bad)}")
    click.echo(f"all {len(results)} CI rows within tolerance" if not bad else "ci.csv updated")


@click.command("demo")
@click.option("--out", default="demo-out", show_default=True, help="Folder for runs.csv and the GIF.")
@click.option("--num-videos", type=click.IntRange(min=1), default=16, show_default=True,
              help="Test videos per run (the protocol's N is 32).")
@click.option("--sampler-steps", type=click.IntRange(min=1), default=None,
              help="Sampler steps (default: the protocol's).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@one_line_errors
def demo(out: str, num_videos: int, sampler_steps: int | None, device: str | None, quiet: bool) -> None:
    """Evaluate the stored showcase model and copy-last on shapes-prediction; print the table; write a GIF.

    \b
    Example:  ramvid-bench demo --out demo-out
    """
    from benchmarks.demo import demo as run_demo

    run_demo(out, num_videos=num_videos, sampler_steps=sampler_steps, device=device,
             progress=not quiet, echo=click.echo)
