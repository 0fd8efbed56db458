"""Work items of the preparation pipeline and the reader contract (imports only ``decode.py``).

Sources (``sources.py``, ``bair.py``) list ``WorkItem``s; the pipeline hands each to the reader
registered for its ``kind`` (the table is built in ``readers.py`` and passed in by ``prepare.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ramvid.data.decode import DecodeOptions


@dataclass(frozen=True)
class WorkItem:
    """One source unit: a video file, a TFRecord file of many sequences, or a known-bad entry."""

    key: str           # unique, source-relative (also the video name for single videos)
    path: str
    split: str
    label: int = -1
    kind: str = "video"  # video | tfrecord | skip: picks the reader
    reason: str = ""     # kind == "skip": why


# (video name, uint8 frames [T, R, R, 3], "") for a video, or (name, None, reason) for one skipped.
Readout = tuple[str, np.ndarray | None, str]
# reader(item, opts) -> its videos; may also raise ``SkipVideo(reason)`` to skip the whole item.
Reader = Callable[[WorkItem, DecodeOptions], Iterator[Readout]]
