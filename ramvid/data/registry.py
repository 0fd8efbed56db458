"""``open_dataset``: one entry point for every dataset, by name (see ``DATASETS``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ramvid.data.base import VideoSource


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    needs_path: bool
    prepare: str = ""        # how to create the file it reads (prepared datasets only)
    default_file: str = ""   # looked for inside --data-path when that is a folder


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("shapes", "procedural sprites over a textured background (embedded, no downloads)", False),
    DatasetInfo("moving-mnist", "bouncing MNIST digits; --data-path: folder with the MNIST IDX files", True),
    DatasetInfo("hdf5", "any prepared file; --data-path: the .h5", True,
                "run `ramvid-bench prepare videos --src FOLDER --out X.h5`"),
    DatasetInfo("bair", "BAIR robot pushing, prepared; --data-path: bair64.h5", True,
                "run `ramvid-bench prepare bair --src softmotion30_44k/ --out bair64.h5`", "bair64.h5"),
    DatasetInfo("ucf101", "UCF-101, prepared; --data-path: ucf64.h5", True,
                "run `ramvid-bench prepare ucf101 --src UCF-101/ --splits ucfTrainTestlist/ --fold 1 "
                "--out ucf64.h5`", "ucf64.h5"),
    DatasetInfo("kinetics", "Kinetics-600, prepared; --data-path: k600-64.h5", True,
                "run `ramvid-bench prepare kinetics --src kinetics600/ --out k600-64.h5`", "k600-64.h5"),
)}


def _prepared_path(info: DatasetInfo, path: str | Path | None) -> Path:
    if path is None:
        raise FileNotFoundError(f"{info.name}: no prepared file given; {info.prepare} and pass "
                                f"--data-path {info.default_file or 'X.h5'}")
    p = Path(path)
    if p.is_dir() and info.default_file:
        p = p / info.default_file
    if not p.is_file():
        raise FileNotFoundError(f"{info.name}: {p} does not exist; {info.prepare}")
    return p


def open_dataset(name: str, split: str, *, frames: int, resolution: int, path: str | Path | None = None,
                 seed: int = 0, **options: Any) -> VideoSource:
    """Open split ``split`` of dataset ``name`` as clips of ``frames`` frames at ``resolution``.

    ``options`` go to the source: shapes (``test_size``, ``max_sprites``, ...), moving-mnist
    (``digits``, ``test_size``), prepared files (``eval_start``).
    """
    info = DATASETS.get(name)
    if info is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "shapes":
        from ramvid.data.shapes import ShapesSource

        return ShapesSource(split, frames, resolution, seed=seed, **options)
    if name == "moving-mnist":
        from ramvid.data.mnist import MovingMNIST

        return MovingMNIST(split, frames, resolution, path, seed=seed, **options)
    from ramvid.data.h5source import H5Source

    return H5Source(_prepared_path(info, path), split, frames, resolution, hint=info.prepare, **options)
