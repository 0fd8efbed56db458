"""Checkpoints: weights-only loadable, rebuild from config alone, bare state dicts, clear errors."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from ramvid.checkpoint import (
    FORMAT_VERSION,
    latest_checkpoint,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from ramvid.config import get_preset
from ramvid.model import build_model
from ramvid.training import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config, noise_clips) -> Path:
    """A 2-step training run of the test-tiny config; returns its final checkpoint."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    result = train(tiny_config(), noise_clips(), steps=2, out_dir=out, save_every=2, progress=False,
                   data="noise", data_path="/data/x")
    torch.set_num_threads(threads)
    return result.checkpoint


def test_checkpoint_is_weights_only_and_self_describing(trained: Path) -> None:
    obj = torch.load(trained, map_location="cpu", weights_only=True)
    assert obj["format_version"] == FORMAT_VERSION and obj["step"] == 2
    assert obj["dataset"] == {"name": "noise", "path": "/data/x"}
    assert isinstance(obj["git_hash"], str) and obj["rng"]["seed"] == 0
    assert isinstance(obj["rng"]["torch_cpu"], torch.Tensor)
    for key in ("model", "ema", "optimizer", "config"):
        assert key in obj


def test_load_model_rebuilds_from_config_alone(trained: Path, tiny_config) -> None:
    raw = read_checkpoint(trained)
    model, cfg, info = load_model(trained)
    assert cfg == tiny_config() and not model.training
    assert info["step"] == 2 and info["path"] == str(trained) and info["weights"] == "ema"
    assert info["sha256"] == hashlib.sha256(trained.read_bytes()).hexdigest()
    assert info["dataset"]["name"] == "noise"
    for k, v in model.state_dict().items():
        assert torch.equal(v, raw["ema"][k])
    raw_model, _, info = load_model(trained, use_ema=False)
    assert info["weights"] == "model"
    assert all(torch.equal(v, raw["model"][k]) for k, v in raw_model.state_dict().items())
    x, t = torch.zeros(1, 3, 4, 8, 8), torch.tensor([10.0])
    assert model(x, t).shape == x.shape


def test_preset_that_disagrees_is_refused(trained: Path) -> None:
    with pytest.raises(ValueError, match="trained with preset 'test-tiny'.*--preset tiny"):
        load_model(trained, preset="tiny")


def test_bare_state_dict_needs_preset(tmp_path: Path, tiny_config) -> None:
    torch.manual_seed(0)
    bare = build_model(get_preset("tiny").model).state_dict()
    path = tmp_path / "ema_0.9999_250000.pt"
    torch.save(bare, path)
    with pytest.raises(ValueError, match=r"bare state dict: pass --preset bair\|kinetics\|ucf\|tiny"):
        load_model(path)
    model, cfg, info = load_model(path, preset="tiny")
    assert cfg.name == "tiny" and info["step"] == 250000 and info["format"] == "bare"
    assert all(torch.equal(v, bare[k]) for k, v in model.state_dict().items())
    # A bare dict of another architecture: one line naming the first mismatching key.
    small = tmp_path / "model.pt"
    torch.save(build_model(tiny_config().model).state_dict(), small)
    with pytest.raises(ValueError, match="shape|key"):
        load_model(small, preset="tiny")


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_model(tmp_path / "missing.pt")
    future = save_checkpoint(tmp_path / "future.pt", {"step": 1})
    obj = torch.load(future, weights_only=True)
    obj["format_version"] = 99
    torch.save(obj, future)
    with pytest.raises(ValueError, match="format_version 99 is not supported"):
        load_model(future)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="expected a dict"):
        load_model(tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a weights-only torch checkpoint"):
        load_model(tmp_path / "junk.pt")


def test_save_is_atomic_and_latest_picks_highest_step(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "nope") is None
    for step in (9, 10, 2):
        save_checkpoint(tmp_path / f"ckpt-{step}.pt", {"step": step})
    (tmp_path / "ckpt-99.pt.bak").write_text("")
    (tmp_path / "ckpt-final.pt").write_text("")
    assert latest_checkpoint(tmp_path) == tmp_path / "ckpt-10.pt"
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(RuntimeError):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
            save_checkpoint(tmp_path / "ckpt-10.pt", {"step": 11})
    assert read_checkpoint(tmp_path / "ckpt-10.pt")["step"] == 10  # old file intact
    assert not list(tmp_path.glob(".*.tmp"))


def test_non_finite_weights_are_refused_naming_file_and_tensor(trained: Path, tmp_path: Path) -> None:
    obj = torch.load(trained, map_location="cpu", weights_only=True)
    name = sorted(k for k, v in obj["ema"].items() if v.is_floating_point())[3]
    obj["ema"][name].view(-1)[0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", {k: v for k, v in obj.items() if k != "format_version"})
    with pytest.raises(ValueError, match=rf"nan\.pt: ema weight {name} has 1 NaN/inf value"):
        load_model(tmp_path / "nan.pt")
    load_model(tmp_path / "nan.pt", use_ema=False)  # the raw weights are fine: usable on purpose
    bare = {k: v.clone() for k, v in obj["model"].items()}
    bare[name].view(-1)[-1] = float("inf")
    torch.save(bare, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match=rf"bare\.pt: model weight {name} has 1 NaN/inf"):
        load_model(tmp_path / "bare.pt", preset="tiny")
