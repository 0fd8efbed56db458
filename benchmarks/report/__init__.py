"""``ramvid-bench report``: one static HTML page to look at runs and compare them.

For each run work dir: the protocol card, the value with its uncertainty, a sample grid (real vs
generated, known frames marked) and the provenance of its results row. Across runs: the results
tables, the metric against NFE and against training step, and training loss curves. The page is
one self-contained file (images are data URIs): it opens from disk, mails, and archives as is.

Templating is Jinja2 (already installed with torch) for its autoescaping: checkpoint paths, method
names and CSV cells reach the page as text, never as HTML.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path

from benchmarks.report.across import Plot, nfe_plots, results_tables, step_plots
from benchmarks.report.runs import find_run_dirs, read_manifest, run_section

__all__ = ["build_report", "training_log"]


def training_log(path: str | os.PathLike) -> Path:
    """A training run folder (its ``log.jsonl``) or a log file itself; one line naming it otherwise."""
    path = Path(path)
    log = path / "log.jsonl" if path.is_dir() else path
    if not log.is_file():
        raise FileNotFoundError(f"--train-dir {path}: no log.jsonl there; give a training run folder "
                                "(ramvid-bench train --out DIR) or its log.jsonl")
    return log


def build_report(run_dirs: Sequence[str | os.PathLike] = (), *, results: str | os.PathLike | None = None,
                 train_dirs: Sequence[str | os.PathLike] = (), out: str | os.PathLike = "report",
                 videos: int = 4, title: str | None = None, paper: str | os.PathLike | None = None) -> Path:
    """Write ``out``/index.html and return its path.

    ``run_dirs``: run work dirs (or folders of them); ``results``: the runs CSV their rows are in
    (with run dirs, the tables and plots keep to those runs' protocols; without, they show every
    row); ``train_dirs``: training run folders (or log.jsonl files) whose loss curves to draw.
    """
    import jinja2

    from benchmarks.assets import paper_csv
    from benchmarks.report.figures import loss_uri
    from benchmarks.report.template import PAGE
    from benchmarks.results import read_runs
    from ramvid.utils import atomic_path, git_hash
    from ramvid.video import GENERATED_COLOUR, KNOWN_COLOUR, REAL_COLOUR, SCORED_COLOUR

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it will hold index.html)")
    dirs = find_run_dirs(list(run_dirs))
    logs = [training_log(d) for d in train_dirs]  # fail on a bad path before any drawing
    rows = read_runs(results) if results is not None else []
    if not (dirs or rows or logs):
        raise ValueError("nothing to report: give run work dirs, --results with rows, or --train-dir")
    runs = [run_section(d, rows, videos) for d in dirs]
    protocols = {read_manifest(d)["protocol"]["name"] for d in dirs}
    scope = [r for r in rows if not protocols or r["protocol"] in protocols]
    metrics = {r["metric"] for r in scope} | {read_manifest(d)["protocol"]["metric"] for d in dirs}
    losses = [Plot(f"{name} ({log})", loss_uri(log, name))
              for log, name in zip(logs, _log_titles(logs), strict=True)]
    page = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(PAGE).render(
        title=title or _title(runs, scope), written=_now(), git=git_hash(), results=results,
        runs=runs, tables=results_tables(scope, paper or paper_csv()) if scope else [],
        nfe_plots=nfe_plots(scope), step_plots=step_plots(scope), losses=losses,
        metric_name=metrics.pop().upper() if len(metrics) == 1 else "Metric",
        colours={"known": KNOWN_COLOUR, "generated": GENERATED_COLOUR, "real": REAL_COLOUR,
                 "scored": SCORED_COLOUR})
    index = out / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return index


def _log_titles(logs: list[Path]) -> list[str]:
    """A run folder's name (or the log file's, when that is all there is), and the last step."""
    from ramvid.plots import read_log

    out = []
    for log in logs:
        name = log.parent.name if log.name == "log.jsonl" else log.stem
        out.append(f"{name}: training loss to step {int(read_log(log)['step'][-1])}")
    return out


def _title(runs: list, rows: list[dict[str, str]]) -> str:
    names = sorted({r.title.split(":")[0] for r in runs} or {f"{r['protocol']}@{r['version']}" for r in rows})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"ramvid-bench report: {shown}" if shown else "ramvid-bench report: training"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
