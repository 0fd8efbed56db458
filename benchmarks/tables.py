"""Render "reported | reproduced" tables from the paper's numbers and a runs CSV (never by hand).

Paper tables 1-5 list every reported number; a RaMViD row's "reproduced" cell is our runs of the
newest version of the protocol with an official preset and the same p_U. Our other runs (baselines,
small models, older protocol versions: labelled ", v1") are added as rows of their own; a baseline's
or given samples' row counts for the newest version when the versions differ only in how the model
samples (``row_version``). Embedded
protocols (``shapes-*``, ``moving-mnist-*``) get one table per dataset: methods down, protocols
across. The paper's numbers ship with the package (``benchmarks.assets.paper_csv()``); a missing
CSV, or a selection with no rows, is an error.

Runs are grouped (``group_key``): same protocol and version, method (checkpoint hash or baseline),
workload (videos, samples, repeats) and sampler settings (sampler, steps, resample, eta, guidance,
quantize); only the seed differs. A cell shows the group's mean ± std over its seeds (the newest row
of each seed) with the number of seeds, or, for one seed, its value (± std over repeats, if any);
N is beside every value.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Iterable
from typing import Any

from tabulate import tabulate

from benchmarks.protocols import default_registry
from benchmarks.registry import Protocol
from benchmarks.results import read_rows, read_runs
from ramvid.sampling import SAMPLERS

ARROW = {"lower": "↓", "higher": "↑"}
DIRECTION = {"fvd": "lower", "is": "higher"}
OFFICIAL_PRESETS = ("bair", "kinetics", "ucf")
BASELINE_ORDER = ("real", "copy-last", "interpolate")
CSV_FIELDS = ("table", "protocol", "method", "params", "p_uncond", "metric", "direction", "reported",
              "reproduced", "n")


def fmt_value(value: str, std: str = "") -> str:
    """'84.2' / '170 ± 5' from CSV cells; '—' when empty."""
    if value in ("", None):
        return "—"
    return f"{value} ± {std}" if std not in ("", None) else value


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False


Group = list[dict[str, str]]  # runs that differ only in their seed: the newest row of each seed
GROUP_FIELDS = ("protocol", "version", "method", "ckpt_sha256", "num_videos", "samples_per_video", "repeats",
                "sampler", "sampler_steps", "resample", "eta", "guidance", "quantize")


# Rows written before a field existed ran with its default.
_DEFAULTS = {"quantize": "round", "guidance": "0", "eta": "0"}
# Protocol fields that only say how the model samples: a baseline or given samples never read them.
SAMPLING_FIELDS = ("sampler", "sampler_steps", "resample", "guidance", "eta", "quantize", "description")


def _registered(run: dict[str, str]) -> Protocol | None:
    """The protocol version the row names, or None (no version, or not in the built-in registry)."""
    if not run.get("version"):
        return None
    try:
        return default_registry().get(f"{run['protocol']}@{run['version']}")
    except ValueError:
        return None


def row_version(run: dict[str, str]) -> str:
    """The row's protocol version; for a method that does not sample (a baseline, given samples), the
    newest version when the two differ only in ``SAMPLING_FIELDS``: its number is the same there."""
    old, version = _registered(run), run.get("version", "")
    if run.get("method") == "ramvid" or old is None:
        return version
    new = default_registry().get(run["protocol"])
    same = dataclasses.replace(old, version=new.version, **{f: getattr(new, f) for f in SAMPLING_FIELDS})
    return str(new.version) if same == new else version


def group_key(run: dict[str, str]) -> tuple[str, ...]:
    """What must match for runs to be seeds of one measurement (``GROUP_FIELDS``; the version as
    ``row_version`` reads it)."""
    def cell(k: str) -> str:
        if k == "version":
            return row_version(run)
        value = run.get(k) or _DEFAULTS.get(k, "")
        return f"{float(value):g}" if k in ("guidance", "eta") and _is_float(value) else value

    return tuple(cell(k) for k in GROUP_FIELDS)


def group_value(group: Group) -> str:
    """'624.45' / '20.50 ± 0.25' (one seed, std over repeats) / '620.00 ± 20.00' (mean ± std over seeds)."""
    from benchmarks.results import mean_std

    if len(group) > 1:
        mean, std = mean_std([float(r["value"]) for r in group])
        return f"{mean:.2f} ± {std:.2f}"
    run = group[0]
    value, std = f"{float(run['value']):.2f}", run.get("std", "")
    return f"{value} ± {float(std):.2f}" if std not in ("", None) else value


def group_n(group: Group) -> str:
    """'256×100', '2048×1 ×10 rep', '32×1 ×3 seeds': videos × samples (× repeats) (× seeds)."""
    run = group[0]
    n = f"{run['num_videos']}×{run['samples_per_video']}"
    n += f" ×{run['repeats']} rep" if run.get("repeats", "1") not in ("", "1") else ""
    return n + (f" ×{len(group)} seeds" if len(group) > 1 else "")


def method_label(run: dict[str, str]) -> str:
    """How a run is named in a table: the baseline, or the model with preset, step and hash."""
    if run.get("method") != "ramvid":
        from benchmarks.baselines import BASELINES

        kind = "baseline" if run.get("method") in BASELINES else "external"
        return f"{run.get('method')} ({kind})"
    return f"RaMViD {run.get('preset', '')} step {run.get('step', '?')} [{run.get('ckpt_sha256', '')[:8]}]"


def _label(r: dict[str, str], num_videos: int | None, sampler_steps: int | None) -> str:
    """The method label plus what sets the run apart from its protocol version as registered (the
    given ``num_videos``/``sampler_steps`` and DDPM where the row's version is not known)."""
    label = method_label(r)
    own = _registered(r)
    steps, sampler = (own.sampler_steps, own.sampler) if own else (sampler_steps, "ddpm")
    if num_videos is not None and r.get("num_videos") != str(num_videos):
        label += f", n={r.get('num_videos')}"
    if steps is not None and r.get("sampler_steps") not in ("", None, str(steps)):
        label += f", {r.get('sampler_steps')} steps"
    if r.get("sampler") not in ("", None, sampler):
        label += f", {r.get('sampler')}"
    if r.get("guidance") not in ("", None) and float(r["guidance"]) != 0:
        label += f", guidance {r['guidance']}"
    eta = float(r["eta"]) if _is_float(r.get("eta", "")) else 0.0
    reads_eta = r.get("sampler") in SAMPLERS and SAMPLERS[r["sampler"]].eta
    if reads_eta and eta != (own.eta if own else 0.0):  # another sampler ran without it
        label += f", eta {eta:g}"
    newest = _newest_version(r["protocol"])
    if newest and row_version(r) != newest:  # a protocol the registry does not know has no newer one
        label += f", v{r.get('version')}"
    return label


def _newest_version(name: str) -> str:
    try:
        return str(default_registry().get(name).version)
    except ValueError:
        return ""


def _groups_by_method(runs: Iterable[dict[str, str]], num_videos: int | None = None,
                      sampler_steps: int | None = None) -> dict[str, Group]:
    """Runs grouped by ``group_key`` (newest row per seed), one labelled entry per group; a group whose
    label another group already has is labelled with the fields that differ (", quantize floor")."""
    groups: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}
    labels: dict[tuple[str, ...], str] = {}
    for r in runs:  # file order is time order (append-only), so the last row of a seed wins
        key = group_key(r)
        groups.setdefault(key, {}).pop(r.get("seed", ""), None)
        groups[key][r.get("seed", "")] = r
        if key not in labels:
            label = _label(r, num_videos, sampler_steps)
            other = next((k for k, text in labels.items() if text == label), None)
            labels[key] = label + (_difference(other, key) if other else "")
    return {label: sorted(groups[key].values(), key=_seed_order) for key, label in labels.items()}


def _difference(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    """', quantize floor': the group fields where key ``b`` differs from key ``a``."""
    pairs = zip(GROUP_FIELDS, a, b, strict=True)
    return "".join(f", {f.replace('_', ' ')} {vb}" for f, va, vb in pairs if va != vb)


def _seed_order(run: dict[str, str]) -> tuple[int, str]:
    seed = run.get("seed", "")
    return (int(seed), seed) if seed.lstrip("-").isdigit() else (0, seed)


def _same_pu(a: str, b: str) -> bool:
    return _is_float(a) and _is_float(b) and abs(float(a) - float(b)) < 1e-9


def paper_rows(table: str, paper: list[dict[str, str]], runs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Rows of one paper table (all its protocols and registered variants), reported | reproduced."""
    registry = default_registry()
    protocols = [p.name for p in registry if p.table == table]
    protocols += sorted({r["protocol"] for r in paper if r["table"] == table} - set(protocols))
    out: list[dict[str, Any]] = []
    for proto in protocols:
        mine = _groups_by_method(r for r in runs if r["protocol"] == proto)
        used: set[str] = set()
        for ref in (r for r in paper if r["table"] == table and r["protocol"] == proto):
            match = [k for k, g in mine.items() if ref["method"] == "RaMViD"
                     and g[-1].get("preset") in OFFICIAL_PRESETS
                     and g[-1].get("version") == _newest_version(proto)
                     and _same_pu(g[-1].get("p_uncond", ""), ref["p_uncond"])]
            run = mine[match[-1]] if match else None
            used.update(match)
            out.append(_paper_line(table, proto, ref, run))
        for label, group in mine.items():
            if label not in used:
                run = group[-1]
                line = {"method": label, "params": _params(run), "p_uncond": run.get("p_uncond", ""),
                        "metric": run["metric"], "direction": DIRECTION[run["metric"]], "reported": "—"}
                out.append({"table": table, "protocol": proto, **line, "reproduced": group_value(group),
                            "n": group_n(group)})
    return out


def _paper_line(table: str, proto: str, ref: dict[str, str], group: Group | None) -> dict[str, Any]:
    return {"table": table, "protocol": proto, "method": ref["method"], "params": ref["params"],
            "p_uncond": ref["p_uncond"], "metric": ref["metric"], "direction": ref["direction"],
            "reported": fmt_value(ref["value"], ref["std"]),
            "reproduced": group_value(group) if group else "—", "n": group_n(group) if group else ""}


def _params(run: dict[str, str]) -> str:
    p = run.get("params", "")
    return f"{int(p) / 1e6:.1f}M" if _is_float(p) and p else ""


def embedded_rows(dataset: str, runs: list[dict[str, str]]) -> tuple[list[str], list[list[str]],
                                                                  list[dict[str, Any]]]:
    """(header, rows, csv lines) for one embedded dataset: methods down, its protocols across."""
    protos = [p for p in default_registry() if p.dataset == dataset and not p.table]
    header = ["method", *(f"{p.name} {p.metric.upper()} {ARROW[DIRECTION[p.metric]]}" for p in protos)]
    cells: dict[str, dict[str, str]] = {}
    lines: list[dict[str, Any]] = []
    for p in protos:
        mine = [r for r in runs if r["protocol"] == p.name]
        for label, group in _groups_by_method(mine, p.num_videos, p.sampler_steps).items():
            run, seeds = group[-1], f", {len(group)} seeds" if len(group) > 1 else ""
            cells.setdefault(label, {})[p.name] = f"{group_value(group)} (n={run['num_videos']}{seeds})"
            lines.append({"table": "embedded", "protocol": p.name, "method": label, "params": _params(run),
                          "p_uncond": run.get("p_uncond", ""), "metric": p.metric,
                          "direction": DIRECTION[p.metric], "reported": "—",
                          "reproduced": group_value(group), "n": group_n(group)})
    labels = sorted(cells, key=_label_order)
    rows = [[label, *(cells[label].get(p.name, "—") for p in protos)] for label in labels]
    return header, rows, lines


def _md(rows: list[list[Any]], header: list[str]) -> str:
    # disable_numparse: print numbers exactly as the CSVs hold them ("84.20", not 84.2)
    return tabulate(rows, header, tablefmt="github", disable_numparse=True)


def _label_order(label: str) -> tuple[int, str]:
    """Baselines first (real, copy-last, interpolate), then models by name."""
    for i, b in enumerate(BASELINE_ORDER):
        if label.startswith(f"{b} (baseline)"):
            return i, label
    return len(BASELINE_ORDER), label


def _embedded_sections(runs: list[dict[str, str]]) -> tuple[list[str], list[dict[str, Any]]]:
    from benchmarks.protocols import EMBEDDED_DATASETS

    sections, lines = [], []
    for ds in EMBEDDED_DATASETS:
        header, rows, found = embedded_rows(ds, runs)
        if rows:
            sections.append(f"### Embedded data: {ds}\n\n" + _md(rows, header))
        lines += found
    return sections, lines


def _paper_sections(table: str, rows: list[dict[str, Any]]) -> list[str]:
    sections = []
    for proto in dict.fromkeys(r["protocol"] for r in rows):
        sub = [r for r in rows if r["protocol"] == proto]
        head = ["method", "params", "p_U", f"{sub[0]['metric'].upper()} {ARROW[sub[0]['direction']]} "
                "reported", "reproduced", "N (videos×samples)"]
        body = [[r["method"], r["params"], r["p_uncond"], r["reported"], r["reproduced"], r["n"]]
                for r in sub]
        sections.append(f"### Table {table}: {proto}\n\n" + _md(body, head))
    return sections


def render(paper_path: str | os.PathLike, runs_path: str | os.PathLike, *, table: str | None = None,
           protocol: str | None = None, fmt: str = "markdown") -> str:
    """The tables as Markdown (sections) or one CSV; ``table`` is "1".."5" or "embedded".

    Raises FileNotFoundError naming a missing CSV, and ValueError when the selection has no rows.
    """
    paper, runs = read_rows(paper_path), read_runs(runs_path)
    name, _, version = (protocol or "").partition("@")
    runs = [r for r in runs if protocol is None
            or (r["protocol"] == name and version in ("", r.get("version"), row_version(r)))]
    sections: list[str] = []
    lines: list[dict[str, Any]] = []
    for t in [table] if table else ["1", "2", "3", "4", "5", "embedded"]:
        if t == "embedded":
            more, found = _embedded_sections(runs)
        else:
            found = [r for r in paper_rows(t, paper, runs) if protocol is None or r["protocol"] == name]
            more = _paper_sections(t, found)
        sections += more
        lines += found
    if not lines:
        raise ValueError(f"no rows to show (table {table or 'all'}, protocol {protocol or 'all'}) in "
                         f"{paper_path} or {runs_path}")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(lines)
        return buf.getvalue()
    return "\n\n".join(sections) + "\n"
