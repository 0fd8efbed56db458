"""The read-only files shipped in this folder (package data), found from any working directory.

- ``paper.csv``: every number of the paper's Tables 1-5.
- ``ci.csv``: the CI reference rows (checkpoint paths relative to its folder).
- ``checkpoints/showcase-tiny-shapes.pt``: the showcase model, with ``TRAINING.md`` and its loss log.
- ``runs.csv``: the project's measured rows. In the repository it is a symlink to ``results/runs.csv``
  (the file ``ramvid-bench run`` appends to), so a wheel carries the record as it was when built.

Nothing here is ever written: new runs go to ``results/runs.csv`` in the working directory. The files are
read in place, so the package must be installed as files (a wheel or a clone), not imported from a zip.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from benchmarks.results import DEFAULT_RESULTS

SHOWCASE = "checkpoints/showcase-tiny-shapes.pt"


def asset(name: str) -> Path:
    """The path of shipped file ``name`` (e.g. "paper.csv"); FileNotFoundError naming it when absent."""
    path = Path(resources.files(__name__) / name)  # a real folder in wheels and clones
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed ramvid-bench; reinstall the package "
                                f"(in a clone: git restore benchmarks/assets/{name})")
    return path


def paper_csv() -> Path:
    """Every number of the paper's Tables 1-5."""
    return asset("paper.csv")


def ci_csv() -> Path:
    """The CI reference rows ``ramvid-bench check`` recomputes."""
    return asset("ci.csv")


def showcase_checkpoint() -> Path:
    """The stored showcase model (``tiny`` preset trained on ``shapes``; see TRAINING.md beside it)."""
    return asset(SHOWCASE)


def default_runs_csv() -> Path:
    """``results/runs.csv`` in the working directory when it exists, else the record shipped with the package.

    The default of ``ramvid-bench table --runs``: a results folder you are working in wins; from anywhere
    else the table shows the project's own measurements.
    """
    return DEFAULT_RESULTS if DEFAULT_RESULTS.is_file() else asset("runs.csv")
