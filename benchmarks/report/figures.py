"""Pictures of the report as data URIs (the page is one self-contained file): sample grids, and
matplotlib plots (Agg) of a metric against NFE and against training step, and the training loss."""
from __future__ import annotations

import base64
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DIRECTION = {"fvd": "↓", "is": "↑"}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_uri(image: np.ndarray) -> str:
    """uint8 [H, W, 3] -> a PNG data URI."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=True)
    return data_uri(buf.getvalue(), "image/png")


def video_uri(frames: np.ndarray, fps: float = 4) -> str:
    """uint8 [T, H, W, 3] -> a looping GIF data URI (every browser animates GIF in an <img>)."""
    from ramvid.video import write_video

    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "grid.gif", frames, fps=fps)
        return data_uri(path.read_bytes(), "image/gif")


def file_uri(path: str | os.PathLike) -> str:
    return data_uri(Path(path).read_bytes(), "image/png")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig: Any) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return data_uri(buf.getvalue(), "image/png")


def row_interval(row: dict[str, str]) -> tuple[float, float] | None:
    """The row's bootstrap interval (``ci_low``/``ci_high``, or ``<metric>_ci_low``/``_ci_high``)."""
    metric = row.get("metric", "")
    low = row.get("ci_low") or row.get(f"{metric}_ci_low")
    high = row.get("ci_high") or row.get(f"{metric}_ci_high")
    return (float(low), float(high)) if low and high else None


def _errors(rows: Sequence[dict[str, str]]) -> np.ndarray | None:
    """[2, n] error bar lengths per point: its bootstrap interval, else its std over repeats, else
    none (0); None when no point has either."""
    out = np.zeros((2, len(rows)))
    for i, r in enumerate(rows):
        value, ci = float(r["value"]), row_interval(r)
        if ci is not None:
            out[:, i] = max(value - ci[0], 0), max(ci[1] - value, 0)
        elif r.get("std"):
            out[:, i] = float(r["std"])
    return out if out.any() else None


def series_plot(title: str, xlabel: str, series: dict[str, list[tuple[float, dict[str, str]]]],
                baselines: dict[str, float] | None = None, log_x: bool = False) -> str:
    """One line per series of (x, row) points, error bars when the rows carry them (CI or std);
    ``baselines`` as dashed horizontal lines. Returns a PNG data URI."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    metric = next(iter(series.values()))[0][1]["metric"]
    for label, points in series.items():
        points = sorted(points, key=lambda p: p[0])
        xs = [x for x, _ in points]
        ys = [float(r["value"]) for _, r in points]
        ax.errorbar(xs, ys, yerr=_errors([r for _, r in points]), marker="o", capsize=3, label=label)
    for i, (label, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, linestyle="--", linewidth=1, color=f"C{(len(series) + i) % 10}", label=label)
    if log_x:  # NFE: log spaced, labelled with the values run
        ax.set_xscale("log")
        ticks = sorted({x for points in series.values() for x, _ in points})
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric.upper()} {DIRECTION.get(metric, '')}")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return figure_uri(fig)


def loss_uri(log_jsonl: str | os.PathLike, title: str) -> str:
    """The training loss curve (``ramvid.plots.write_loss_curve``) as a PNG data URI."""
    from ramvid.plots import write_loss_curve

    with tempfile.TemporaryDirectory() as tmp:
        return file_uri(write_loss_curve(log_jsonl, Path(tmp) / "loss.png", title=title))
