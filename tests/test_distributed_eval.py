"""Distributed and sharded evaluation give the one-process number (CPU, gloo, 2 processes).

A random-weight ``tiny`` checkpoint samples 4 videos of 10 frames with 2 DDIM steps: cheap, and a
real network, so the check covers the model method and not only a baseline.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.runner import RunSpec, run
from benchmarks.shards import ShardStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    from ramvid.checkpoint import save_checkpoint
    from ramvid.config import get_preset
    from ramvid.model import build_model

    cfg = get_preset("tiny")
    torch.manual_seed(0)
    model = build_model(cfg.model)
    with torch.no_grad():  # the zero-initialised output layer would make every sample the same
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, {"config": cfg.to_dict(), "step": 0, "model": sd, "ema": sd})
    return path


def _spec(ckpt: Path, out: Path, **kw) -> RunSpec:
    return RunSpec(protocol="shapes-prediction", ckpt=str(ckpt), num_videos=4, sampler="ddim",
                   sampler_steps=2, batch_size=2, overrides={"frames": 10}, progress=False,
                   results=str(out / "runs.csv"), out_dir=str(out / "work"), **kw)


def _samples(work: Path) -> np.ndarray:
    manifest = json.loads((work / "manifest.json").read_text())
    return np.concatenate(list(ShardStore(work, manifest).iter_batches()))


def _torchrun(script: str, tmp_path: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={nproc}", str(path)], env=env, capture_output=True,
                          text=True, timeout=300)


def _job(tmp_path: Path, ckpt: Path, out: Path, nproc: int, batch_size: int = 2) -> float:
    """``run`` under torchrun with ``nproc`` processes (one thread each); rank 0's value."""
    result = out / "value.json"
    done = _torchrun(f"""
        import json
        from benchmarks.runner import RunSpec, run
        res = run(RunSpec(protocol="shapes-prediction", ckpt={str(ckpt)!r}, num_videos=4,
                          sampler="ddim", sampler_steps=2, batch_size={batch_size},
                          overrides={{"frames": 10}}, progress=False,
                          results={str(out / "runs.csv")!r}, out_dir={str(out / "work")!r}))
        if res is not None:
            json.dump({{"value": res.value, "processes": res.row["processes"]}}, open({str(result)!r}, "w"))
    """, tmp_path, nproc)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(result.read_text())
    assert info["processes"] == nproc
    return info["value"]


def test_two_processes_give_the_one_process_number(tmp_path, tiny_ckpt, monkeypatch):
    """Same launcher and thread count for both (CPU kernels and BLAS round by thread count)."""
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    one = _job(tmp_path, tiny_ckpt, tmp_path / "one", 1)
    two = _job(tmp_path, tiny_ckpt, tmp_path / "two", 2)
    assert np.array_equal(_samples(tmp_path / "one" / "work"), _samples(tmp_path / "two" / "work"))
    assert abs(two - one) <= 1e-9 * abs(one)
    rows = (tmp_path / "two" / "runs.csv").read_text().strip().splitlines()
    assert len(rows) == 2  # header + the one row written by rank 0


def test_shards_fill_one_folder_and_the_last_one_scores(tmp_path, tiny_ckpt, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    whole = run(_spec(tiny_ckpt, tmp_path / "whole"))
    first = run(_spec(tiny_ckpt, tmp_path / "sharded", shard="0/3"))
    assert first.value is None and first.missing == 2  # batches 1 (keys 2, 3) belongs to share 1
    with pytest.raises(ValueError, match="2 samples missing"):
        run(_spec(tiny_ckpt, tmp_path / "sharded", merge=True))
    assert run(_spec(tiny_ckpt, tmp_path / "sharded", shard="2/3")).value is None
    last = run(_spec(tiny_ckpt, tmp_path / "sharded", shard="1/3"))
    assert last.value == whole.value
    assert np.array_equal(_samples(tmp_path / "whole" / "work"), _samples(tmp_path / "sharded" / "work"))
    merged = run(_spec(tiny_ckpt, tmp_path / "sharded", merge=True))
    assert merged.value == whole.value


def test_a_sharded_run_resumes_with_another_process_count(tmp_path, tiny_ckpt, monkeypatch):
    """Started as shard 0/2 in this process, finished by a 2-process job: the same samples."""
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    _job(tmp_path, tiny_ckpt, tmp_path / "whole", 1)
    spec = _spec(tiny_ckpt, tmp_path / "mixed", shard="0/2")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the torchrun processes
    try:
        assert run(spec).value is None
    finally:
        torch.set_num_threads(before)
    _job(tmp_path, tiny_ckpt, tmp_path / "mixed", 2)
    assert np.array_equal(_samples(tmp_path / "whole" / "work"), _samples(tmp_path / "mixed" / "work"))


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2"])
def test_bad_shard_is_one_line(text):
    with pytest.raises(ValueError, match="--shard .*write I/N"):
        RunSpec(protocol="shapes-prediction", baseline="copy-last", shard=text)


def test_shard_batches_do_not_depend_on_the_process_count():
    """Batch c belongs to shard c mod N whatever G is: shards run with any G cover every key once."""
    from benchmarks.runner import _share

    keys = [(v, 0) for v in range(16)]
    for n in (1, 2, 3):
        for gs in ((1,) * n, (2,) * n, tuple(1 + (i % 2) for i in range(n))):
            got = [k for i, g in enumerate(gs) for r in range(g) for b in _share(keys, (i, n, r, g), 2)
                   for k in b]
            assert sorted(got) == keys, (n, gs)
