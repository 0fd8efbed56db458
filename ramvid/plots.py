"""Training curves for people: ``loss.png`` from a run's ``log.jsonl``, and TensorBoard event files.

``log.jsonl`` holds one JSON object per logged step: ``step``, ``loss``, ``grad_norm``, ``lr``,
``seconds``. matplotlib (Agg, no display needed) and TensorBoard are imported only when used;
TensorBoard is optional (``pip install "ramvid-bench[tensorboard]"``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ramvid.utils import atomic_path, note

TENSORBOARD_HINT = 'pip install "ramvid-bench[tensorboard]"'
LOG_KEYS = ("loss", "grad_norm", "lr", "seconds")
_MAX_POINTS = 4000  # raw points drawn per curve; the running mean uses every point


def read_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``log.jsonl`` -> {"step": int64 [n], "loss": float64 [n], ...} (keys the lines carry), by step.

    A cut last line (a run killed mid-write) is skipped; any other bad line is one ValueError naming
    the file and line. A resumed run may log a step twice: the later line wins.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such training log (a training run folder holds log.jsonl)")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    by_step: dict[int, dict[str, Any]] = {}
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            by_step[int(row["step"])] = row
        except (ValueError, KeyError, TypeError) as e:
            if n == len(lines):  # the line a killed run was writing
                break
            raise ValueError(f"{path} line {n}: not a log line with a step ({type(e).__name__}); fix or "
                             "delete it") from None
    if not by_step:
        raise ValueError(f"{path}: no logged steps yet")
    steps = sorted(by_step)
    out = {"step": np.asarray(steps, np.int64)}
    for key in LOG_KEYS:
        if all(key in by_step[s] for s in steps):
            out[key] = np.asarray([float(by_step[s][key]) for s in steps], np.float64)
    return out


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start) -> same shape [n]."""
    window = max(1, int(window))
    total = np.cumsum(np.concatenate([[0.0], values]))
    idx = np.arange(1, len(values) + 1)
    return (total[idx] - total[np.maximum(idx - window, 0)]) / np.minimum(idx, window)


def write_loss_curve(log_jsonl: str | os.PathLike, png: str | os.PathLike, title: str | None = None) -> Path:
    """Draw loss (raw and running mean, log scale) and gradient norm against step as a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    log = read_log(log_jsonl)
    if "loss" not in log:
        raise ValueError(f"{log_jsonl}: its lines carry no 'loss'")
    steps, stride = log["step"], max(1, len(log["step"]) // _MAX_POINTS)
    window = max(1, len(steps) // 50)
    panels = [k for k in ("loss", "grad_norm") if k in log]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, key in zip(axes[0], panels, strict=True):
        values = log[key]
        ax.plot(steps[::stride], values[::stride], color="#9db4d6", linewidth=0.6, label="logged")
        ax.plot(steps, running_mean(values, window), color="#1f4e9c", linewidth=1.4,
                label=f"mean of {window}" if window > 1 else None)
        if np.all(values > 0):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(key.replace("_", " "))
        ax.grid(True, alpha=0.3)
        if window > 1:
            ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(title or f"{Path(log_jsonl).parent.name or Path(log_jsonl).name}: step {int(steps[-1])}",
                 fontsize=10)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(png)


def event_writer(log_dir: str | os.PathLike, purge_step: int | None = None) -> Any:
    """A TensorBoard ``SummaryWriter`` on ``log_dir``; one line with the install command when missing.

    ``purge_step``: on resume, events of an earlier attempt at steps >= it are hidden (as ``log.jsonl``
    is cut back to the checkpoint's step).
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch raises this when the tensorboard package is absent
        raise ValueError(f"--log-dir {log_dir}: TensorBoard is not installed ({e}); get it with "
                         f"{TENSORBOARD_HINT}") from None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


class TrainingPlots:
    """What a training run writes for people besides ``log.jsonl``: ``loss.png`` at every checkpoint
    and, with ``log_dir``, TensorBoard scalars ``train/<key>`` at every logged step (rank 0 only)."""

    def __init__(self, out_dir: str | os.PathLike, log_dir: str | os.PathLike | None = None,
                 start_step: int = 0) -> None:
        self.out_dir = Path(out_dir)
        self.writer = None if log_dir is None else event_writer(log_dir, purge_step=start_step + 1)

    def log(self, row: dict[str, Any]) -> None:
        """One ``log.jsonl`` row (step, loss, grad_norm, lr, seconds) to TensorBoard, if enabled."""
        if self.writer is not None:
            for key in LOG_KEYS:
                if key in row:
                    self.writer.add_scalar(f"train/{key}", float(row[key]), int(row["step"]))

    def checkpoint(self) -> Path | None:
        """Redraw ``loss.png`` from ``log.jsonl`` and flush TensorBoard. A picture that cannot be drawn
        is one line on stderr, never the end of a training run; returns None then (or when nothing
        is logged yet)."""
        if self.writer is not None:
            self.writer.flush()
        log = self.out_dir / "log.jsonl"
        if not log.is_file():
            return None
        try:
            return write_loss_curve(log, self.out_dir / "loss.png")
        except (OSError, ValueError, ImportError) as e:
            note(f"{self.out_dir / 'loss.png'}: not drawn ({type(e).__name__}: {e}); training goes on")
            return None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
