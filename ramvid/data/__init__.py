"""Datasets: embedded (``shapes``, ``moving-mnist``) and prepared HDF5 files (BAIR, UCF-101, Kinetics).

``open_dataset(name, split, frames=, resolution=, path=, seed=)`` returns a ``VideoSource``.
Preparation of raw datasets lives in ``ramvid.data.prepare`` (see README.md in this folder).
"""
from ramvid.data.base import VideoSource
from ramvid.data.registry import DATASETS, DatasetInfo, open_dataset

__all__ = ["DATASETS", "DatasetInfo", "VideoSource", "open_dataset"]
