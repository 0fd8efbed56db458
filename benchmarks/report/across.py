"""Sections across runs: the results tables (as ``ramvid-bench table`` lays them out) and the plots of
a metric against NFE (one checkpoint, several sampler settings) and against training step (several
checkpoints of one training)."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from benchmarks.report.figures import series_plot

Row = dict[str, str]


@dataclass
class Table:
    title: str
    header: list[str]
    body: list[list[str]]


@dataclass
class Plot:
    title: str
    uri: str


def results_tables(rows: list[Row], paper_path: str | os.PathLike) -> list[Table]:
    """The paper tables (reported | reproduced) and embedded-data tables that hold these rows, built
    by ``benchmarks.tables`` from the same rows as ``ramvid-bench table``; rows of protocols outside
    the registry (a protocols file) get a plain table of their own."""
    from benchmarks.protocols import EMBEDDED_DATASETS, default_registry
    from benchmarks.results import read_rows
    from benchmarks.tables import embedded_rows, paper_rows

    known = {p.name: p for p in default_registry()}
    out: list[Table] = []
    ours = {known[r["protocol"]].table for r in rows if r["protocol"] in known}
    if ours - {""}:
        paper = read_rows(paper_path)
        for t in sorted(ours - {""}):
            out += _paper_tables(t, paper_rows(t, paper, rows))
    for dataset in EMBEDDED_DATASETS:
        header, body, _ = embedded_rows(dataset, rows)
        if body:
            out.append(Table(f"Embedded data: {dataset}", header, body))
    other = [r for r in rows if r["protocol"] not in known]
    if other:
        from benchmarks.tables import method_label

        out.append(Table("Other protocols", ["protocol", "method", "metric", "value", "N (videos×samples)"],
                         [[f"{r['protocol']}@{r['version']}", method_label(r), r["metric"].upper(),
                           f"{float(r['value']):.2f}" + (f" ± {float(r['std']):.2f}" if r.get("std") else ""),
                           f"{r['num_videos']}×{r['samples_per_video']}"] for r in other]))
    return out


def _paper_tables(table: str, lines: list[dict[str, Any]]) -> list[Table]:
    from benchmarks.tables import ARROW

    out = []
    for proto in dict.fromkeys(r["protocol"] for r in lines):
        sub = [r for r in lines if r["protocol"] == proto]
        value = f"{sub[0]['metric'].upper()} {ARROW[sub[0]['direction']]} reported"
        head = ["method", "params", "p_U", value, "reproduced", "N (videos×samples)"]
        body = [[r["method"], r["params"], r["p_uncond"], r["reported"], r["reproduced"], r["n"]]
                for r in sub]
        out.append(Table(f"Table {table}: {proto}", head, body))
    return out


def _group(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


def _workload(r: Row) -> tuple[str, ...]:
    return (r["protocol"], r["version"], r["metric"], r["num_videos"], r["samples_per_video"],
            r.get("repeats", "1"), r.get("seed", ""))


def _model_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.get("method") == "ramvid" and r.get("sampler_steps") not in ("", None)]


def _baselines(rows: list[Row], workload: tuple[str, ...]) -> dict[str, float]:
    """The newest value of each baseline on the same workload (dashed reference lines)."""
    from benchmarks.baselines import BASELINES

    return {f"{r['method']} (baseline)": float(r["value"]) for r in rows
            if r.get("method") in BASELINES and _workload(r) == workload}


def nfe(r: Row) -> int:
    """Network evaluations per sample of a model row: its ``nfe`` cell, else steps (x resample for DDPM)."""
    if r.get("nfe"):
        return int(float(r["nfe"]))
    resample = int(r.get("resample") or 1)
    return int(r["sampler_steps"]) * (resample if r.get("sampler") == "ddpm" else 1)


def _n_text(r: Row) -> str:
    return f"n={r['num_videos']}×{r['samples_per_video']}"


def nfe_plots(rows: list[Row]) -> list[Plot]:
    """Metric against NFE for every checkpoint and workload run with two or more sampler settings."""
    from benchmarks.tables import method_label

    out = []
    for key, group in _group(_model_rows(rows), lambda r: (*_workload(r), r.get("ckpt_sha256"))).items():
        latest = {(r.get("sampler"), r.get("resample"), r["sampler_steps"]): r for r in group}
        if len(latest) < 2:
            continue
        series: dict[str, list[tuple[float, Row]]] = {}
        for (sampler, resample, _), r in latest.items():
            label = sampler + (f" resample {resample}" if resample not in ("", "1", None) else "")
            series.setdefault(label, []).append((nfe(r), r))
        first = group[-1]
        title = f"{first['protocol']}: {method_label(first)}, {_n_text(first)}"
        out.append(Plot(title, series_plot(title, "NFE (network evaluations per sample)", series,
                                           _baselines(rows, key[:-1]), log_x=True)))
    return out


def _training(r: Row) -> tuple[str, str, str]:
    """Checkpoints of one training share a folder (ckpt-<step>.pt beside each other), preset and p_U."""
    ckpt = r.get("checkpoint", "")
    return str(PurePath(ckpt).parent) if ckpt else "", r.get("preset", ""), r.get("p_uncond", "")


def step_plots(rows: list[Row]) -> list[Plot]:
    """Metric against training step, per training and workload, when two or more steps were scored."""
    out = []
    for key, group in _group(_model_rows(rows), lambda r: (_training(r), *_workload(r))).items():
        by_setting = _group(group, lambda r: (r.get("sampler"), r.get("resample"), r["sampler_steps"]))
        series: dict[str, list[tuple[float, Row]]] = {}
        for (sampler, resample, steps), rs in by_setting.items():
            latest = {int(r["step"]): r for r in rs if str(r.get("step", "")).isdigit()}
            extra = f" resample {resample}" if resample not in ("", "1", None) else ""
            if latest:
                series[f"{sampler} {steps} steps{extra}"] = sorted(latest.items())
        if max((len(s) for s in series.values()), default=0) < 2:
            continue
        folder, preset, p_u = key[0]
        first = group[-1]
        title = (f"{first['protocol']}: RaMViD {preset} p_U {p_u} ({folder or 'one checkpoint'}), "
                 f"{_n_text(first)}")
        out.append(Plot(title, series_plot(title, "training step", series, _baselines(rows, key[1:]))))
    return out
