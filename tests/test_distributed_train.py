"""Distributed training (DDP over gloo on CPU, torchrun) trains the one-process run of the global batch.

The tiny config (4 frames of 8x8) with a global batch of 4 in micro-batches of 1: one process runs
4 micro-batches per step, each of 2 processes runs 2 (examples 0, 2 and 1, 3) and DDP averages.
Every example's forward and backward is then computed on the same single-example batch, so the runs
differ only in the order gradients are summed. AdamW divides by sqrt(v), which turns those last-bit
differences of near-zero gradients into larger weight differences. The tolerances below are set
from measured values after 3 steps (lr 1e-3, so a weight moves <= 2e-3 from step 1 to 3):
2 processes vs 1: max |dw| 4.7e-5, and |dw| (L2) 3.7e-4 of the L2 change of the weights from
step 1 to 3. For scale, ONE process with micro-batch 2 instead of 1 differs by 1.0e-4 and 5.3e-4.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ramvid.batches import Batches, draw_batch, micro_batches
from ramvid.checkpoint import read_checkpoint
from ramvid.config import RamvidConfig
from ramvid.training import check_global_batch, train

REPO = Path(__file__).resolve().parents[1]
TOL = 2e-4  # max |weight difference| after 3 steps (measured 4.7e-5; see the module docstring)
REL_TOL = 2e-3  # L2 weight difference / L2 weight change from step 1 to step 3 (measured 3.7e-4)
STEPS = 3

_JOB = """
import json, os, sys, time
from pathlib import Path

import torch

from conftest import NoiseClips
from ramvid.config import RamvidConfig
from ramvid.training import train


def fail_on_purpose(marker):
    # Rank 1 raises when it reaches the barrier after step 2 while rank 0 writes ckpt-2, slowly.
    import ramvid.distributed as d
    if os.environ["RANK"] == "1":
        real, calls = d.barrier, [0]
        def barrier(world):
            calls[0] += 1
            if calls[0] == 3:  # 1: after the run files, 2: after ckpt-1, 3: after ckpt-2
                raise RuntimeError("rank 1 fails on purpose")
            real(world)
        d.barrier = barrier
    else:
        real_save = torch.save
        def slow_save(obj, f, *a, **k):
            if "ckpt-2" in str(f):
                Path(marker).write_text(str(f))
                Path(f).write_bytes(b"half a checkpoint")
                time.sleep(120)  # torchrun's SIGTERM arrives here
            return real_save(obj, f, *a, **k)
        torch.save = slow_save


if __name__ == "__main__":  # spawned data workers import this file too
    config, out, kw = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    if kw.pop("fail", None):
        fail_on_purpose(kw.pop("marker"))
    train(RamvidConfig.from_dict(config), NoiseClips(), out_dir=out, progress=False, **kw)
"""


def _torchrun(tmp: Path, config: RamvidConfig, out: Path, nproc: int = 2, **kw: object):
    """Train under ``torchrun --standalone --nproc_per_node nproc`` (one thread per process)."""
    script = tmp / "train_job.py"
    script.write_text(textwrap.dedent(_JOB))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={nproc}", str(script), json.dumps(config.to_dict()), str(out),
                           json.dumps(kw)], env=env, capture_output=True, text=True, timeout=300)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def _relative(a: dict, b: dict, first: dict) -> float:
    """|a - b| / |a - first| over all weights (L2): the difference as a share of the training update."""
    flat = [torch.cat([d[k].flatten() for k in sorted(a)]) for d in (a, b, first)]
    return float((flat[0] - flat[1]).norm() / (flat[0] - flat[2]).norm())


def _log(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config, noise_clips) -> dict[str, Path]:
    """The same 3 steps on 1 process (here, one thread) and on 2 (torchrun, one data worker each)."""
    tmp = tmp_path_factory.mktemp("dist-train")
    config = tiny_config(batch_size=4, micro_batch=1)
    common = {"steps": STEPS, "seed": 3, "data": "noise", "save_every": 1, "keep": 0}
    done = _torchrun(tmp, config, tmp / "two", workers=1, **common)
    assert done.returncode == 0, done.stderr[-3000:]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config, noise_clips(), out_dir=tmp / "one", progress=False, **common)
    finally:
        torch.set_num_threads(before)
    return {"one": tmp / "one", "two": tmp / "two", "config": config}


def test_two_processes_train_the_one_process_weights(runs) -> None:
    for step in range(1, STEPS + 1):
        a, b = (read_checkpoint(runs[k] / f"ckpt-{step}.pt") for k in ("one", "two"))
        assert _max_diff(a["model"], b["model"]) <= TOL, step
        assert _max_diff(a["ema"], b["ema"]) <= TOL, step
    first = read_checkpoint(runs["one"] / "ckpt-1.pt")["model"]
    assert _relative(a["model"], b["model"], first) <= REL_TOL
    # Rank 0 alone logged each step once, with the loss of the whole global batch.
    one, two = _log(runs["one"]), _log(runs["two"])
    assert [r["step"] for r in two] == [1, 2, 3]
    for r1, r2 in zip(one, two, strict=True):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-5)
    assert json.loads((runs["two"] / "run.json").read_text())["processes"] == 2
    assert not [p for p in os.listdir(runs["two"]) if p.endswith(".tmp")]


def test_started_on_two_processes_resumed_on_one(runs, tmp_path, noise_clips) -> None:
    resumed = tmp_path / "resumed"
    shutil.copytree(runs["two"], resumed)
    (resumed / "ckpt-3.pt").unlink()  # as if the 2-process job had stopped after step 2
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(runs["config"], noise_clips(), out_dir=resumed, steps=STEPS, resume=True,
                       data="noise", save_every=1, keep=0, progress=False)
    finally:
        torch.set_num_threads(before)
    assert result.step == STEPS
    a, b = (read_checkpoint(d / "ckpt-3.pt") for d in (runs["one"], resumed))
    assert _max_diff(a["model"], b["model"]) <= TOL
    first = read_checkpoint(runs["one"] / "ckpt-1.pt")["model"]
    assert _relative(a["model"], b["model"], first) <= REL_TOL
    assert [r["step"] for r in _log(resumed)] == [1, 2, 3]
    assert json.loads((resumed / "run.json").read_text())["processes"] == 1


def test_a_failing_rank_fails_the_job_and_leaves_no_partial_checkpoint(tmp_path, tiny_config) -> None:
    out, marker = tmp_path / "run", tmp_path / "writing-ckpt-2"
    done = _torchrun(tmp_path, tiny_config(batch_size=2), out, steps=3, save_every=1, data="noise",
                     fail=True, marker=str(marker))
    assert done.returncode != 0
    assert "rank 1 fails on purpose" in done.stderr
    assert marker.exists()  # rank 0 was writing ckpt-2 (into a temp file) when it was stopped
    assert sorted(os.listdir(out)) == ["ckpt-1.pt", "config.json", "log.jsonl", "loss.png", "run.json"]
    assert read_checkpoint(out / "ckpt-1.pt")["step"] == 1


def test_each_rank_draws_only_its_examples(tiny_config, noise_clips) -> None:
    tc = tiny_config(batch_size=6, micro_batch=2).train
    assert micro_batches(tc) == [range(0, 2), range(2, 4), range(4, 6)]  # one process: as before
    shares = [micro_batches(tc, r, 3) for r in range(3)]
    assert shares[1] == [range(1, 6, 3)]
    assert sorted(i for share in shares for piece in share for i in piece) == list(range(6))
    assert micro_batches(tc, 1, 2) == [range(1, 5, 2), range(5, 7, 2)]  # examples 1, 3 | 5
    config = tiny_config(batch_size=6, micro_batch=2)
    got = Batches(noise_clips(), config, 5, rank=1, size=3)(7, range(1, 6, 3))
    want = draw_batch(noise_clips(), config, 5, 7, range(1, 6, 3))
    assert (got[0] == want[0]).all()
    assert all(torch.equal(x, y) for x, y in zip(got[1:], want[1:], strict=True))


def test_a_global_batch_the_processes_cannot_share_is_one_line(tmp_path, monkeypatch, tiny_config) -> None:
    from click.testing import CliRunner

    import benchmarks.cli.core_cmds as core_cmds
    from benchmarks.cli import main
    from ramvid.config import PRESETS

    with pytest.raises(ValueError, match=r"^--batch-size 6 is the global batch, shared by 4 processes, so "
                                         r"it must be a multiple of 4: use 4 or 8$"):
        check_global_batch(6, 4)
    with pytest.raises(ValueError, match="use 3$"):
        check_global_batch(2, 3)
    check_global_batch(8, 4)
    monkeypatch.setitem(PRESETS, "test-tiny", tiny_config())
    started = []

    def relaunch(nproc: int) -> None:
        started.append(nproc)
        raise SystemExit(0)

    monkeypatch.setattr(core_cmds, "relaunch", relaunch)
    args = ["train", "--preset", "test-tiny", "--data", "noise", "--steps", "1", "--out", str(tmp_path)]
    bad = CliRunner().invoke(main, [*args, "--batch-size", "3", "--nproc", "2"])
    assert bad.exit_code == 1 and not started  # refused before any process starts
    assert bad.output.strip().splitlines() == ["Error: --batch-size 3 is the global batch, shared by 2 "
                                               "processes, so it must be a multiple of 2: use 2 or 4"]
    ok = CliRunner().invoke(main, [*args, "--nproc", "2"])  # the preset's batch 2: shared by 2
    assert ok.exit_code == 0 and started == [2]
