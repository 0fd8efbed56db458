"""``ramvid-bench prepare ...``: raw datasets -> prepared HDF5 (thin wrappers over ramvid.data.prepare)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from benchmarks.cli import one_line_errors


def _common(f: Callable) -> Callable:
    opts = [
        click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .h5 file."),
        click.option("--resolution", default=64, show_default=True, help="Square frame size R."),
        click.option("--stride", default=1, show_default=True, help="Keep every k-th frame."),
        click.option("--workers", default=min(4, os.cpu_count() or 1), show_default=True,
                     help="Decoding processes (0: in-process)."),
        click.option("--shard-mb", default=256.0, show_default=True,
                     help="Commit finished videos to disk every this many MB (resume granularity)."),
        click.option("--retry-skipped", is_flag=True, help="Try again the files skipped by earlier runs."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _video_opts(f: Callable) -> Callable:
    f = click.option("--keep-truncated", is_flag=True,
                     help="Keep frames decoded before a mid-stream error instead of skipping the file.")(f)
    return click.option("--min-frames", default=16, show_default=True,
                        help="Skip videos with fewer frames (after --stride).")(f)


@one_line_errors
def _run(fn: Callable[..., dict], *args: Any, quiet: bool, **kw: Any) -> None:
    report = fn(*args, progress=not quiet, **kw)
    for split, s in report["splits"].items():
        click.echo(f"{split:>6}: {s['videos']} videos, {s['frames']} frames "
                   f"(length {s['min_len']}..{s['max_len']})")
    click.echo(f"skipped: {report['skipped_count']} {report['skipped_by_reason'] or ''}")
    click.echo(f"this run: {report['this_run']['items_processed']} files processed "
               f"in {report['this_run']['seconds']} s (files done by earlier runs are not redone)")
    click.echo(f"wrote {report['output']} (report: {report['report']})")


@click.group()
def prepare() -> None:
    """Convert raw datasets to HDF5 (resumable; bad files are skipped and listed in a report).

    \b
    ramvid-bench prepare bair --src softmotion30_44k/ --out bair64.h5
    ramvid-bench prepare ucf101 --src UCF-101/ --splits ucfTrainTestlist/ --fold 1 --out ucf64.h5
    ramvid-bench prepare kinetics --src kinetics600/ --out k600-64.h5
    ramvid-bench prepare videos --src my_videos/ --out mine.h5
    """


@prepare.command()
@click.option("--src", required=True, type=click.Path(exists=True),
              help="softmotion30_44k/ (TFRecords) or VideoGPT's bair.hdf5.")
@click.option("--view", type=click.Choice(["aux1", "main"]), default="aux1", show_default=True,
              help="Camera: aux1 (the one every BAIR benchmark uses) or main.")
@_common
def bair(src: str, out: str, quiet: bool, **kw: Any) -> None:
    """BAIR robot pushing (all 30 frames per sequence; CRC-checked TFRecords, no TensorFlow)."""
    from ramvid.data.prepare import prepare_bair

    _run(prepare_bair, src, out, quiet=quiet, **kw)


@prepare.command()
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False), help="UCF-101/ folder.")
@click.option("--splits", required=True, type=click.Path(exists=True, file_okay=False),
              help="ucfTrainTestlist/ folder.")
@click.option("--fold", type=click.IntRange(1, 3), default=1, show_default=True,
              help="Official train/test split 1, 2 or 3.")
@_video_opts
@_common
def ucf101(src: str, splits: str, out: str, quiet: bool, **kw: Any) -> None:
    """UCF-101 with an official train/test fold."""
    from ramvid.data.prepare import prepare_ucf101

    _run(prepare_ucf101, src, splits, out, quiet=quiet, **kw)


@prepare.command()
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False),
              help="kinetics600/ folder.")
@click.option("--annotations", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Annotation CSV (label,youtube_id,time_start,time_end,split); repeatable.")
@_video_opts
@_common
def kinetics(src: str, out: str, annotations: tuple[str, ...], quiet: bool, **kw: Any) -> None:
    """Kinetics(-600) clips; splits from train/val/test folders or the annotation CSVs."""
    from ramvid.data.prepare import prepare_kinetics

    _run(prepare_kinetics, src, out, annotations=list(annotations), quiet=quiet, **kw)


@prepare.command()
@click.option("--src", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of videos.")
@click.option("--split", default="train", show_default=True,
              help="Split name when the folder has no train/val/test sub-folders.")
@_video_opts
@_common
def videos(src: str, out: str, quiet: bool, **kw: Any) -> None:
    """Any folder of video files (mp4, avi, webm, mkv, mov, ...)."""
    from ramvid.data.prepare import prepare_videos

    _run(prepare_videos, src, out, quiet=quiet, **kw)
