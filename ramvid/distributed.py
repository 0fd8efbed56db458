"""PyTorch's own distributed engine (torchrun + ``torch.distributed``), in the few calls jobs need.

A job started by ``torchrun`` finds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment;
``init()`` joins the process group (NCCL for CUDA devices, gloo on CPU) and returns this process's
``World``. A plain process is a world of one: every helper below is then a no-op, so single-process
code needs no branches.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` of ``size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs and results rows."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def env_world() -> World:
    """The world torchrun describes in the environment (a world of one without it)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(rank=int(os.environ["RANK"]), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def init(device: torch.device | None = None, timeout_minutes: float = 30.0) -> World:
    """Join the process group torchrun set up (once); returns the world. No-op for one process.

    ``device``: the job's device type decides the backend (NCCL for CUDA, gloo otherwise); a CUDA
    job uses ``cuda:LOCAL_RANK`` (see ``local_device``).
    """
    world = env_world()
    if not world.active or (dist.is_available() and dist.is_initialized()):
        return world
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed; run one process")
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return world


def local_device(device: torch.device, world: World) -> torch.device:
    """``cuda`` -> ``cuda:LOCAL_RANK`` under torchrun; any other device unchanged."""
    if device.type == "cuda" and world.active:
        return torch.device("cuda", world.local_rank)
    return device


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def any_true(flag: bool, world: World) -> bool:
    """True on every rank when ``flag`` is True on any rank (e.g. "out of time", "failed")."""
    if not world.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def sum_float(value: float, world: World) -> float:
    """The sum of ``value`` over ranks (float64), the same on every rank."""
    if not world.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return float(t.item())


def broadcast_object(obj: Any, world: World, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (pickled; small objects only)."""
    if not world.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


@contextlib.contextmanager
def sigterm_exits(world: World) -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit(143), so ``finally`` blocks and ``atomic_path`` clean up.

    torchrun stops the surviving ranks with SIGTERM when one rank fails; by default that kills a
    rank mid-write and leaves its temp file. Outside this block SIGTERM keeps its old action (a
    rank blocked in a collective would not run a Python handler anyway). One process, or a thread
    other than the main one: no change.
    """
    if not world.active or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _comm_device() -> torch.device:
    nccl = dist.get_backend() == "nccl"
    return torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")


def shutdown(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()
