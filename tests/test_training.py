"""Training loop: exact resume, gradient accumulation, NaN stop, logs and run files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ramvid import masking
from ramvid.batches import Batches
from ramvid.checkpoint import latest_checkpoint, list_checkpoints, read_checkpoint
from ramvid.config import RamvidConfig
from ramvid.diffusion import Schedule
from ramvid.train_step import train_step
from ramvid.training import TrainingDiverged, _new_state, train


@pytest.fixture(autouse=True)
def one_thread():
    # Two shared cores: one intra-op thread keeps steps fast and timings steady.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def run(tiny_config, noise_clips):
    """``run(out, steps, **kw)``: train the tiny config on noise clips (kw: train() options)."""
    def run(out: Path, steps: int, **kw: object):
        kw = {"save_every": 2, "progress": False, "seed": 3, "data": "noise", **kw}
        return train(tiny_config(), noise_clips(), steps=steps, out_dir=out, **kw)
    return run


def log_rows(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_interruption_is_bit_exact(tmp_path: Path, run) -> None:
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    run(straight, 4)
    # Interrupted run: killed after step 3 but before its checkpoint; ckpt-2 is the newest.
    run(broken, 3)
    (broken / "ckpt-3.pt").unlink()
    assert len(log_rows(broken)) == 3
    result = run(broken, 4, resume=True)
    assert result.step == 4 and result.checkpoint == broken / "ckpt-4.pt"
    a, b = read_checkpoint(straight / "ckpt-4.pt"), read_checkpoint(broken / "ckpt-4.pt")
    assert_same_state(a["model"], b["model"])
    assert_same_state(a["ema"], b["ema"])
    assert not torch.equal(a["model"]["out.2.weight"], a["ema"]["out.2.weight"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert_same_state(sa, sb)
    # The log has each step once (step 3's stale line was dropped) and the same losses.
    rows_a, rows_b = log_rows(straight), log_rows(broken)
    assert [r["step"] for r in rows_b] == [1, 2, 3, 4]
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]


def test_resume_checks_settings(tmp_path: Path, run) -> None:
    run(tmp_path, 2)
    with pytest.raises(ValueError, match="--resume"):
        run(tmp_path, 3)
    with pytest.raises(ValueError, match="seed"):
        run(tmp_path, 3, resume=True, seed=4)
    assert read_checkpoint(latest_checkpoint(tmp_path))["rng"]["seed"] == 3
    with pytest.raises(ValueError, match="train.lr"):
        run(tmp_path, 3, resume=True, lr=5e-4)
    with pytest.raises(ValueError, match="dataset"):
        run(tmp_path, 3, resume=True, data="other")
    # Reaching the target again is a no-op; micro-batch may change (only memory).
    assert run(tmp_path, 2, resume=True).last_loss is None
    assert run(tmp_path, 3, resume=True, micro_batch=1, seed=None).step == 3


def test_worker_processes_draw_the_same_numbers(tmp_path: Path, run) -> None:
    # Two micro-batches per step, drawn ahead by two spawned workers: the run must not change.
    run(tmp_path / "here", 3, micro_batch=1)
    run(tmp_path / "workers", 3, micro_batch=1, workers=2)
    losses = [[r["loss"] for r in log_rows(tmp_path / d)] for d in ("here", "workers")]
    assert losses[0] == losses[1]
    a, b = (read_checkpoint(tmp_path / d / "ckpt-3.pt") for d in ("here", "workers"))
    assert_same_state(a["model"], b["model"])


def test_workers_refuse_a_dataset_that_does_not_pickle(tmp_path: Path, tiny_config, noise_clips) -> None:
    clips = noise_clips()
    clips.hook = lambda: None  # lambdas do not pickle
    with pytest.raises(ValueError, match="--workers 0"):
        train(tiny_config(), clips, steps=1, out_dir=tmp_path, workers=2, progress=False)


def test_max_minutes_stops_resumably(tmp_path: Path, run) -> None:
    result = run(tmp_path, 50, max_minutes=1e-9, save_every=100)
    assert result.step == 1 and result.checkpoint == tmp_path / "ckpt-1.pt"
    assert run(tmp_path, 2, resume=True).step == 2
    with pytest.raises(ValueError, match="max_minutes"):
        run(tmp_path / "bad", 2, max_minutes=0)


def test_run_files_and_log(tmp_path: Path, run, tiny_config) -> None:
    run(tmp_path, 3, save_every=1, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 3]
    rows = log_rows(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert set(r) == {"step", "loss", "grad_norm", "lr", "seconds"}
        assert np.isfinite(r["loss"]) and r["grad_norm"] > 0 and r["lr"] == 1e-3
    cfg = RamvidConfig.from_dict(json.loads((tmp_path / "config.json").read_text()))
    assert cfg == tiny_config()
    run_info = json.loads((tmp_path / "run.json").read_text())
    assert run_info["seed"] == 3 and run_info["dataset"]["name"] == "noise"
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def test_gradient_accumulation_matches_full_batch(tiny_config, noise_clips) -> None:
    grads, losses = [], []
    for micro in (2, 4):
        cfg = tiny_config(batch_size=4, micro_batch=micro)
        state = _new_state(cfg, seed=1, dev=torch.device("cpu"))
        loss, _ = train_step(state, cfg, Batches(noise_clips(), cfg, 1), Schedule.linear(100), 1,
                              torch.device("cpu"))
        losses.append(loss)
        grads.append([p.grad.clone() for p in state.model.parameters()])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for g2, g4 in zip(*grads, strict=True):
        torch.testing.assert_close(g2, g4, rtol=1e-4, atol=1e-6)


def _one_step(cfg, noise_clips, **prepare_kw) -> tuple:
    """One step from perturbed weights (the zero-initialised output layer would make the first loss
    independent of the network); returns (state, loss)."""
    from ramvid.distributed import World
    from ramvid.train_step import prepare

    state = _new_state(cfg, seed=1, dev=torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in state.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    precision = prepare_kw.pop("precision", "fp32")
    prepare(state, torch.device("cpu"), World(), **prepare_kw)
    loss, _ = train_step(state, cfg, Batches(noise_clips(), cfg, 1), Schedule.linear(100), 1,
                         torch.device("cpu"), precision=precision)
    return state, loss


def test_bf16_trains_close_to_fp32(tmp_path: Path, tiny_config, noise_clips, run) -> None:
    """bf16 autocast on CPU: first-step loss within 5e-3 (measured 3.2e-4 relative), gradients
    nearly parallel (cosine measured 0.99989); and it differs, so autocast really ran."""
    cfg = tiny_config(batch_size=4, micro_batch=4)
    (fp32, loss32), (bf16, loss16) = (_one_step(cfg, noise_clips, precision=p) for p in ("fp32", "bf16"))
    assert loss16 != loss32 and loss16 == pytest.approx(loss32, rel=5e-3)
    g32, g16 = (torch.cat([p.grad.flatten() for p in s.model.parameters()]) for s in (fp32, bf16))
    assert torch.nn.functional.cosine_similarity(g32, g16, dim=0) > 0.999
    result = run(tmp_path, 2, precision="bf16")
    assert result.step == 2 and np.isfinite(result.last_loss)
    assert read_checkpoint(result.checkpoint)["spec"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        run(tmp_path / "bad", 1, precision="fp16")


def test_grad_checkpoint_trains_the_same_weights(tmp_path: Path, run) -> None:
    run(tmp_path / "plain", 2)
    run(tmp_path / "ckpt", 2, grad_checkpoint=True)
    a, b = (read_checkpoint(tmp_path / d / "ckpt-2.pt") for d in ("plain", "ckpt"))
    for k in a["model"]:  # the recompute repeats the same float operations (measured: equal)
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-7)
    assert b["spec"]["grad_checkpoint"] and not a["spec"]["grad_checkpoint"]


def test_compile_is_wired_and_refused_cleanly(tmp_path: Path, monkeypatch, run) -> None:
    import shutil

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda net: compiled.append(net) or net)  # no real compile
    assert run(tmp_path / "ok", 1, compile=True).step == 1
    assert len(compiled) == 1
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match=r"^--compile: .*C\+\+ compiler.*; drop --compile$"):
        run(tmp_path / "refused", 1, compile=True)
    assert not (tmp_path / "refused").exists()  # refused before anything was written


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path, monkeypatch, run) -> None:
    real = masking.masked_mse
    calls = {"n": 0}

    def poisoned(pred, target, mask):
        calls["n"] += 1  # one call per micro-batch; batch 2 / micro 2 -> one call per step
        loss = real(pred, target, mask)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(masking, "masked_mse", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 3: loss is nan.*ckpt-2\.pt"):
        run(tmp_path, 5, save_every=1)
    assert latest_checkpoint(tmp_path) == tmp_path / "ckpt-2.pt"
    good = read_checkpoint(tmp_path / "ckpt-2.pt")
    assert good["step"] == 2
    assert all(torch.isfinite(v).all() for v in good["model"].values())


def test_non_finite_weights_are_never_saved(tmp_path: Path, monkeypatch, run) -> None:
    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def breaking_step(self, *a, **k):
        out = real_step(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == 2:  # weights blow up after step 2 although its loss was finite
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("inf"))
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", breaking_step)
    with pytest.raises(TrainingDiverged, match=r"step 2: weight .* is not finite.*ckpt-1\.pt"):
        run(tmp_path, 3, save_every=1)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1]


def test_wrong_clip_shape_is_one_clear_line(tmp_path: Path, tiny_config, noise_clips) -> None:
    frames = tiny_config().frames

    class WrongSize(noise_clips):
        def random_clip(self, generator: torch.Generator) -> np.ndarray:
            return np.zeros((frames, 16, 16, 3), np.uint8)

    with pytest.raises(ValueError, match=r"needs uint8 \[4, 8, 8, 3\].*resolution=8"):
        train(tiny_config(), WrongSize(), steps=1, out_dir=tmp_path, progress=False)


def test_cli_train_on_shapes_resumes(tmp_path: Path, monkeypatch, tiny_config) -> None:
    from click.testing import CliRunner

    from benchmarks.cli import main
    from ramvid.config import PRESETS

    monkeypatch.setitem(PRESETS, "test-tiny", tiny_config())
    out = tmp_path / "run"
    args = ["train", "--preset", "test-tiny", "--data", "shapes", "--steps", "2", "--out", str(out),
            "--batch-size", "2", "--save-every", "1", "--device", "cpu", "--seed", "5"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "trained to step 2" in first.output and "ckpt-2.pt" in first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "pass --resume" in again.output
    args[args.index("--steps") + 1] = "3"
    del args[args.index("--seed"):args.index("--seed") + 2]  # resume takes the checkpoint's seed
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert latest_checkpoint(out) == out / "ckpt-3.pt"
    assert read_checkpoint(out / "ckpt-3.pt")["dataset"] == {"name": "shapes", "path": None}
    assert [r["step"] for r in log_rows(out)] == [1, 2, 3]
    bad = CliRunner().invoke(main, ["train", "--preset", "nope", "--data", "shapes", "--steps", "1",
                                    "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown preset 'nope'" in bad.output


# --- faults: killed writes, killed runs -----------------------------------------------------------


def test_cut_off_last_log_line_is_dropped_on_resume(tmp_path: Path, run, capsys) -> None:
    run(tmp_path, 2)
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write('{"step": 3, "loss": 0.9')  # killed while writing step 3's row
    assert run(tmp_path, 3, resume=True).step == 3
    assert [r["step"] for r in log_rows(tmp_path)] == [1, 2, 3]
    err = capsys.readouterr().err
    assert "log.jsonl: dropped the cut-off last line 3" in err and len(err.strip().splitlines()) == 1


def test_broken_log_line_in_the_middle_is_an_error(tmp_path: Path, run) -> None:
    run(tmp_path, 2)
    log = tmp_path / "log.jsonl"
    rows = log.read_text().splitlines()
    log.write_text("\n".join([rows[0], "garbage", rows[1]]) + "\n")
    with pytest.raises(ValueError, match=r"log\.jsonl: line 2 is not a log row"):
        run(tmp_path, 3, resume=True)


def test_stale_temp_files_are_removed_at_start(tmp_path: Path, run, capsys) -> None:
    import os

    stale = tmp_path / ".ckpt-2.pt.k3j_9x0q.tmp"  # a killed checkpoint write: atomic_path's naming
    stale.write_bytes(b"x" * 5000)
    live = tmp_path / ".ckpt-4.pt.ab12cd34.tmp"  # a writer at work right now: recent mtime
    live.write_bytes(b"y")
    others = [tmp_path / n for n in ("notes.tmp", ".notes.tmp", "ckpt-2.pt.k3j_9x0q.tmp", ".a.b.tmp")]
    for p in [stale, *others]:
        p.touch()
        os.utime(p, (1e9, 1e9))  # 2001: long stale
    run(tmp_path, 1)
    assert not stale.exists() and live.exists() and all(p.exists() for p in others)
    err = capsys.readouterr().err
    assert "removed 1 stale temp file(s) of killed writes (0.0 MB)" in err


def _children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.add(int(d.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_TRAIN_FOREVER = """
import json, sys
from ramvid.config import RamvidConfig
from ramvid.data import open_dataset
from ramvid.training import train
config = RamvidConfig.from_dict(json.loads(sys.argv[1]))
source = open_dataset("shapes", "train", frames=config.frames, resolution=config.resolution)
train(config, source, steps=10**6, out_dir=sys.argv[2], workers=1, save_every=10**6, progress=False,
      data="shapes", device="cpu")
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_workers_exit_when_the_training_process_is_killed(tmp_path: Path, tiny_config) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out, repo = tmp_path / "run", Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN_FOREVER, json.dumps(tiny_config().to_dict()),
                             str(out)], cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # A logged step means a worker has started (and run its initializer) and delivered a batch.
        while not ((out / "log.jsonl").exists() and (out / "log.jsonl").read_text().strip()):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no training step within 120 s"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers, "no worker processes found"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "workers outlived the killed training process"


def test_loss_curve_is_drawn_at_each_checkpoint(tmp_path: Path, run) -> None:
    run(tmp_path, 2, save_every=1)
    png = tmp_path / "loss.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
