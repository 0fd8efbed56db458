"""Turn a raw dataset folder into work items (file, split, label) for the preparation pipeline.

- videos: every file under ``src``; top-level ``train/``, ``val/`` (or ``validate/``), ``test/``
  folders give the split, else everything goes to ``split``; a first sub-folder gives the class.
- ucf101: the official ``ucfTrainTestlist/`` lists for one fold (train: ``trainlist0F.txt``,
  test: ``testlist0F.txt``), classes from ``classInd.txt``; paths matched case-insensitively.
- kinetics: like videos, or split and label from the annotation CSVs
  (``label,youtube_id,time_start,time_end,split``), matched on ``<id>_<start:06>_<end:06>`` or ``<id>``.
Files whose extension is not a video extension, or whose name is not valid UTF-8, become "skip"
items, so the report lists them.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from ramvid.data.decode import VIDEO_EXTENSIONS
from ramvid.data.layout import natural_key
from ramvid.data.work import WorkItem

SPLIT_DIRS = {"train": "train", "val": "val", "validate": "val", "valid": "val", "test": "test"}


def _files(src: Path) -> list[Path]:
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such folder; pass the dataset's root folder as --src")
    return sorted((p for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: natural_key(p.as_posix()))


def _key(src: Path, p: Path) -> tuple[str, bool]:
    """(item key, whether the name is valid UTF-8). An invalid name (bytes decoded with surrogates)
    cannot be stored in the HDF5 file or the report: its key spells the bad bytes as ``\\xNN``."""
    key = p.relative_to(src).as_posix()
    if _is_utf8(key):
        return key, True
    return os.fsencode(key).decode("utf-8", "backslashreplace"), False


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _item(src: Path, p: Path, split: str, label: int = -1) -> WorkItem:
    key, ok = _key(src, p)
    if not ok:
        return WorkItem(key, "", split, -1, "skip", "undecodable file name: not UTF-8; rename the file")
    if p.suffix.lower() not in VIDEO_EXTENSIONS:
        return WorkItem(key, str(p), split, label, "skip", f"not a video: extension {p.suffix or '(none)'!r}")
    return WorkItem(key, str(p), split, label)


def list_videos(src: Path, split: str = "train") -> tuple[list[WorkItem], list[str]]:
    """Items and class names for any folder of videos (see module docstring)."""
    files = _files(src)
    rels = [p.relative_to(src).parts for p in files]
    has_splits = any(len(r) > 1 and r[0] in SPLIT_DIRS for r in rels)
    rows = []
    for p in files:
        parts = p.relative_to(src).parts
        if has_splits:
            if len(parts) < 2 or parts[0] not in SPLIT_DIRS:
                continue
            rows.append((p, SPLIT_DIRS[parts[0]], parts[1] if len(parts) > 2 else None))
        else:
            rows.append((p, split, parts[0] if len(parts) > 1 else None))
    classes = sorted({c for _, _, c in rows if c is not None and _is_utf8(c)})  # bad names: skipped
    index = {c: i for i, c in enumerate(classes)}
    return [_item(src, p, s, index.get(c, -1)) for p, s, c in rows], classes


def list_ucf101(src: Path, lists: Path, fold: int) -> tuple[list[WorkItem], list[str]]:
    """Items of one official UCF-101 fold (1..3) and the 101 class names."""
    if fold not in (1, 2, 3):
        raise ValueError(f"UCF-101 fold must be 1, 2 or 3, got {fold}")
    names = {s: lists / f"{s}list0{fold}.txt" for s in ("train", "test")}
    for p in [lists / "classInd.txt", *names.values()]:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing; pass the official ucfTrainTestlist/ folder as --splits")
    classes = [line.split()[1] for line in (lists / "classInd.txt").read_text().split("\n") if line.strip()]
    by_class = {c.lower(): i for i, c in enumerate(classes)}
    on_disk = {p.relative_to(src).as_posix().lower(): p for p in _files(src)}
    items = []
    for split, listing in names.items():
        for line in listing.read_text().split("\n"):
            if not line.strip():
                continue
            rel = line.split()[0].replace("\\", "/")
            label = by_class.get(rel.split("/")[0].lower(), -1)
            p = on_disk.get(rel.lower())
            if p is None:
                items.append(WorkItem(rel, "", split, label, "skip", f"missing: listed in {listing.name}"))
            else:
                items.append(_item(src, p, split, label))
    return items, classes


def _read_annotations(paths: list[Path]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """{clip key or youtube id: (split, label)} and sorted class names from Kinetics CSVs."""
    table: dict[str, tuple[str, str]] = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such annotation CSV (e.g. kinetics600/train.csv)")
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                split = SPLIT_DIRS.get(row.get("split", "").strip(), row.get("split", "train").strip())
                vid, label = row["youtube_id"].strip(), row.get("label", "").strip()
                key = f"{vid}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
                table[key] = table[vid] = (split, label)
    return table, sorted({lab for _, lab in table.values() if lab})


def list_kinetics(src: Path, annotations: list[Path] = ()) -> tuple[list[WorkItem], list[str]]:
    """Kinetics items: from the folder layout, or split and label from annotation CSVs."""
    if not annotations:
        return list_videos(src)
    table, classes = _read_annotations(list(annotations))
    index = {c: i for i, c in enumerate(classes)}
    items = []
    for p in _files(src):
        hit = table.get(p.stem) or table.get(p.stem[:11])
        if hit is None:
            key, ok = _key(src, p)
            items.append(_item(src, p, "train") if not ok else
                         WorkItem(key, str(p), "train", -1, "skip", "not in the annotation CSVs"))
        else:
            items.append(_item(src, p, hit[0], index.get(hit[1], -1)))
    return items, classes
