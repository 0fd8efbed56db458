"""One run work dir (``runs/<protocol>-<hash>/``: manifest.json, shard-*.npz) as a report section.

The protocol card comes from the manifest's protocol dict, the value and its uncertainty and the
provenance from the results row of the same run (matched on protocol, method and workload), the
sample grid from the shards (sample 0 of the first videos) beside the real clips.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report.figures import png_uri, row_interval, video_uri

# Row columns shown elsewhere in a run's section (card, value), never again under provenance.
_SHOWN = {"protocol", "version", "metric", "value", "std", "num_videos", "samples_per_video", "repeats",
          "sampler", "sampler_steps", "resample", "seed", "method", "checkpoint", "ckpt_sha256", "step",
          "preset", "p_uncond", "params", "nfe", "guidance", "ci_low", "ci_high", "se", "fvd_inf",
          "bootstrap", "uncertainty"}
_PROVENANCE_FIRST = ("date", "git_hash", "device", "threads", "processes", "batch_size", "wall_s")


@dataclass
class RunSection:
    """What the page shows of one run; lists of (label, text) pairs, images as data URIs."""

    name: str
    work_dir: str
    title: str
    card: list[tuple[str, str]]
    value: str | None = None
    uncertainty: list[tuple[str, str]] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    strip: str | None = None  # filmstrip PNG: every frame of a few videos, real over generated
    animation: str | None = None  # animated GIF of the same videos
    notes: list[str] = field(default_factory=list)


def find_run_dirs(paths: list[str | os.PathLike]) -> list[Path]:
    """Each path is a run work dir (holds manifest.json) or a folder of them (e.g. ``runs/``)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "manifest.json").is_file():
            out.append(p)
            continue
        found = sorted(d for d in p.iterdir() if (d / "manifest.json").is_file()) if p.is_dir() else []
        if not found:
            raise ValueError(f"{p}: no manifest.json here or in its subfolders; give a run work dir "
                             "(runs/<protocol>-<hash>/) or the folder that holds them")
        out += found
    return out


def read_manifest(work_dir: Path) -> dict[str, Any]:
    path = work_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable ({type(e).__name__}); is this a run work dir?") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("protocol"), dict):
        raise ValueError(f"{path}: no protocol in it; is this a run work dir?")
    return manifest


def _same(cell: Any, value: Any) -> bool:
    """A CSV cell against a manifest value: "25" == 25, "0.5" == 0.5, "" == None."""
    if value is None or cell in (None, ""):
        return value is None and cell in (None, "")
    try:
        return float(cell) == float(value)
    except (TypeError, ValueError):
        return str(cell) == str(value)


def _method_matches(row: dict[str, str], identity: dict[str, Any]) -> bool:
    """The row was made by the manifest's method (baseline, checkpoint, samples file or callable)."""
    if "baseline" in identity:
        return row.get("method") == identity["baseline"]
    if "checkpoint_sha256" in identity:
        sha = row.get("ckpt_sha256", "")
        return row.get("method") == "ramvid" and bool(sha) and \
            str(identity["checkpoint_sha256"]).startswith(sha)
    if "samples_sha256" in identity:
        sha = row.get("samples_sha256", "")
        return bool(sha) and str(identity["samples_sha256"]).startswith(sha)
    name = identity.get("callable", identity.get("method"))
    return name is not None and row.get("method") == name


def _spec(row: dict[str, str]) -> dict[str, Any]:
    try:
        spec = json.loads(row.get("spec") or "{}")
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}


def match_row(rows: list[dict[str, str]], manifest: dict[str, Any], work_dir: Path) -> dict[str, str] | None:
    """The newest results row of this run: same protocol@version and metric, method, workload (N, S,
    R, seed) and, for a model, sampler settings; protocol fields the row's spec overrode must agree.
    A row whose spec names this very folder as --out-dir wins over one that only matches."""
    p, identity = manifest["protocol"], manifest.get("method", {})
    keys = ["num_videos", "samples_per_video", "repeats", "seed"]
    if "checkpoint_sha256" in identity:
        keys += ["sampler", "sampler_steps", "resample"]
    fits, here = [], []
    for row in rows:
        if row.get("protocol") != p.get("name") or not _same(row.get("version"), p.get("version")):
            continue
        if row.get("metric") != p.get("metric") or not _method_matches(row, identity):
            continue
        if not all(_same(row.get(k), p.get(k)) for k in keys if k in row):
            continue
        spec = _spec(row)
        overrides = dict(spec.get("overrides") or {})
        changed = {k: v for k, v in {**spec, **overrides}.items() if k in p and k != "name" and v is not None}
        if any(json.dumps(v) != json.dumps(p[k]) for k, v in changed.items()):
            continue
        fits.append(row)
        out_dir = spec.get("out_dir")
        if out_dir and Path(out_dir).resolve() == work_dir.resolve():
            here.append(row)
    return (here or fits or [None])[-1]


def card(p: dict[str, Any], identity: dict[str, Any], row: dict[str, str] | None) -> list[tuple[str, str]]:
    """The protocol card: what was measured, on what, how."""
    from benchmarks.workload import nfe_per_sample

    frames, cond = int(p["frames"]), [int(c) for c in p.get("cond", [])]
    scored = list(range(frames)) if p.get("metric_frames") == "all" else [t for t in range(frames)
                                                                        if t not in cond]
    options = "".join(f", {k}={v}" for k, v in p.get("metric_options") or [])
    out = [("protocol", f"{p['name']}@{p['version']}" + (f": {p['description']}" if p.get("description")
                                                          else "")),
           ("dataset", f"{p['dataset']} / {p['split']}, {p['resolution']}×{p['resolution']}, "
                       f"{frames} frames (window {p.get('window', 'start')}, data seed "
                       f"{p.get('data_seed', 0)})"),
           ("known frames", _frames_text(cond) if cond else "none (unconditional)"),
           ("metric", f"{str(p['metric']).upper()} over {p.get('metric_frames')} frames: "
                      f"{_frames_text(scored)} ({len(scored)}){options}"),
           ("N", f"{p['num_videos']} videos × {p['samples_per_video']} samples × {p['repeats']} repeats = "
                 f"{int(p['num_videos']) * int(p['samples_per_video']) * int(p['repeats'])}")]
    if "checkpoint_sha256" in identity:
        extra = f", resample {p['resample']}" if int(p.get("resample", 1)) != 1 else ""
        if row and row.get("nfe"):
            nfe = f"{row['nfe']} network evaluations per sample"
        else:  # no row: the protocol's steps (the model's own schedule may cap them)
            nfe = f"{nfe_per_sample(_Obj(p), 10**9)} network evaluations per sample (at most)"
        out += [("sampler", f"{p['sampler']}, {p['sampler_steps']} steps{extra}"), ("NFE", nfe)]
        out.append(("guidance", _guidance(p)))
    else:
        out.append(("sampler", f"none: {_method_name(identity, row)} runs no network (NFE 0)"))
    out.append(("seed", f"{p['seed']} (video i, sample s draw from (seed, i, s))"))
    out.append(("method", _method_text(identity, row)))
    return out


class _Obj:
    """Attribute access to a protocol dict (for helpers written against ``Protocol``)."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def _guidance(p: dict[str, Any]) -> str:
    if p.get("guidance") in (None, ""):
        return "none (this protocol version has no guidance setting)"
    return "off (0)" if float(p["guidance"]) == 0 else f"classifier-free, W = {p['guidance']}"


def _frames_text(frames: list[int]) -> str:
    """[0, 1, 2, 3, 8] -> "0-3, 8"."""
    parts, start = [], None
    for i, f in enumerate(frames):
        if start is None:
            start = f
        if i + 1 == len(frames) or frames[i + 1] != f + 1:
            parts.append(str(start) if start == f else f"{start}-{f}")
            start = None
    return ", ".join(parts)


def _method_name(identity: dict[str, Any], row: dict[str, str] | None) -> str:
    if row and row.get("method"):
        return row["method"]
    return str(identity.get("baseline") or identity.get("callable") or identity.get("method") or "ramvid")


def _method_text(identity: dict[str, Any], row: dict[str, str] | None) -> str:
    if "checkpoint_sha256" not in identity:
        kind = "baseline" if "baseline" in identity else "external samples"
        return f"{_method_name(identity, row)} ({kind})"
    sha = str(identity["checkpoint_sha256"])[:12]
    if not row:
        return f"RaMViD checkpoint sha256 {sha}"
    params = f", {int(row['params']) / 1e6:.1f}M parameters" if row.get("params", "").isdigit() else ""
    return (f"RaMViD {row.get('preset', '')} step {row.get('step', '?')}, p_U {row.get('p_uncond', '?')}"
            f"{params}: {row.get('checkpoint', '')} (sha256 {sha})")


def value_text(row: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """("FVD 1157.07 ± 3.10", [uncertainty lines]) from a row: the bootstrap interval, its standard
    error and the 1/N-extrapolated value when the row has them (plain or ``<metric>_`` column names)."""
    metric = row["metric"]
    std = f" ± {float(row['std']):.2f} (std over repeats)" if row.get("std") not in (None, "") else ""
    details = _json(row.get("uncertainty"))
    interval, fit = details.get("interval") or {}, details.get("extrapolation") or {}
    lines = []
    if (ci := row_interval(row)) is not None:
        level = interval.get("level") or row.get(f"{metric}_ci_level") or 0.95
        draws = row.get("bootstrap") or interval.get("draws")
        scheme = f", {interval['scheme']}-samples" if interval.get("scheme") else ""
        how = "bootstrap" + (f", {draws} draws" if draws else "") + scheme
        lines.append((f"{float(level):.0%} interval", f"[{ci[0]:.2f}, {ci[1]:.2f}] ({how})"))
    se = row.get("se") or row.get(f"{metric}_se")
    if se:
        lines.append(("standard error", _num(se)))
    inf = row.get(f"{metric}_inf") or row.get("fvd_inf" if metric == "fvd" else f"{metric}_inf")
    if inf:
        sizes = [pt[0] for pt in fit.get("points", [])]
        over = f" (1/N fit over n = {min(sizes)}..{max(sizes)})" if sizes else " (1/N extrapolated)"
        lines.append((f"{metric.upper()}∞", _num(inf) + over))
    return f"{metric.upper()} {float(row['value']):.2f}{std}", lines


def _json(cell: str | None) -> dict[str, Any]:
    try:
        out = json.loads(cell or "{}")
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _num(cell: str) -> str:
    try:
        return f"{float(cell):.2f}"
    except ValueError:
        return cell


def provenance(row: dict[str, str], metric: str) -> list[tuple[str, str]]:
    """Every other non-empty field of the row: git hash, device, versions, wall time, the spec."""
    rest = [k for k in row if k not in _SHOWN and not k.startswith(f"{metric}_") and row[k] not in ("", None)]
    order = [k for k in _PROVENANCE_FIRST if k in rest] + [k for k in rest if k not in _PROVENANCE_FIRST]
    return [(k, row[k]) for k in order]


def first_samples(work_dir: Path, count: int) -> tuple[list[int], np.ndarray | None]:
    """Sample 0 of the ``count`` lowest video indices on disk -> (indices, uint8 [n, T, H, W, 3])."""
    found: dict[int, np.ndarray] = {}
    for path in sorted(work_dir.glob("shard-*.npz")):
        with np.load(path) as z:
            keys = z["keys"]
            rows = [i for i, (v, s) in enumerate(keys) if int(s) == 0]
            if rows:
                videos = z["videos"]
                found.update({int(keys[i][0]): videos[i] for i in rows})
    picked = sorted(found)[:count]
    return picked, (np.stack([found[v] for v in picked]) if picked else None)


def sample_images(section: RunSection, p: dict[str, Any], work_dir: Path, row: dict[str, str] | None,
                  count: int) -> None:
    """Fill ``section.strip`` / ``animation`` with real (when the data opens) over generated clips."""
    from ramvid.video import filmstrip, grid_frames

    picked, fake = first_samples(work_dir, count)
    if fake is None:
        section.notes.append("no samples on disk yet (no shard-*.npz in the work dir)")
        return
    real = None
    try:
        from ramvid.data import open_dataset

        source = open_dataset(p["dataset"], p["split"], frames=int(p["frames"]),
                              resolution=int(p["resolution"]), path=_spec(row or {}).get("data_path"),
                              seed=int(p.get("data_seed", 0)))
        real = source.clips(picked)
    except (OSError, ValueError, KeyError) as e:
        section.notes.append(f"real clips not shown: {p['dataset']} did not open ({type(e).__name__}: {e})")
    cond = [int(c) for c in p.get("cond", [])]
    scored = [t for t in range(int(p["frames"])) if p.get("metric_frames") == "all" or t not in cond]
    groups = [([(f"real {v}", real[i], False)] if real is not None else [])
              + [(f"generated {v}", fake[i], True)] for i, v in enumerate(picked)]
    scale = 2 if fake.shape[2] <= 48 else 1  # small clips enlarged; 64x64 and up are big enough
    section.strip = png_uri(filmstrip(groups, known=cond, scored=scored, scale=scale))
    section.animation = video_uri(grid_frames([fake] if real is None else [real, fake], known=cond,
                                              scale=scale))


def run_section(work_dir: Path, rows: list[dict[str, str]], count: int = 4) -> RunSection:
    """Everything the page shows of one run work dir."""
    manifest = read_manifest(work_dir)
    p, identity = manifest["protocol"], manifest.get("method", {})
    row = match_row(rows, manifest, work_dir)
    section = RunSection(name=work_dir.name, work_dir=str(work_dir),
                         title=f"{p['name']}@{p['version']}: {_method_name(identity, row)}",
                         card=card(p, identity, row))
    if row is not None:
        section.value, section.uncertainty = value_text(row)
        section.provenance = provenance(row, row["metric"])
    else:
        section.notes.append("no results row matches this run (run it to completion with --results, or "
                             "pass the CSV it wrote with --results)")
    sample_images(section, p, work_dir, row, count)
    return section
