"""Hostile inputs to train / sample / prepare: each is refused with one line naming the file or flag.

Every case builds its bad input in tmp_path, runs the ``ramvid-bench`` CLI, and expects exit status 1,
one line ``Error: ...`` matching a pattern, and no traceback. No silent wrong number: broken weights or
samples never become black videos; an unusable --input never becomes an empty or garbage run.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmarks.cli import main
from ramvid.checkpoint import save_checkpoint

PRESET = "test-tiny"  # tiny_config, registered as a preset for the CLI (4 frames of 8x8)
Build = Callable[[Path, Path], list[str]]  # build(tmp_path, run_dir) -> CLI args


@pytest.fixture(autouse=True)
def tiny_preset(monkeypatch, tiny_config) -> None:
    from ramvid.config import PRESETS

    monkeypatch.setitem(PRESETS, PRESET, tiny_config())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_config) -> Path:
    """A 2-step run of the tiny config on shapes: ckpt-2.pt, log.jsonl, config.json, run.json."""
    from ramvid.data import open_dataset
    from ramvid.training import train

    config = tiny_config()
    out = tmp_path_factory.mktemp("run")
    source = open_dataset("shapes", "train", frames=config.frames, resolution=config.resolution)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    train(config, source, steps=2, out_dir=out, save_every=2, progress=False, data="shapes", device="cpu")
    torch.set_num_threads(threads)
    return out


class Trap:
    """Unpickling this creates the folder ``path``: proof that a file was (or was not) unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def _videos(n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 4, 8, 8, 3), dtype=np.uint8)


def _npz(path: Path, videos: np.ndarray) -> str:
    np.savez(path, videos=videos)
    return str(path)


def _edit_ckpt(run: Path, path: Path, edit: Callable[[str, torch.Tensor], torch.Tensor]) -> str:
    obj = torch.load(run / "ckpt-2.pt", map_location="cpu", weights_only=True)
    obj.pop("format_version")
    obj["ema"] = {k: edit(k, v.clone()) if v.is_floating_point() else v for k, v in obj["ema"].items()}
    return str(save_checkpoint(path, obj))


def _nan_first_conv(k: str, v: torch.Tensor) -> torch.Tensor:
    if k == "input_blocks.0.0.weight":
        v.view(-1)[5] = float("nan")
    return v


def _sample(ckpt: str, known: str, tmp: Path, *extra: str) -> list[str]:
    return ["sample", "--ckpt", ckpt, "--cond", "0", "--input", known, "--steps", "1", "--quiet",
            "--device", "cpu", "--out", str(tmp / "out.npz"), *extra]


def _truncated(path: Path) -> str:
    (np.save if path.suffix == ".npy" else np.savez)(path, _videos())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _random_bytes(path: Path) -> str:
    path.write_bytes(np.random.default_rng(1).bytes(999))
    return str(path)


def _pickled(path: Path) -> str:
    np.save(path, np.array([Trap(str(path.with_name("UNPICKLED")))], dtype=object), allow_pickle=True)
    return str(path)


def _bare_pickle(path: Path) -> str:
    path.write_bytes(pickle.dumps(Trap(str(path.with_name("UNPICKLED")))))
    return str(path)


def _resume_with_log(run: Path, tmp: Path, lines: Callable[[list[str]], list[str]]) -> list[str]:
    out = tmp / "run"
    shutil.copytree(run, out)
    log = out / "log.jsonl"
    log.write_text("\n".join(lines(log.read_text().splitlines())) + "\n")
    return ["train", "--preset", PRESET, "--data", "shapes", "--steps", "3", "--out", str(out), "--resume",
            "--device", "cpu", "--quiet"]


def _prepare_over(tmp: Path, content: bytes) -> list[str]:
    (tmp / "src").mkdir()
    (tmp / "notes.h5").write_bytes(content)
    return ["prepare", "videos", "--src", str(tmp / "src"), "--out", str(tmp / "notes.h5"), "--workers", "0",
            "--quiet"]


def _with_input(make: Callable[[Path], str]) -> Build:
    """A case: ``sample`` with the good checkpoint and the --input file ``make(tmp_path)``."""
    return lambda t, r: _sample(str(r / "ckpt-2.pt"), make(t), t)


def _with_ckpt(name: str, edit: Callable[[str, torch.Tensor], torch.Tensor]) -> Build:
    """A case: ``sample`` good videos with the checkpoint whose EMA weights went through ``edit``."""
    return lambda t, r: _sample(_edit_ckpt(r, t / name, edit), _npz(t / "in.npz", _videos()), t)


TRAIN_BOGUS = ["train", "--preset", PRESET, "--data", "shapes", "--steps", "1", "--device", "bogus",
               "--quiet"]

# (id, build(tmp_path, run_dir) -> CLI args, pattern the one error line must match)
CASES: list[tuple[str, Build, str]] = [
    ("nan-weight", _with_ckpt("nan.pt", _nan_first_conv),
     r"nan\.pt: ema weight input_blocks\.0\.0\.weight has 1 NaN/inf value"),
    ("inf-samples", _with_ckpt("huge.pt", lambda k, v: v * 1e30),  # finite weights, overflowing outputs
     r"video 0 \(of 2\): the sampler output has NaN/inf values"),
    ("zero-videos", _with_input(lambda t: _npz(t / "in.npz", _videos(0))), r"in\.npz: holds 0 videos"),
    ("truncated-npz", _with_input(lambda t: _truncated(t / "in.npz")),
     r"in\.npz: not a readable \.npz/\.npy file \(BadZipFile"),
    ("truncated-npy", _with_input(lambda t: _truncated(t / "in.npy")),
     r"in\.npy: not a readable \.npz/\.npy file"),
    ("random-npy", _with_input(lambda t: _random_bytes(t / "in.npy")), r"in\.npy: not an \.npz or \.npy"),
    ("random-npz", _with_input(lambda t: _random_bytes(t / "in.npz")), r"in\.npz: not an \.npz or \.npy"),
    ("pickled-object-npy", _with_input(lambda t: _pickled(t / "obj.npy")),
     r"obj\.npy: holds pickled Python objects, which are never loaded"),
    ("bare-pickle-npy", _with_input(lambda t: _bare_pickle(t / "obj.npy")),
     r"obj\.npy: holds pickled Python objects, which are never loaded"),
    ("float-videos", _with_input(lambda t: _npz(t / "in.npz", _videos() / 255.0)),
     r"in\.npz: expected dtype uint8 .*values lie in \[0, 1\]: convert with np\.clip\(\(x \* 255\)"),
    ("channels-first", _with_input(lambda t: _npz(t / "in.npz", _videos().transpose(0, 4, 1, 2, 3))),
     r"in\.npz: expected shape \[N, T, H, W, 3\], got \[2, 3, 4, 8, 8\]; channels first\? .*transpose"),
    ("sample-device-bogus", lambda t, r: [*_sample(str(r / "ckpt-2.pt"), _npz(t / "in.npz", _videos()), t),
                                          "--device", "bogus"],
     r"--device bogus: not a device; use cpu, cuda or cuda:N"),
    ("train-device-bogus", lambda t, r: [*TRAIN_BOGUS, "--out", str(t / "run")],
     r"--device bogus: not a device; use cpu, cuda or cuda:N"),
    ("log-broken-mid-line", lambda t, r: _resume_with_log(r, t, lambda ls: [ls[0], '{"step": 2', *ls[1:]]),
     r"log\.jsonl: line 2 is not a log row"),
    ("prepare-out-is-text", lambda t, r: _prepare_over(t, b"my notes"),
     r"--out \S*notes\.h5: exists and is not a prepared ramvid-videos HDF5 file; left untouched"),
    ("prepare-out-is-empty", lambda t, r: _prepare_over(t, b""),
     r"--out \S*notes\.h5: exists and is not a prepared ramvid-videos HDF5 file"),
]


@pytest.mark.parametrize("build,pattern", [pytest.param(b, p, id=i) for i, b, p in CASES])
def test_hostile_input_is_one_line(build, pattern: str, tmp_path: Path, run_dir: Path) -> None:
    args = build(tmp_path, run_dir)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".h5"}
    r = CliRunner().invoke(main, args)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1, r.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "UNPICKLED").exists()
    assert all(p.read_bytes() == data for p, data in before.items())  # --out of prepare left untouched


def test_cut_off_log_tail_is_dropped_and_resume_works(tmp_path: Path, run_dir: Path) -> None:
    args = _resume_with_log(run_dir, tmp_path, lambda ls: [*ls, '{"step": 3, "loss": 0.'])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "log.jsonl: dropped the cut-off last line 3" in r.output and "trained to step 3" in r.output


def test_non_utf8_file_name_is_skipped_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (Path(os.fsdecode(os.fsencode(src) + b"/clip\xff.mp4"))).write_bytes(b"not decoded: skipped first")
    out = tmp_path / "v.h5"
    r = CliRunner().invoke(main, ["prepare", "videos", "--src", str(src), "--out", str(out), "--workers", "0",
                                  "--quiet"])
    assert r.exit_code == 0, r.output
    assert "skipped: 1 {'undecodable file name': 1}" in r.output
    report = json.loads((tmp_path / "v.report.json").read_text())
    reason = "undecodable file name: not UTF-8; rename the file"
    assert report["skipped"] == [{"item": r"clip\xff.mp4", "reason": reason}]
