"""Small shared helpers: seeded generators, atomic writes, device choice, git hash."""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch


def seed_for(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from (seed, *keys), e.g. (seed, video index, sample index).

    Stable across processes, platforms and batch sizes (numpy's SeedSequence hashing).
    """
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *(int(k) for k in keys)]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def make_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` for (seed, *keys). CPU so streams match on every device."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed_for(seed, *keys))
    return g


def randn_per_item(shape: Sequence[int], generators: Sequence[torch.Generator],
                   device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal [len(generators), *shape]: row i drawn from generators[i] alone.

    Drawing per item (on CPU, then moving) is what makes results independent of batch size.
    """
    rows = [torch.randn(tuple(shape), generator=g, dtype=dtype) for g in generators]
    return torch.stack(rows).to(device)


def resolve_device(name: str | None = None) -> torch.device:
    """``None``/"auto" picks CUDA when available, else CPU; anything else is forced."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available here; use --device cpu")
    return dev


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then atomically move the result to ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def git_hash(short: bool = True) -> str:
    """The repository's HEAD commit, or "unknown" outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out[:12] if short else out
