"""Where a number came from: versions, code, machine and command line, for every row and ``--json``.

``collect(device)`` is the environment part (package version, git hash and dirty flag, torch /
numpy / scipy versions, the device's name, threads, precision, ``sys.argv``); ``run_fields`` adds
what a run measured with (sampler, NFE, guidance, seeds, N, extractor weights, the interval).
Git is asked through a subprocess with a timeout; outside a checkout every git field is "unknown".
"""
from __future__ import annotations

import functools
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

# Sampling runs the network in float32 (ramvid has no reduced-precision sampling path); I3D / C3D
# logits are float32, their statistics and the Fréchet distance float64.
PRECISION = "float32 (statistics float64)"


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str, str]:
    """(HEAD commit, "true"/"false" for uncommitted changes to tracked files), or "unknown"s."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=5,
                                  check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None:
        return "unknown", "unknown"
    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = "unknown" if status is None else str(bool(status.strip())).lower()
    return head.strip(), dirty


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ramvid-bench")
    except PackageNotFoundError:
        from ramvid import __version__

        return f"{__version__} (not installed)"


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: Any = None) -> str:
    """"cuda:0 NVIDIA H100 ..." for a CUDA device, else "cpu <model>"."""
    import torch

    dev = torch.device(str(device)) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"cuda:{index} {torch.cuda.get_device_name(index)}"
    return f"cpu {cpu_name()}"


def collect(device: Any = None) -> dict[str, Any]:
    """The environment fields of a results row / ``--json`` output (see the module docstring)."""
    import numpy
    import scipy
    import torch

    head, dirty = git_state()
    return {"package_version": package_version(), "git_hash": head[:12] if head != "unknown" else head,
            "git_dirty": dirty, "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "python": platform.python_version(),
            "device_name": device_name(device), "threads": torch.get_num_threads(),
            "precision": PRECISION, "argv": shlex.join(sys.argv)}


def run_fields(p: Any, extra: dict[str, Any], *, nfe: Any = "", seeds: tuple[int, ...] | None = None,
               device: Any = None) -> dict[str, Any]:
    """A run's row fields beyond the protocol's: environment, sampler settings, N, the interval.

    ``p`` is the resolved protocol, ``extra`` what scoring measured (``benchmarks.scoring.Score.extra``).
    Nested values (the interval's details, the 1/N fit's points) are one JSON cell, ``uncertainty``.
    """
    row = collect(device)
    row.update({"nfe": nfe, "guidance": getattr(p, "guidance", ""), "eta": getattr(p, "eta", ""),
                "quantize": getattr(p, "quantize", ""),
                "seeds": ",".join(map(str, seeds)) if seeds else str(p.seed)})
    for key, value in extra.items():
        row[key] = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
    return row
