"""Small local helpers (metrics/ stands alone: no ramvid import): cache dir, atomic and checked cache
files, devices."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

_T = TypeVar("_T")


def cache_dir(sub: str = "") -> Path:
    """The one cache directory: ``$RAMVID_CACHE`` (default ``~/.cache/ramvid``), plus ``sub``."""
    root = Path(os.environ.get("RAMVID_CACHE") or Path.home() / ".cache" / "ramvid")
    return root / sub if sub else root


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None``/"auto" picks CUDA when available, else CPU; anything else is forced."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):  # torch's message lists twenty device types and no flag
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: not a device; use cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices here; "
                         f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return dev


# --- cache files: every file carries a sha256 of its contents, checked on every read -----------------


class CacheWarning(UserWarning):
    """A cache file was unreadable, failed its checksum, or could not be written; the value is right."""


class CacheCorrupt(Exception):
    """Raised by a cache parser: the file is not what was written (the message completes
    "cache: <path> ...; rebuilding")."""


def arrays_sha256(arrays: Mapping[str, Any]) -> str:
    """sha256 of named arrays (numpy or torch; sorted by name): each name, dtype, shape and C-order bytes.

    The digest of the values themselves, so it names the numbers actually used whatever the file format.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        a = a.detach().cpu().contiguous().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a)
        h.update(f"{name}|{a.dtype.str}|{list(a.shape)}\n".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def cache_warning(path: str | os.PathLike, what: str) -> None:
    """The one-line warning for a cache file: ``cache: <path> <what>``."""
    warnings.warn(f"cache: {path} {what}", CacheWarning, stacklevel=3)


def read_cache(path: str | os.PathLike, parse: Callable[[bytes], _T]) -> _T | None:
    """``parse(bytes)`` of a cache file, or None when it is absent or bad (bad: one warning line).

    The bytes are read once, so the checksum ``parse`` verifies is that of the bytes it then uses.
    ``parse`` raises ``CacheCorrupt`` when the file fails its checksum.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        cache_warning(path, f"cannot be read ({e.strerror or e}); rebuilding")
        return None
    try:
        return parse(data)
    except CacheCorrupt as e:
        cache_warning(path, f"{e}; rebuilding")
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes the parser raise, rebuild it
        first = (str(e).strip().splitlines() or [""])[0][:120]
        cache_warning(path, f"is unreadable ({type(e).__name__}: {first}); rebuilding")
    return None


def write_cache(path: str | os.PathLike, write: Callable[[Path], None]) -> bool:
    """``write(tmp)`` then rename onto ``path`` (atomic); a cache that cannot be written is a warning.

    A read-only ``$RAMVID_CACHE``, one under a regular file, or a full disk must not lose a computed
    value: the caller still returns it, and the next run computes it again.
    """
    try:
        with atomic_path(path) as tmp:
            write(tmp)
    except OSError as e:
        cache_warning(path, f"cannot be written ({e.strerror or e}); the value is used but not cached")
        return False
    return True
