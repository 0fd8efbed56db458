"""The demo: evaluates the shipped showcase model (never trains one); its infilling step keeps the
known frames exact in the written npz and writes a GIF."""
from __future__ import annotations

import json

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


def test_infill_samples_sample_as_the_protocol_says(tmp_path, monkeypatch):
    import ramvid.checkpoint
    import ramvid.sampling

    seen = {}

    def fake_generate(model, config, known, cond, **kw):
        seen.update(kw, cond=tuple(cond))
        return known

    monkeypatch.setattr(ramvid.checkpoint, "load_model", lambda *a, **k: (None, None, {}))
    monkeypatch.setattr(ramvid.sampling, "generate", fake_generate)
    infill_samples(tmp_path / "m.pt", tmp_path, num=2, device="cpu", progress=False)
    p = get_protocol("shapes-infilling")
    assert (p.version, p.sampler, p.sampler_steps, p.eta) == (2, "ddim", 20, 0.5)
    keys = ("cond", "sampler", "steps", "eta", "resample", "guidance", "quantize", "seed")
    assert {k: seen[k] for k in keys} == {"cond": p.cond, "sampler": "ddim", "steps": 20, "eta": 0.5,
                                          "resample": 1, "guidance": 0.0, "quantize": "round", "seed": 0}


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


def test_demo_ends_with_the_report(tmp_path, monkeypatch):
    """The runs are stand-ins (copy-last samples, a made-up value: no I3D, no sampling); what is
    checked is that the demo writes the report of what it ran and prints its path."""
    import benchmarks.demo as demo_module
    from benchmarks.baselines import fill
    from benchmarks.results import append_row
    from benchmarks.runner import RunResult
    from benchmarks.shards import ShardStore

    specs = []

    def fake_run(spec):
        specs.append(spec)
        p = get_protocol(spec.protocol).replace(num_videos=spec.num_videos)
        clips = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution).clips(range(2))
        method = {"baseline": spec.baseline} if spec.baseline else {"checkpoint_sha256": "ab" * 32}
        store = ShardStore(spec.out_dir, {"protocol": p.to_dict(), "method": method})
        store.write(fill("copy-last", clips, p.cond), [(0, 0), (1, 0)])
        row = {"protocol": p.name, "version": p.version, "metric": "fvd", "value": 100.0,
               "num_videos": 2, "samples_per_video": 1, "repeats": 1, "seed": 0, "wall_s": 0.1,
               "method": spec.baseline or "ramvid", "spec": json.dumps({"out_dir": spec.out_dir})}
        if not spec.baseline:
            row.update(ckpt_sha256="ab" * 6, checkpoint=spec.ckpt, step=1, preset="tiny", sampler="ddim",
                       sampler_steps=25, resample=1)
        append_row(spec.results, row)
        return RunResult(protocol=p, value=100.0, std=None, per_repeat=[100.0], row=row,
                         work_dir=store.root)

    monkeypatch.setattr(demo_module, "run", fake_run)
    monkeypatch.setattr(demo_module, "infill_samples", lambda *a, **k: tmp_path / "infill.gif")
    lines: list[str] = []
    demo(tmp_path / "out", num_videos=2, progress=False, echo=lines.append)
    index = tmp_path / "out" / "report" / "index.html"
    assert lines[-1] == f"report (open in a browser): {index.resolve()}"
    html = index.read_text()
    assert html.count('<section class="run"') == 2 and 'id="training"' in html  # both runs, the loss curve
    assert "shapes-prediction@2: copy-last" in html and "shapes-prediction@2: ramvid" in html
    # the model runs with the protocol's own sampler (shapes-prediction@2: DDIM eta 0.5, 20 steps)
    assert [(s.sampler, s.sampler_steps) for s in specs] == [(None, None), (None, None)]
