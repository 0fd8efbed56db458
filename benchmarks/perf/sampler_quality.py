"""FVD against sampler cost: the showcase model on shapes-prediction with every sampler in the table.

Usage (every stage resumes where it stopped; `run` processes on different points may run side by
side, the runs CSV is locked; `extra` rewrites its CSV with the points it is given, all by default):

    python -m benchmarks.perf.sampler_quality run [--points ddpm-1000,ddpm-250] [--best NAME|auto]
    python -m benchmarks.perf.sampler_quality time --best auto    # seconds per video and call
    python -m benchmarks.perf.sampler_quality long                # 64-frame videos, both schemes
    python -m benchmarks.perf.sampler_quality extra               # eta, respacing near 20 NFE
    python -m benchmarks.perf.sampler_quality report --best ddim-25
    # -> results/sampler_quality.csv and .png, the Markdown table and the 20-NFE goal's verdict

A long point can also be split over processes with the runner itself, into the point's work dir:
``ramvid-bench run shapes-prediction@1 --ckpt <showcase> --sampler ddpm --sampler-steps 1000
--batch-size 8 --out-dir runs/sampler-quality/ddpm-1000 --shard I/4``; ``run --points ddpm-1000``
then scores the complete folder and records the row.

``run`` drives ``benchmarks.runner.run`` once per point (``shapes-prediction@1`` with the point's
sampler, steps, guidance and seed as overrides, 32 videos, batch 8), each in its own work dir
under ``runs/sampler-quality/<point>``: an interrupted point resumes from its shards. The runner's
rows go to ``results/sampler_quality_runs.csv`` (git hash, spec, wall time). ``--best NAME`` adds
guidance W in 0.5, 1, 2 and sample seeds 1 and 2 at that point's setting; ``auto`` picks the
finished curve point with the lowest FVD at NFE <= 50.

``time`` measures, in one process, the wall time of sampling 8 videos at 10 steps for every
(sampler, guided) pair (fastest of 2 repeats), so costs are ratios measured in one run; a point's
time per video is that time per sampler call times its calls. NFE counts network forward passes
per video (a guided call runs the network on 2B videos: 2 per video).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.assets import showcase_checkpoint
from benchmarks.protocols import get_protocol
from benchmarks.runner import RunSpec, run
from ramvid.sampling import SAMPLERS, SamplerSettings

PROTOCOL = "shapes-prediction@1"
RESULTS = Path("results")
RUNS_CSV = RESULTS / "sampler_quality_runs.csv"
TIMING_CSV = RESULTS / "sampler_quality_timing.csv"
EXTRA_CSV = RESULTS / "sampler_quality_extra.csv"
SUMMARY_CSV = RESULTS / "sampler_quality.csv"
PLOT = RESULTS / "sampler_quality.png"
WORK = Path("runs/sampler-quality")
GUIDANCE = (0.5, 1.0, 2.0)
CHAIN = 1000  # the showcase model's diffusion steps
SEEDS = (1, 2)
ETA = 0.5  # DDIM's stochastic line (eta 0.5: half the DDPM posterior noise)


@dataclass(frozen=True)
class Point:
    """One sampler setting of the curve."""

    name: str
    sampler: str
    steps: int
    guidance: float = 0.0
    seed: int = 0
    eta: float = 0.0

    @property
    def settings(self) -> SamplerSettings:
        return SamplerSettings(sampler=self.sampler, steps=self.steps, guidance=self.guidance, seed=self.seed,
                               eta=self.eta)

    @property
    def line(self) -> str:
        """The plot's line: the sampler, and DDIM's eta when it is not 0."""
        return f"{self.sampler} eta={self.eta:g}" if self.eta else self.sampler

    @property
    def nfe(self) -> int:
        """Network forward passes per video (a guided call counts twice: it runs on 2B videos)."""
        return self.settings.network_evaluations(CHAIN)


def _new_solver_points() -> list[Point]:
    """The samplers added beside DDPM and DDIM, at 50/25/10/5 steps (whichever are registered)."""
    return [Point(f"{name}-{s}", name, s) for name in SAMPLERS if name not in ("ddpm", "ddim")
            for s in (50, 25, 10, 5)]


def curve_points() -> list[Point]:
    """The long DDPM points first (they are started first; DDPM 25 is the embedded protocols'
    version-1 sampler), then DDIM, then the new solvers."""
    return ([Point("ddpm-1000", "ddpm", 1000), Point("ddpm-250", "ddpm", 250), Point("ddpm-25", "ddpm", 25)]
            + [Point(f"ddim-{s}", "ddim", s) for s in (100, 50, 25, 10)] + _new_solver_points()
            + [Point(f"ddim-eta{ETA:g}-{s}", "ddim", s, eta=ETA) for s in (25, 20, 10, 5)])


def derived_points(best: Point) -> list[Point]:
    """Guidance W in GUIDANCE and seeds SEEDS at the best point's sampler and steps."""
    out = [dataclasses.replace(best, name=f"{best.name}-w{w:g}", guidance=w) for w in GUIDANCE]
    return out + [dataclasses.replace(best, name=f"{best.name}-seed{s}", seed=s) for s in SEEDS]


def best_point(num_videos: int, max_nfe: int = 50) -> str:
    """The finished curve point with the lowest FVD among those with NFE <= ``max_nfe`` ("auto")."""
    done = finished(num_videos)
    scored = [(float(done[p.name]["value"]), p.name) for p in curve_points()
              if p.name in done and p.nfe <= max_nfe]
    if not scored:
        raise SystemExit(f"--best auto: no finished curve point with NFE <= {max_nfe} yet")
    return min(scored)[1]


def all_points(best: str | None, num_videos: int = 32) -> list[Point]:
    points = curve_points()
    if best == "auto":
        best = best_point(num_videos)
        print(f"best point (lowest FVD at NFE <= 50): {best}", flush=True)
    if best is not None:
        by_name = {p.name: p for p in points}
        if best not in by_name:
            raise SystemExit(f"--best {best!r}: not a curve point; choose one of {', '.join(by_name)}")
        points += derived_points(by_name[best])
    return points


def finished(num_videos: int) -> dict[str, dict[str, str]]:
    """Point name -> its runner row in RUNS_CSV (the point's work dir names it)."""
    if not RUNS_CSV.is_file():
        return {}
    with open(RUNS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for row in rows:
        out_dir = json.loads(row.get("spec") or "{}").get("out_dir", "")
        if out_dir and int(row["num_videos"]) == num_videos:
            out[Path(out_dir).name] = row
    return out


def run_points(points: Iterable[Point], num_videos: int, batch_size: int) -> None:
    done = finished(num_videos)
    for p in points:
        if p.name in done:
            print(f"{p.name}: done, FVD {float(done[p.name]['value']):.2f}", flush=True)
            continue
        t0 = time.time()
        spec = RunSpec(protocol=PROTOCOL, ckpt=str(showcase_checkpoint()), num_videos=num_videos,
                       sampler=p.sampler, sampler_steps=p.steps, seed=p.seed, eta=p.eta or None,
                       overrides={"guidance": p.guidance} if p.guidance else {},
                       batch_size=batch_size, device="cpu", results=str(RUNS_CSV),
                       out_dir=str(WORK / p.name), progress=False)
        res = run(spec)
        print(f"{p.name}: FVD {res.value:.2f} ({time.time() - t0:.0f} s)", flush=True)


def _timing_pairs(points: Iterable[Point]) -> list[tuple[str, bool]]:
    return sorted({(p.sampler, p.guidance > 0) for p in points})


def time_samplers(points: Iterable[Point], batch_size: int, steps: int = 10, repeats: int = 2) -> None:
    """Seconds per video and step of every (sampler, guided) pair, measured here in one process."""
    from ramvid.checkpoint import load_model
    from ramvid.data import open_dataset
    from ramvid.sampling import generate

    model, config, _ = load_model(showcase_checkpoint(), use_ema=True, device="cpu")
    p = get_protocol(PROTOCOL)
    known = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution,
                         seed=p.data_seed).clips(list(range(batch_size)))
    rows = []
    for sampler, guided in _timing_pairs(points):
        settings = SamplerSettings(sampler=sampler, steps=steps, guidance=1.0 if guided else 0.0)
        best = float("inf")
        for _ in range(repeats):  # the fastest repeat: the machine is shared
            t0 = time.perf_counter()
            generate(model, config, known, p.cond, settings, batch_size=batch_size, device="cpu",
                     progress=False)
            best = min(best, time.perf_counter() - t0)
        per = best / batch_size / settings.network_evaluations(config.diffusion.steps, conditional=False)
        rows.append({"sampler": sampler, "guided": int(guided), "steps": steps, "videos": batch_size,
                     "seconds": round(best, 3), "s_per_video_call": round(per, 5)})
        print(f"{sampler} guided={guided}: {best:.1f} s for {batch_size} videos x {steps} steps", flush=True)
    _write_csv(TIMING_CSV, rows)


# Settings near the 20-NFE goal measured beside the runner: improved-diffusion's respacing syntax is
# not a protocol field; the eta points were measured here before eta became one (the curve's runner
# points ddim-eta0.5-20 and -10 reproduce them exactly). Name -> SamplerSettings fields.
EXTRA: dict[str, dict] = {
    "ddim-20": {"sampler": "ddim", "steps": 20},
    "ddim-ddim20": {"sampler": "ddim", "respacing": "ddim20"},
    "ddim-20-eta0.5": {"sampler": "ddim", "steps": 20, "eta": 0.5},
    "ddim-20-eta1": {"sampler": "ddim", "steps": 20, "eta": 1.0},
    "dpm++2m-20": {"sampler": "dpm++2m", "steps": 20},
    "ddim-10-check": {"sampler": "ddim", "steps": 10},  # must equal the runner's ddim-10 point
    "ddim-10-eta0.5": {"sampler": "ddim", "steps": 10, "eta": 0.5},
    "ddim-20-eta0.25": {"sampler": "ddim", "steps": 20, "eta": 0.25},
    "ddim-20-eta0.5-seed1": {"sampler": "ddim", "steps": 20, "eta": 0.5, "seed": 1},
    "ddim-20-eta0.5-seed2": {"sampler": "ddim", "steps": 20, "eta": 0.5, "seed": 2},
    "ddim-5-eta0.5-seed1": {"sampler": "ddim", "steps": 5, "eta": 0.5, "seed": 1},
    "ddim-5-eta0.5-seed2": {"sampler": "ddim", "steps": 5, "eta": 0.5, "seed": 2},
}


def extra_points(names: Iterable[str], num_videos: int, batch_size: int) -> None:
    """FVD of ``EXTRA`` settings with the runner's videos, keys, seeds and FVD (``generate`` called as
    ``benchmarks.methods.model_method`` calls it; ``ddim-10-check`` reproduces the curve's ddim-10)."""
    from benchmarks.runner import open_source
    from metrics.fvd import compute_fvd
    from ramvid.checkpoint import load_model
    from ramvid.sampling import generate
    from ramvid.utils import git_hash
    from ramvid.video import load_npz, save_npz

    p = get_protocol(PROTOCOL).replace(num_videos=num_videos)
    model, config, _ = load_model(showcase_checkpoint(), use_ema=True, device="cpu")
    real = open_source(p, None).clips(list(range(num_videos)))
    rows = []
    for name in names:
        settings = SamplerSettings(**{"seed": p.seed, **EXTRA[name]})
        path = WORK / f"extra-{name}-n{num_videos}.npz"
        t0 = time.time()
        if path.is_file():
            fake = load_npz(path)
        else:
            fake = np.concatenate([
                generate(model, config, real[lo:lo + batch_size], p.cond, settings,
                         keys=[(v, 0) for v in range(lo, min(lo + batch_size, num_videos))],
                         batch_size=batch_size, device="cpu", progress=False)
                for lo in range(0, num_videos, batch_size)])
            path.parent.mkdir(parents=True, exist_ok=True)
            save_npz(path, fake)
        fields = {k: EXTRA[name].get(k, "") for k in ("sampler", "steps", "respacing", "eta")}
        fields["seed"] = settings.seed
        rows.append({"point": name, **fields,
                     "nfe": settings.network_evaluations(CHAIN), "fvd": round(compute_fvd(real, fake), 2),
                     "num_videos": num_videos, "seconds": round(time.time() - t0), "git_hash": git_hash()})
        print(rows[-1], flush=True)
    _write_csv(EXTRA_CSV, rows)


def report(points: list[Point], num_videos: int) -> None:
    """The summary CSV (one row per finished point) and the plot; prints what is missing, the
    summary as a Markdown table and whether the goal (within 10% of DDPM-1000 at <= 20 NFE) is met."""
    done = finished(num_videos)
    timing = {}
    if TIMING_CSV.is_file():
        with open(TIMING_CSV, newline="") as f:
            timing = {(r["sampler"], r["guided"] == "1"): float(r["s_per_video_call"])
                      for r in csv.DictReader(f)}
    rows = []
    for p in points:
        if p.name not in done:
            print(f"{p.name}: not finished")
            continue
        per = timing.get((p.sampler, p.guidance > 0))
        calls = p.settings.network_evaluations(CHAIN, conditional=False)
        rows.append({"point": p.name, "sampler": p.sampler, "line": p.line, "steps": p.steps, "eta": p.eta,
                     "guidance": p.guidance,
                     "seed": p.seed, "nfe": p.nfe, "fvd": round(float(done[p.name]["value"]), 2),
                     "num_videos": num_videos, "s_per_video": "" if per is None else round(per * calls, 2),
                     "git_hash": done[p.name]["git_hash"], "wall_s": done[p.name]["wall_s"]})
    if not rows:
        raise SystemExit("no finished point yet; run the `run` stage first")
    ref = next((r for r in rows if r["point"] == "ddpm-1000"), None)
    for r in rows:
        r["cost_vs_ddpm1000"] = (round(r["s_per_video"] / ref["s_per_video"], 4)
                                 if ref and ref["s_per_video"] and r["s_per_video"] else "")
        r["fvd_vs_ddpm1000"] = round(r["fvd"] / ref["fvd"], 4) if ref else ""
    _write_csv(SUMMARY_CSV, rows)
    _plot(rows)
    print(f"wrote {SUMMARY_CSV} ({len(rows)} points) and {PLOT}")
    print(_markdown(rows))
    if ref:
        fast = [r for r in rows if r["nfe"] <= 20 and not r["guidance"] and not r["seed"]]
        best = min(fast, key=lambda r: r["fvd"], default=None)
        if best:
            verdict = "within" if best["fvd"] <= 1.1 * ref["fvd"] else "NOT within"
            print(f"goal (FVD within 10% of DDPM-1000's {ref['fvd']:.2f} at <= 20 NFE): best is "
                  f"{best['point']} ({best['nfe']} NFE) at {best['fvd']:.2f}, "
                  f"x{best['fvd_vs_ddpm1000']:.3f}: {verdict}")


def _markdown(rows: list[dict]) -> str:
    """The summary as a Markdown table (for the README and the closing note)."""
    from tabulate import tabulate

    cols = ("point", "nfe", "fvd", "fvd_vs_ddpm1000", "cost_vs_ddpm1000")  # time only as a ratio
    heads = ("setting", "NFE", "FVD", "FVD / DDPM-1000", "wall time / DDPM-1000")
    fmt = {"fvd": "{:.2f}", "fvd_vs_ddpm1000": "{:.3f}", "cost_vs_ddpm1000": "{:.4f}"}
    body = [[fmt[c].format(r[c]) if c in fmt and r[c] != "" else r[c] for c in cols]
            for r in sorted(rows, key=lambda r: (-r["nfe"], r["point"]))]
    return tabulate(body, headers=heads, tablefmt="github", disable_numparse=True)


def _plot(rows: list[dict]) -> None:
    """FVD against NFE, one line per sampler (W = 0, seed 0); FVD against W at the guided setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    guided = [r for r in rows if r["guidance"] or "-w" in r["point"]]
    fig, axes = plt.subplots(1, 2 if guided else 1, figsize=(11 if guided else 6, 4.2), squeeze=False)
    ax = axes[0, 0]
    for name in dict.fromkeys(r["line"] for r in rows):
        line = sorted((r["nfe"], r["fvd"]) for r in rows
                      if r["line"] == name and not r["guidance"] and not r["seed"])
        if line:
            ax.plot(*zip(*line, strict=True), marker="o", label=name)
    seeds = [r for r in rows if r["seed"]]
    if seeds:
        ax.plot([r["nfe"] for r in seeds], [r["fvd"] for r in seeds], "k+", ms=10,
                label=f"{seeds[0]['point'].rsplit('-seed', 1)[0]}, other seeds")
    ref = next((r["fvd"] for r in rows if r["point"] == "ddpm-1000"), None)
    if ref:
        ax.axhline(ref, color="grey", lw=0.8, ls="--", label="DDPM-1000")
        ax.axhline(1.1 * ref, color="grey", lw=0.8, ls=":", label="DDPM-1000 + 10%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="network evaluations per video (NFE)", ylabel="FVD (lower is better, log)",
           title=f"showcase model, {PROTOCOL} (n={rows[0]['num_videos']})")
    ax.legend(fontsize=8)
    if guided:
        base = guided[0]["point"].rsplit("-w", 1)[0]
        pts = sorted((r["guidance"], r["fvd"]) for r in rows if r["point"] == base or r in guided)
        axes[0, 1].plot(*zip(*pts, strict=True), marker="o")
        axes[0, 1].set(xlabel="guidance W", ylabel="FVD", title=f"classifier-free guidance at {base}")
    fig.tight_layout()
    from ramvid.utils import atomic_path

    with atomic_path(PLOT) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    from benchmarks.results import write_rows

    write_rows(path, rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=("run", "time", "long", "extra", "report"))
    ap.add_argument("--points", default="", help="comma-separated point names (default: all)")
    ap.add_argument("--best", default=None, help="curve point for the guidance and seed points, or auto")
    ap.add_argument("--derived-only", action="store_true", help="only the --best guidance and seed points")
    ap.add_argument("--num-videos", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # one core: the machine is shared; speed is only reported as ratios
    if args.stage == "extra":
        names = args.points.split(",") if args.points else list(EXTRA)
        unknown = sorted(set(names) - set(EXTRA))
        if unknown:
            raise SystemExit(f"--points: unknown {unknown}; extra points: {', '.join(EXTRA)}")
        return extra_points(names, args.num_videos, args.batch_size)
    points = all_points(args.best, args.num_videos)
    if args.points:
        wanted = args.points.split(",")
        unknown = sorted(set(wanted) - {p.name for p in points})
        if unknown:
            raise SystemExit(f"--points: unknown {unknown}; known: {', '.join(p.name for p in points)}")
        points = [p for p in points if p.name in wanted]
    if args.derived_only:
        points = points[len(curve_points()):]
    if args.stage == "run":
        run_points(points, args.num_videos, args.batch_size)
    elif args.stage == "time":
        time_samplers(points, args.batch_size)
    elif args.stage == "long":
        from benchmarks.perf.long_video_quality import long_videos

        long_videos(PROTOCOL, WORK, RESULTS / "sampler_quality_long.csv", args.num_videos, args.batch_size)
    else:
        report(points, args.num_videos)


if __name__ == "__main__":
    main(sys.argv[1:])
