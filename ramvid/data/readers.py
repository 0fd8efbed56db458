"""The ``kind -> reader`` table: how each kind of ``WorkItem`` becomes videos.

Kept apart from ``pipeline.py`` so the pipeline knows no dataset format (``prepare.py`` passes the
table in) and ``bair.py`` / ``sources.py`` need only ``work.py``: no import cycles.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from ramvid.data.bair import read_tfrecord_videos
from ramvid.data.decode import DecodeOptions, decode_video
from ramvid.data.work import Reader, Readout, WorkItem


def read_skip_item(item: WorkItem, opts: DecodeOptions) -> Iterator[Readout]:
    """A known-bad entry (e.g. a listed file missing on disk): skipped with its reason."""
    yield item.key, None, item.reason


def read_video_item(item: WorkItem, opts: DecodeOptions) -> Iterator[Readout]:
    """One video file, named by its key; raises ``SkipVideo(reason)`` when it yields no video."""
    yield item.key, decode_video(item.path, opts), ""


def read_tfrecord_item(item: WorkItem, opts: DecodeOptions, view: str = "aux1") -> Iterator[Readout]:
    """Every sequence of one BAIR TFRecord file; a corrupt record is skipped, the others kept."""
    for name, frames, reason in read_tfrecord_videos(Path(item.path), item.key, opts, view):
        yield name, frames, (f"corrupt record {name}: {reason}" if frames is None else "")


def item_readers(bair_view: str = "aux1") -> dict[str, Reader]:
    """The table for ``run_prepare``: one reader per ``WorkItem.kind``."""
    return {"skip": read_skip_item, "video": read_video_item,
            "tfrecord": partial(read_tfrecord_item, view=bair_view)}
