"""Training examples: clip, condition mask, timestep and noise per (seed, step, item).

Example ``item`` of step ``step`` draws everything from ``make_generator(seed, step, item)``, so
the examples do not depend on the micro-batch size, on resuming, or on which process draws them.
Under torchrun, rank r of G trains the examples with item mod G == r (``micro_batches``), so a step
sees the same examples for any G. ``Batches`` draws them in the training process or, with
``workers`` > 0, ahead of time in spawned worker processes (the same numbers either way).
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

import numpy as np
import torch

from ramvid import masking
from ramvid.config import RamvidConfig, TrainConfig
from ramvid.utils import make_generator

Batch = tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor]


class ClipSource(Protocol):
    """What training needs from a ``ramvid.data.VideoSource``."""

    def random_clip(self, generator: torch.Generator) -> np.ndarray: ...  # uint8 [T, H, W, 3]


def micro_batches(train: TrainConfig, rank: int = 0, size: int = 1) -> list[range]:
    """The example indices of each micro-batch that rank ``rank`` of ``size`` runs in one step.

    The rank's examples are ``range(rank, batch_size, size)``, cut into pieces of ``micro_batch``
    (the last one shorter when ``micro_batch`` does not divide them). One process: consecutive
    ranges, ``[range(0, mb), range(mb, 2 mb), ...]``.
    """
    mine = range(rank, train.batch_size, size)
    return [mine[a:a + train.micro_batch] for a in range(0, len(mine), train.micro_batch)]


def draw_batch(dataset: ClipSource, config: RamvidConfig, seed: int, step: int, items: range) -> Batch:
    """Examples ``items`` of step ``step``, each from its own generator (seed, step, item).

    Returns clips uint8 [B,T,H,W,3], cond masks bool [B,T], t int64 [B], noise float32 [B,3,T,H,W].
    """
    clips, masks, ts, noises = [], [], [], []
    t_frames, res = config.frames, config.resolution
    for i in items:
        g = make_generator(seed, step, i)
        clip = np.asarray(dataset.random_clip(g))
        if clip.shape != (t_frames, res, res, 3) or clip.dtype != np.uint8:
            raise ValueError(f"dataset gives clips {clip.dtype} {list(clip.shape)} but the config needs "
                             f"uint8 [{t_frames}, {res}, {res}, 3]; open it with frames={t_frames}, "
                             f"resolution={res}")
        clips.append(clip)
        masks.append(masking.draw_train_masks(1, t_frames, config.mask.p_uncond, config.mask.max_cond, g)[0])
        ts.append(torch.randint(config.diffusion.steps, (1,), generator=g))
        noises.append(torch.randn((3, t_frames, res, res), generator=g))
    return np.stack(clips), torch.stack(masks), torch.cat(ts), torch.stack(noises)


_WORKER: dict[str, Any] = {}


def _worker_init(dataset: ClipSource, config: RamvidConfig, seed: int, parent: int) -> None:
    _exit_with_parent(parent)
    torch.set_num_threads(1)
    _WORKER.update(dataset=dataset, config=config, seed=seed)


def _exit_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """End this worker when the training process ``parent`` dies, even by SIGKILL (which runs no cleanup).

    An orphan is adopted by another process, so its parent pid changes; a daemon thread polls it.
    ``parent`` is passed in, not read here, so a parent that died before this ran is noticed too.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_draw(step: int, start: int, stop: int, stride: int = 1) -> tuple[np.ndarray, ...]:
    w = _WORKER
    batch = draw_batch(w["dataset"], w["config"], w["seed"], step, range(start, stop, stride))
    return tuple(np.asarray(x) for x in batch)  # numpy pickles by value (no shared-memory handles)


class Batches:
    """The training examples of (step, items): drawn here, or ahead of time by worker processes.

    Every example comes from its own generator (seed, step, item), so workers change when the
    numbers are made, never what they are. With ``workers`` > 0 the micro-batches that rank
    ``rank`` of ``size`` runs (``micro_batches``) in the next ``2 * workers`` steps are queued; a
    request out of that order is drawn on demand.
    """

    def __init__(self, dataset: ClipSource, config: RamvidConfig, seed: int, *, workers: int = 0,
                 rank: int = 0, size: int = 1) -> None:
        self.dataset, self.config, self.seed = dataset, config, seed
        self.rank, self.size = rank, size
        self.pending: dict[tuple[int, int, int, int], Future] = {}
        self.queued = 0  # steps below this have been queued
        self.depth = 2 * workers  # steps queued ahead
        self.pool = None
        if workers > 0:
            try:
                pickle.dumps(dataset)
            except Exception as e:  # noqa: BLE001 - any pickling failure means the same fix
                raise ValueError(f"workers={workers}: dataset {type(dataset).__name__} cannot be sent to "
                                 f"worker processes ({type(e).__name__}: {e}); use --workers 0") from None
            ctx = multiprocessing.get_context("spawn")  # no fork after CUDA init
            self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                            initargs=(dataset, config, seed, os.getpid()))

    def __call__(self, step: int, items: range) -> Batch:
        if self.pool is None:
            return draw_batch(self.dataset, self.config, self.seed, step, items)
        self.queued = max(self.queued, step)
        while self.queued < step + self.depth:
            for r in micro_batches(self.config.train, self.rank, self.size):
                self.pending[(self.queued, r.start, r.stop, r.step)] = self.pool.submit(
                    _worker_draw, self.queued, r.start, r.stop, r.step)
            self.queued += 1
        for old in [k for k in self.pending if k[0] < step]:  # skipped steps: drop their work
            self.pending.pop(old).cancel()
        key = (step, items.start, items.stop, items.step)
        future = self.pending.pop(key, None) or self.pool.submit(_worker_draw, *key)
        clips, mask, t, noise = future.result()
        return clips, torch.from_numpy(mask), torch.from_numpy(t), torch.from_numpy(noise)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool, self.pending = None, {}
