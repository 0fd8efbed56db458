"""Long videos against real ones: the showcase model's 64-frame ``shapes`` videos, both schemes.

Usage: ``python -m benchmarks.perf.sampler_quality long``, resumable per scheme (the generated
videos are kept in the work dir). Writes ``results/sampler_quality_long.csv``: FVD of the last and
of the first 16-frame window of the generated videos against the same videos' real frames there,
and the scale of two real sets.
"""
from __future__ import annotations

import time
from pathlib import Path

from benchmarks.assets import showcase_checkpoint
from benchmarks.protocols import get_protocol
from benchmarks.results import write_rows


def long_videos(protocol: str, work: Path, out: Path, num_videos: int, batch_size: int, total: int = 64,
                context: int = 4, steps: int = 25) -> None:
    """FVD of the last 16-frame window of 64-frame videos (4 given frames) per scheme, DDIM ``steps``.

    Reference: the real clips' frames at the same offset. Scale: a disjoint set of real windows at
    that offset (videos N..2N-1), and the first window of the same samples.
    """
    from metrics.fvd import compute_fvd
    from ramvid.checkpoint import load_model
    from ramvid.data import open_dataset
    from ramvid.long_video import SCHEMES, generate_long, make_plan
    from ramvid.utils import git_hash
    from ramvid.video import load_npz, save_npz

    model, config, _ = load_model(showcase_checkpoint(), use_ema=True, device="cpu")
    window = config.frames
    p = get_protocol(protocol)
    source = open_dataset(p.dataset, p.split, frames=total, resolution=p.resolution, seed=p.data_seed)
    real = source.clips(list(range(num_videos)))
    last = slice(total - window, total)
    other = source.clips(list(range(num_videos, 2 * num_videos)))
    rows = [{"scheme": "real (videos N..2N-1)", "context": "", "num_videos": num_videos, "windows": "",
             "fvd_last_window": compute_fvd(real[:, last], other[:, last]),
             "fvd_first_window": compute_fvd(real[:, :window], other[:, :window]), "seconds": "",
             "git_hash": ""}]
    for scheme in SCHEMES:
        path = work / f"long-{scheme}-{total}-c{context}-ddim{steps}-n{num_videos}.npz"
        t0 = time.time()
        if path.is_file():  # resumable at the granularity of a scheme
            fake = load_npz(path)
        else:
            fake = generate_long(model, config, real, p.cond, total_frames=total, scheme=scheme,
                                 context=context, sampler="ddim", steps=steps, batch_size=batch_size,
                                 device="cpu", progress=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_npz(path, fake)
        rows.append({"scheme": scheme, "context": context, "num_videos": num_videos,
                     "windows": len(make_plan(scheme, total, window, p.cond, context)),
                     "fvd_last_window": compute_fvd(real[:, last], fake[:, last]),
                     "fvd_first_window": compute_fvd(real[:, :window], fake[:, :window]),
                     "seconds": round(time.time() - t0), "git_hash": git_hash()})
        print(rows[-1], flush=True)
    write_rows(out, rows)

