"""The demo: evaluates the shipped showcase model (never trains one); its infilling step keeps the
known frames exact in the written npz and writes a GIF."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks import assets
from benchmarks.demo import demo, infill_samples
from benchmarks.protocols import get_protocol
from ramvid.checkpoint import save_checkpoint
from ramvid.config import ModelConfig, RamvidConfig
from ramvid.data import open_dataset
from ramvid.model import build_model


def test_infill_samples_keep_known_frames(tmp_path):
    p = get_protocol("shapes-infilling")
    config = RamvidConfig(name="t", frames=p.frames,
                          model=ModelConfig(image_size=p.resolution, model_channels=32, channel_mult=(1,),
                                            num_res_blocks=1, attention_resolutions=()))
    model = build_model(config.model)
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, {"config": config.to_dict(), "step": 0, "model": model.state_dict(),
                           "ema": model.state_dict()})
    gif = infill_samples(ckpt, tmp_path, num=2, steps=2, device="cpu", progress=False)
    assert gif.exists() and gif.stat().st_size > 0
    with np.load(tmp_path / "shapes-infilling.npz") as z:
        videos = z["videos"]
    known = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution,
                         seed=p.data_seed).clips(range(2))
    assert videos.shape == known.shape
    assert np.array_equal(videos[:, list(p.cond)], known[:, list(p.cond)])


def test_demo_uses_the_shipped_checkpoint():
    path = assets.showcase_checkpoint()
    assert path.is_file() and path.parent.name == "checkpoints" and (path.parent / "TRAINING.md").is_file()


def test_demo_without_checkpoint_stops_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "SHOWCASE", "checkpoints/absent.pt")
    with pytest.raises(FileNotFoundError) as err:
        demo(tmp_path / "out", progress=False, echo=lambda line: pytest.fail(f"demo went on: {line}"))
    message = str(err.value)
    assert "absent.pt" in message and "reinstall" in message and "\n" not in message
    assert not (tmp_path / "out").exists()  # stopped before any work: nothing trained or written
