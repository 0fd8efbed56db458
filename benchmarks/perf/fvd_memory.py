"""Peak memory of ``ramvid-bench fvd`` versus the number of videos (statistics are streamed).

Usage: python benchmarks/perf/fvd_memory.py [--counts 256,2048] [--real-i3d-counts 8,16]

Writes two .npy sets of uint8 9-frame 32x32 videos per count and runs the CLI in a fresh
subprocess that reports its own peak RSS (``resource.getrusage(RUSAGE_SELF)`` at exit). At 2,048 videos the
real I3D would take hours on a 2-core CPU, so the large counts replace only the network's forward
(``I3D.network``) by a cheap stand-in: reading, batching, the 224x224 resize and the float64
statistics all run for real. The real network runs at small counts (multiples of the batch size 8,
so that every run holds full batches) to show its share is constant.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

STUB = """
import torch, metrics.i3d as i3d
i3d.I3D.network = lambda self, x: x.mean(dim=(2, 3, 4)).repeat(1, 134)[:, :400].double().float()
"""
RUN = """
import atexit, resource
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
atexit.register(lambda: print("PEAK_RSS_KB", peak(), file=sys.stderr))
from benchmarks.cli import main
main(sys.argv[1:], standalone_mode=True)
"""


def peak_rss_mb(real: Path, fake: Path, stub: bool) -> tuple[float, dict]:
    """Run the CLI in a fresh interpreter; (its peak RSS in MB, its --json result)."""
    code = "import sys\n" + (STUB if stub else "") + RUN
    out = subprocess.run([sys.executable, "-c", code, "fvd", str(real), str(fake), "--json",
                          "--batch-size", "8", "--device", "cpu"], capture_output=True, text=True, check=True)
    kb = next(int(line.split()[1]) for line in out.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return kb / 1024, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description="peak RSS of ramvid-bench fvd vs N")
    p.add_argument("--counts", default="256,2048")
    p.add_argument("--real-i3d-counts", default="8,16")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for label, counts, stub in (("stand-in network", args.counts, True),
                                    ("real I3D", args.real_i3d_counts, False)):
            for n in (int(c) for c in counts.split(",") if c):
                paths = [Path(tmp) / f"{label[:4]}{n}_{k}.npy" for k in ("real", "fake")]
                for path in paths:
                    np.save(path, rng.integers(0, 256, (n, 9, 32, 32, 3), dtype=np.uint8))
                rss, res = peak_rss_mb(*paths, stub=stub)
                print(f"{label:16s} N = {n:5d} per set: peak RSS {rss:7.1f} MB "
                      f"(fvd {res['fvd']:.3f}, n_real {res['n_real']}, frames {res['frames']})", flush=True)


if __name__ == "__main__":
    main()
