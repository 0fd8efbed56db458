"""``ramvid-bench demo``: the README's main job on embedded data, from a clean clone in minutes.

Evaluates the stored showcase model (shipped in ``benchmarks/assets/checkpoints/``) and the
``copy-last`` baseline on a small ``shapes-prediction`` workload, prints the table and writes a GIF of
real vs predicted clips (rows labelled, known frames marked); then samples a few ``shapes-infilling``
clips (first and last two frames known) to a GIF and an ``.npz``; last, writes the HTML report of
both runs and the showcase model's training loss (``report/index.html``) and prints its path. It
never trains: without the stored checkpoint it stops with FileNotFoundError saying where the file
was expected.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from benchmarks.assets import asset, paper_csv, showcase_checkpoint
from benchmarks.report import build_report
from benchmarks.runner import RunSpec, run
from benchmarks.tables import render


def demo(out_dir: str | os.PathLike = "demo-out", *, protocol: str = "shapes-prediction",
         num_videos: int = 16, sampler_steps: int | None = None, batch_size: int = 16,
         device: str | None = None, progress: bool = True, echo: Callable[[str], None] = print) -> str:
    """Run the demo; returns the rendered table. Outputs: ``out_dir``/{runs.csv, <protocol>.gif,
    report/index.html}."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it will hold runs.csv, GIFs and samples)")
    ckpt = showcase_checkpoint()  # FileNotFoundError (where, how to get it) before any work
    runs_csv = out / "runs.csv"
    gif = out / f"{protocol}.gif"
    common = dict(protocol=protocol, num_videos=num_videos, batch_size=batch_size, device=device,
                  results=str(runs_csv), progress=progress)
    work_dirs = []
    for name, extra in (("copy-last", {"baseline": "copy-last"}),
                        ("model", {"ckpt": str(ckpt), "sampler_steps": sampler_steps, "gif": str(gif)})):
        res = run(RunSpec(out_dir=str(out / "work" / name), **common, **extra))
        work_dirs.append(res.work_dir)
        echo(f"{protocol} {name}: {res.protocol.metric.upper()} {res.value:.2f} "
             f"(n={res.protocol.num_videos}, {res.row['wall_s']}s)")
    table = render(paper_csv(), runs_csv, table="embedded", protocol=protocol)
    echo(table)
    echo(f"GIF of real (top) vs predicted (bottom) clips, known frames green, generated red: {gif}")
    infill = infill_samples(ckpt, out, device=device, steps=sampler_steps, progress=progress)
    echo(f"infilling samples (known frames 0, 1, 14, 15): {infill} and {infill.with_suffix('.npz')}")
    index = build_report(work_dirs, results=runs_csv, train_dirs=[asset("checkpoints/showcase-loss.jsonl")],
                         out=out / "report", title=f"ramvid-bench demo: {protocol}")
    echo(f"report (open in a browser): {index.resolve()}")
    return table


def infill_samples(ckpt: Path, out: Path, *, num: int = 4, protocol: str = "shapes-infilling",
                   steps: int | None = None, device: str | None = None, progress: bool = True) -> Path:
    """Sample ``num`` test clips of ``protocol`` with its known frames and sampler; write a GIF and an npz."""
    from benchmarks.protocols import get_protocol
    from ramvid.checkpoint import load_model
    from ramvid.data import open_dataset
    from ramvid.sampling import generate
    from ramvid.utils import resolve_device
    from ramvid.video import grid_frames, save_npz, write_gif

    p = get_protocol(protocol)
    dev = resolve_device(device)
    model, config, _ = load_model(ckpt, device=dev)
    known = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution,
                         seed=p.data_seed).clips(range(num))
    videos = generate(model, config, known, p.cond, steps=steps or p.sampler_steps, seed=p.seed,
                      batch_size=num, device=dev, sampler=p.sampler, resample=p.resample,
                      guidance=p.guidance, eta=p.eta, quantize=p.quantize, progress=progress)
    save_npz(out / f"{protocol}.npz", videos)
    return write_gif(out / f"{protocol}.gif", grid_frames([known, videos], known=p.cond))
