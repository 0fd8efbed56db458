"""Hostile inputs to ``ramvid-bench fvd`` and ``ramvid-bench is``: each is one line naming the file or flag.

Every case must fail with exit status 1 and exactly one line "Error: ..." (no traceback) before any
network is loaded: the I3D and C3D loaders are replaced by ones that fail the test if called.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.cli import main

GOOD = np.random.default_rng(0).integers(0, 256, (4, 16, 8, 8, 3), dtype=np.uint8)


class _Payload:
    """Unpickling this makes a directory: proof that a pickled .npy was (or was not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.mkdir, (str(self.marker),))


def _save(name: str, x: np.ndarray) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        np.save(d / name, x)
        return d / name
    return build


def _savez(name: str, x: np.ndarray) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        np.savez(d / name, videos=x)
        return d / name
    return build


def _h5(name: str, x: np.ndarray) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        with h5py.File(d / name, "w") as f:
            f["videos"] = x
        return d / name
    return build


def _truncated(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def cut(d: Path) -> Path:
        path = build(d)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    return cut


def _random(name: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        (d / name).write_bytes(np.random.default_rng(1).bytes(4096))
        return d / name
    return build


def _pickled(name: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        payload = np.empty(2, dtype=object)
        payload[:] = [_Payload(d / "UNPICKLED"), None]
        if name.endswith(".npz"):
            np.savez(d / name, videos=payload)
        else:
            np.save(d / name, payload, allow_pickle=True)
        return d / name
    return build


# (description, how to build the bad file in a folder, expected message after "Error: <file>")
BAD_FILES = [
    ("truncated .npz", _truncated(_savez("bad.npz", GOOD)), r"not a readable \.npz file .*truncated"),
    ("random .npz", _random("bad.npz"), r"not a readable \.npz file"),
    ("truncated .npy", _truncated(_save("bad.npy", GOOD)), r"truncated: the header says 4 videos"),
    ("random .npy", _random("bad.npy"), r"not a readable \.npy array"),
    ("truncated .h5", _truncated(_h5("bad.h5", GOOD)), r"not a readable HDF5 file .*truncated"),
    ("random .h5", _random("bad.h5"), r"not a readable HDF5 file"),
    ("pickled objects .npy", _pickled("bad.npy"), r"holds Python objects \(a pickle\), which are not loaded"),
    ("pickled objects .npz", _pickled("bad.npz"), r"holds Python objects \(a pickle\), which are not loaded"),
    ("zero videos .npy", _save("bad.npy", GOOD[:0]), r"0 videos"),
    ("zero videos .h5", _h5("bad.h5", GOOD[:0]), r"0 videos"),
    ("float32 videos", _save("bad.npy", GOOD.astype(np.float32)),
     r"float32 videos; expected uint8 \[N, T, H, W, 3\] .*convert with np\.clip\(np\.round\(x \* 255\)"),
    ("int16 videos", _savez("bad.npz", GOOD.astype(np.int16)),
     r"int16 videos; expected uint8 \[N, T, H, W, 3\] .*convert with np\.clip\(x, 0, 255\)\.astype"),
    ("one video, 4-D", _save("bad.npy", GOOD[0]),
     r"expected uint8 videos \[N, T, H, W, 3\], got 4-D .*x\[None\]"),
    ("6-D array", _h5("bad.h5", GOOD[None]), r"expected uint8 videos \[N, T, H, W, 3\], got 6-D"),
]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, list[str]]]:
    """``cli(*args)`` -> (exit code, output lines); the networks must never be loaded."""
    import metrics.c3d
    import metrics.fvd

    def no_network(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a network was loaded for an input that should have failed first")

    monkeypatch.setattr(metrics.fvd, "get_i3d", no_network)
    monkeypatch.setattr(metrics.c3d, "load_c3d", no_network)
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))

    def run(*args: str) -> tuple[int, list[str]]:
        out = CliRunner().invoke(main, list(args))
        assert not isinstance(out.exception, AssertionError), out.exception
        return out.exit_code, out.output.strip().splitlines()
    return run


def _check_one_line(code: int, lines: list[str], names: str, pattern: str) -> None:
    assert code == 1, lines
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith(f"Error: {names}"), lines       # names the file or the flag first
    assert re.search(pattern, lines[0]), lines
    assert "allow_pickle" not in lines[0] and "unsafe" not in lines[0], lines


@pytest.mark.parametrize("command", ["fvd", "is"])
@pytest.mark.parametrize("description, build, pattern", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_one_line_naming_it(cli, tmp_path: Path, command: str, description: str,  # noqa: ANN001
                                        build: Callable[[Path], Path], pattern: str) -> None:
    bad = build(tmp_path)
    good = _save("good.npy", GOOD)(tmp_path)
    args = ["fvd", str(bad), str(good)] if command == "fvd" else ["is", str(bad), "--repeats", "1"]
    code, lines = cli(*args, "--device", "cpu")
    _check_one_line(code, lines, str(bad), pattern)
    assert not (tmp_path / "UNPICKLED").exists()  # refused, never unpickled


@pytest.mark.parametrize("command", ["fvd", "is"])
@pytest.mark.parametrize("device", ["bogus", "cuda:x", "meta"])
def test_bad_device_is_one_line_naming_the_flag(cli, tmp_path: Path, command: str, device: str) -> None:  # noqa: ANN001
    good = str(_save("good.npy", GOOD)(tmp_path))
    args = ["fvd", good, good] if command == "fvd" else ["is", good, "--repeats", "1"]
    code, lines = cli(*args, "--device", device)
    _check_one_line(code, lines, f"--device {device}", r"not a device; use cpu, cuda or cuda:N$")


def test_fvd_on_one_video_is_one_line(cli, tmp_path: Path) -> None:  # noqa: ANN001
    one, good = _save("one.npy", GOOD[:1])(tmp_path), _save("good.npy", GOOD)(tmp_path)
    code, lines = cli("fvd", str(good), str(one), "--device", "cpu")
    _check_one_line(code, lines, str(one), r"1 video\(s\); FVD needs at least 2 per set")
