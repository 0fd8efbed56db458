"""Small shared helpers: seeded generators, atomic writes (and their stale temp files), device choice,
git hash, one-line notes."""
from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
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


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" picks CUDA when available, else CPU; cpu, cuda, cuda:N are forced.

    Anything else, or a GPU that is not here, raises ValueError naming ``--device`` (torch's own
    RuntimeError lists twenty device types and no flag). Same meaning as ``metrics._io.resolve_device``.
    """
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: not a device; use cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices here; "
                         f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return dev


# atomic_path's temp files: "." + target name + "." + mkstemp's 8 random characters + ".tmp"
_TEMP_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


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


def clean_stale_temp(folder: str | os.PathLike, *, min_age_s: float = 60.0) -> tuple[int, int]:
    """Delete the temp files ``atomic_path`` left in ``folder`` when a writer was killed.

    Only plain files named like ours (``.<name>.<8 random>.tmp``, directly in ``folder``) whose last
    write is at least ``min_age_s`` seconds old, so a writer still at work there keeps its file;
    everything else is left alone. Returns (files removed, bytes removed); no folder gives (0, 0).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0, 0
    count = nbytes = 0
    now = time.time()
    for p in folder.iterdir():
        if not _TEMP_RE.match(p.name):
            continue
        try:
            st = p.lstat()
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < min_age_s:
                continue
            p.unlink()
        except FileNotFoundError:  # another cleaner or the writer got there first
            continue
        count, nbytes = count + 1, nbytes + st.st_size
    return count, nbytes


def note(message: str) -> None:
    """One line for the user on stderr (kept off stdout, which may carry results)."""
    print(message, file=sys.stderr, flush=True)


def git_hash(short: bool = True) -> str:
    """The repository's HEAD commit, or "unknown" outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out[:12] if short else out
