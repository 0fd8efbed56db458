"""Videos per second of ``prepare videos`` on generated clips, with 1 and 2 worker processes.

    python benchmarks/perf/prepare_throughput.py [--videos 24] [--frames 60] [--width 160 --height 120]

Clips are H.264 MP4s of moving shapes (``shapes`` frames upscaled), decoded and resized to 64x64.
Each setting writes a fresh output; the clip folder is shared. Timings include listing, decoding,
resizing, shard writes and the final merge (the whole command).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ramvid.data import open_dataset
from ramvid.data.prepare import prepare_videos


def make_clips(folder: Path, n: int, frames: int, width: int, height: int) -> None:
    src = open_dataset("shapes", "test", frames=frames, resolution=64, test_size=n)
    for i in range(n):
        with av.open(str(folder / f"clip{i:04d}.mp4"), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
            for f in src.clip(i):
                img = np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR))
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=24)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=120)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        clips.mkdir()
        make_clips(clips, args.videos, args.frames, args.width, args.height)
        print(f"{args.videos} clips, {args.frames} frames {args.width}x{args.height} H.264 -> "
              f"{args.resolution}x{args.resolution}")
        rates = {}
        for w in args.workers:
            t0 = time.perf_counter()
            report = prepare_videos(clips, Path(tmp) / f"out{w}.h5", resolution=args.resolution,
                                    workers=w, progress=False)
            dt = time.perf_counter() - t0
            assert report["videos"] == args.videos, report["skipped"]
            rates[w] = args.videos / dt
            print(f"workers={w}: {rates[w]:.2f} videos/s ({dt:.2f} s, "
                  f"{rates[w] * args.frames:.0f} frames/s)")
        if len(rates) >= 2:
            lo, hi = min(rates), max(rates)
            print(f"speed-up {hi} vs {lo} workers: {rates[hi] / rates[lo]:.2f}x")


if __name__ == "__main__":
    main()
