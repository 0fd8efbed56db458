"""One function per raw dataset: raw files -> prepared HDF5 (+ ``<stem>.report.json``).

Every function returns the report dict (videos per split, skipped items and reasons). Common
keyword options: ``resolution``, ``stride``, ``min_frames``, ``workers`` (0: in-process),
``shard_mb``, ``retry_skipped``, ``keep_truncated``, ``progress``. See README.md in this folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ramvid.data.bair import convert_videogpt, is_videogpt_h5, list_tfrecords
from ramvid.data.decode import DecodeOptions
from ramvid.data.pipeline import check_output, run_prepare, write_report
from ramvid.data.readers import item_readers
from ramvid.data.sources import list_kinetics, list_ucf101, list_videos
from ramvid.data.work import WorkItem

_RUN_KEYS = ("workers", "shard_mb", "retry_skipped", "progress")


def _split(kw: dict[str, Any]) -> tuple[DecodeOptions, dict[str, Any]]:
    run = {k: kw.pop(k) for k in _RUN_KEYS if k in kw}
    return DecodeOptions(**kw), run


def _run(items: list[WorkItem], out: Path, dataset: str, classes: list[str], kw: dict) -> dict:
    opts, run = _split(kw)
    return run_prepare(items, out, opts, dataset=dataset, readers=item_readers(), classes=classes, **run)


def prepare_bair(src: str | Path, out: str | Path, *, view: str = "aux1", **kw: Any) -> dict:
    """BAIR from ``softmotion30_44k/`` TFRecords, or from VideoGPT's ``bair.hdf5`` (all 30 frames)."""
    src, out = Path(src), check_output(out)
    kw.setdefault("min_frames", 1)
    if is_videogpt_h5(src):
        opts, run = _split(kw)
        convert_videogpt(src, out, opts, progress=run.get("progress", True))
        return write_report(out)
    opts, run = _split(kw)
    return run_prepare(list_tfrecords(src), out, opts, dataset="bair", readers=item_readers(view), **run)


def prepare_ucf101(src: str | Path, splits: str | Path, out: str | Path, *, fold: int = 1, **kw: Any) -> dict:
    """UCF-101 ``.avi`` files with one official train/test fold."""
    items, classes = list_ucf101(Path(src), Path(splits), fold)
    return _run(items, Path(out), "ucf101", classes, kw)


def prepare_kinetics(src: str | Path, out: str | Path, *, annotations: list[str | Path] = (),
                     **kw: Any) -> dict:
    """Kinetics clips; splits and labels from the folder layout or the annotation CSVs."""
    items, classes = list_kinetics(Path(src), [Path(a) for a in annotations])
    return _run(items, Path(out), "kinetics", classes, kw)


def prepare_videos(src: str | Path, out: str | Path, *, split: str = "train", **kw: Any) -> dict:
    """Any folder of video files (``train/``/``val/``/``test/`` sub-folders give splits)."""
    items, classes = list_videos(Path(src), split)
    return _run(items, Path(out), "videos", classes, kw)
