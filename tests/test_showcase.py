"""Storing a run as the showcase: slim checkpoint that loads like any other, notes from the logs."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from benchmarks.showcase import store_showcase
from ramvid.checkpoint import load_model, read_checkpoint
from ramvid.training import train


def test_store_run_as_showcase(tmp_path: Path, tiny_config, noise_clips) -> None:
    run = tmp_path / "run"
    train(tiny_config(), noise_clips(), steps=3, out_dir=run, save_every=2, keep=0, progress=False,
          data="noise")
    dst = tmp_path / "stored" / "model.pt"
    dst.parent.mkdir()
    store_showcase(str(run), str(dst))
    full, slim = read_checkpoint(run / "ckpt-3.pt"), read_checkpoint(dst)
    assert slim["step"] == 3 and "optimizer" not in slim
    for k, v in full["ema"].items():
        assert torch.equal(slim["model"][k], v)  # the EMA weights are what gets stored
    model, config, info = load_model(dst)
    assert config == tiny_config() and info["step"] == 3
    log = [json.loads(ln) for ln in (dst.parent / "showcase-loss.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3]
    notes = (dst.parent / "TRAINING.md").read_text()
    assert "- steps: 3" in notes and "on cpu)" in notes and '"batch_size": 2' in notes
    # A hand-edited TRAINING.md is kept when the stored model is replaced.
    (dst.parent / "TRAINING.md").write_text("hand-written\n")
    store_showcase(str(run), str(dst))
    assert (dst.parent / "TRAINING.md").read_text() == "hand-written\n"
