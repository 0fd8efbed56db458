"""The package works when installed as a wheel: the files the code reads ship inside it and are found
from any working directory (``benchmarks.assets``)."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from benchmarks import assets

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("paper.csv", "ci.csv", "runs.csv", "checkpoints/showcase-tiny-shapes.pt",
           "checkpoints/TRAINING.md")


def test_assets_found_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in SHIPPED:
        assert assets.asset(name).is_file()
    assert assets.default_runs_csv() == assets.asset("runs.csv")  # no ./results/runs.csv here
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "runs.csv").write_text("protocol\n")
    assert assets.default_runs_csv() == Path("results/runs.csv")  # the one you work in wins


def test_shipped_runs_csv_is_the_repository_record():
    # benchmarks/assets/runs.csv is a symlink, so the wheel carries what `ramvid-bench run` appended
    assert assets.asset("runs.csv").read_bytes() == (REPO / "results" / "runs.csv").read_bytes()


def test_missing_asset_names_the_file():
    with pytest.raises(FileNotFoundError, match="nope.csv.*reinstall"):
        assets.asset("nope.csv")


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="building needs setuptools")
def test_wheel_contains_the_assets(tmp_path):
    src = tmp_path / "src"  # build a copy: an in-tree build writes build/ into the shared checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("ramvid", "metrics", "benchmarks"):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=ignore)
    (src / "results").mkdir()
    shutil.copy(REPO / "results" / "runs.csv", src / "results" / "runs.csv")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True)
    (wheel,) = (tmp_path / "dist").glob("ramvid_bench-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in SHIPPED:
            assert f"benchmarks/assets/{name}" in names
        assert z.read("benchmarks/assets/runs.csv") == (REPO / "results" / "runs.csv").read_bytes()
        assert z.getinfo("benchmarks/assets/checkpoints/showcase-tiny-shapes.pt").file_size > 10_000_000
        assert not any(n.startswith(("results/", "tests/")) for n in names)
        meta = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert any("filelock" in r for r in requires) and not any("pandas" in r for r in requires)
