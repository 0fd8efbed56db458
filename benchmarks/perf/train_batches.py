"""Throughput of training-batch drawing: ``Batches`` with worker processes vs drawn in-process.

Usage: python benchmarks/perf/train_batches.py [--data shapes] [--batch 64] [--steps 20] [--workers 2]

Draws ``--steps`` steps of ``--batch`` clips (+ masks, t, noise) for the ``tiny`` preset, first
in this process (``workers=0``, the baseline), then with ``--workers`` spawned processes; the
model is left out, so this is the rate at which the data side can feed a GPU. Prints seconds per
step for both and their ratio, and checks that both drew identical numbers.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from ramvid.batches import Batches
from ramvid.config import get_preset
from ramvid.data import open_dataset


def draw(batches: Batches, steps: int, batch: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [batches(s, range(batch)) for s in range(steps)]
    return (time.perf_counter() - t0) / steps, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="shapes")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = get_preset("tiny")
    config = config.replace(train=dataclasses.replace(config.train, batch_size=args.batch,
                                                      micro_batch=args.batch))
    source = open_dataset(args.data, "train", frames=config.frames, resolution=config.resolution)
    base, ref = draw(Batches(source, config, 0), args.steps, args.batch)
    pool = Batches(source, config, 0, workers=args.workers)
    try:
        for f in [pool.pool.submit(int) for _ in range(args.workers)]:  # start-up is not throughput
            f.result()
        fast, got = draw(pool, args.steps, args.batch)
    finally:
        pool.close()
    same = all(np.array_equal(a[0], b[0]) and all(map(torch.equal, a[1:], b[1:]))
               for a, b in zip(ref, got, strict=True))
    print(f"{args.data}, batch {args.batch}, {args.steps} steps: in-process {base:.3f} s/step, "
          f"{args.workers} workers {fast:.3f} s/step, ratio {base / fast:.2f}x, identical: {same}")


if __name__ == "__main__":
    main()
