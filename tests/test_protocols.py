"""Protocol registry: declared data is valid, duplicates rejected, typos suggested, rules enforced."""
from __future__ import annotations

import dataclasses

import pytest

from benchmarks.protocols import default_registry, get_protocol
from benchmarks.registry import Protocol, Registry

BASE = dict(name="toy-prediction", version=1, dataset="shapes", split="test", resolution=32, frames=16,
            cond=(0, 1), metric_frames="all", num_videos=8, samples_per_video=1, repeats=1, metric="fvd")


def make(**changes) -> Protocol:
    return Protocol(**{**BASE, **changes})


def test_paper_protocols_match_reference():
    bp = get_protocol("bair-prediction")
    assert (bp.cond, bp.frames, bp.metric_frames, bp.num_videos, bp.samples_per_video) == (
        (0,), 16, "all", 256, 100)
    assert len(bp.metric_indices) == 16
    bi = get_protocol("bair-infilling")
    assert bi.cond == (0, 15) and bi.metric_indices == tuple(range(1, 15))  # the 14 generated frames
    assert get_protocol("bair-prediction-generated-only").metric_indices == tuple(range(1, 16))
    assert get_protocol("kinetics-prediction").cond == (0, 1, 2, 3, 4)
    assert get_protocol("kinetics-infilling-ends").cond == (0, 1, 14, 15)
    assert get_protocol("kinetics-infilling-even").cond == (0, 5, 10, 15)
    ucf, sgv = get_protocol("ucf-unconditional"), get_protocol("ucf-unconditional-stylegan-v")
    assert (ucf.metric, ucf.option("splits"), ucf.repeats) == ("is", 1, 10)
    assert (sgv.option("splits"), sgv.repeats) == (10, 1)


def test_embedded_protocols_present_and_sized():
    names = default_registry().names()
    for ds in ("shapes", "moving-mnist"):
        for task in ("prediction", "infilling", "upsampling", "unconditional"):
            assert f"{ds}-{task}" in names
    assert get_protocol("shapes-upsampling").cond == (0, 4, 8, 12)  # every 4th frame known
    assert get_protocol("shapes-unconditional").cond == ()
    for p in default_registry():
        if not p.table:
            assert p.num_videos <= 256 and p.sampler_steps <= 100 and p.resolution <= 32


def test_protocols_are_frozen():
    p = get_protocol("shapes-prediction")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.num_videos = 1  # type: ignore[misc]


def test_duplicates_rejected_and_versions_resolve():
    reg = Registry([make()])
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(make())
    reg.register(make(version=2, num_videos=16))
    assert reg.get("toy-prediction").version == 2
    assert reg.get("toy-prediction@1").num_videos == 8
    with pytest.raises(ValueError, match="no such version"):
        reg.get("toy-prediction@3")


def test_typo_suggests_close_names():
    with pytest.raises(ValueError, match="did you mean bair-prediction"):
        get_protocol("bair-predictoin")
    with pytest.raises(ValueError, match="ramvid-bench protocols"):
        get_protocol("zzzzzz")


@pytest.mark.parametrize("changes, message", [
    (dict(metric="lpips"), "metric must be one of"),
    (dict(metric_frames="some"), "metric_frames"),
    (dict(cond=(3, 1)), "sorted tuple"),
    (dict(cond=(0, 16)), r"lie in \[0, 16\)"),
    (dict(cond=tuple(range(16))), "no frame to generate"),
    (dict(frames=10, cond=(0, 1, 2), metric_frames="generated"), "I3D needs >= 9"),
    (dict(num_videos=0), ">= 1"),
    (dict(name="Bad Name"), "lowercase"),
    (dict(metric="is", frames=10), "16 frames"),
    (dict(metric_options=(("splits", 2),)), "metric_options"),
    (dict(window="random"), "window"),
    (dict(sampler="euler"), "sampler must be one of"),
    # options no code reads are refused; the choices come from the tables that implement them
    (dict(metric_options=(("extractor", "i3d"),)), "fvd reads only distinct keys among none"),
    (dict(dataset="imagenet"), "dataset must be one of"),
    (dict(sampler="ddim", resample=2), "needs a sampler that resamples"),
    (dict(metric="is", metric_options=(("estimator", "fid"),)), "unknown IS estimator 'fid'"),
    (dict(metric="is", metric_options=(("estimator", "tganv2"), ("splits", 10))), "contradicts"),
])
def test_validation_rejects(changes, message):
    with pytest.raises(ValueError, match=message):
        make(**changes)


def test_ddim_is_a_valid_sampler():
    assert make(sampler="ddim").sampler == "ddim"


def test_replace_revalidates_and_ignores_none():
    p = get_protocol("shapes-prediction")
    assert p.replace(num_videos=None) == p
    assert p.replace(num_videos=4).num_videos == 4
    with pytest.raises(ValueError):
        p.replace(frames=8)  # FVD clip would be shorter than I3D's 9 frames


def test_paper_protocols_v2_quantize_as_the_official_script():
    for p in default_registry():
        if p.table:  # every paper protocol's newest version truncates; @1 stays as registered (rounds)
            assert p.quantize == "floor", p.key
    v1, v2 = get_protocol("bair-prediction@1"), get_protocol("bair-prediction@2")
    assert (v1.quantize, v2.quantize) == ("round", "floor")
    assert dataclasses.replace(v2, version=1, quantize="round", description=v1.description) == v1
    assert get_protocol("shapes-prediction").quantize == "round"  # our embedded protocols round
    with pytest.raises(ValueError, match="quantize must be one of"):
        make(quantize="trunc")


def test_embedded_v2_samples_with_ddim_eta_half_20_steps_and_v1_stays_as_registered():
    for dataset in ("shapes", "moving-mnist"):
        for task in ("prediction", "infilling", "upsampling", "unconditional"):
            v1, v2 = get_protocol(f"{dataset}-{task}@1"), get_protocol(f"{dataset}-{task}@2")
            assert (v1.sampler, v1.sampler_steps, v1.eta) == ("ddpm", 25, 0.0)
            assert (v2.sampler, v2.sampler_steps, v2.eta, v2.guidance) == ("ddim", 20, 0.5, 0.0)
            assert get_protocol(f"{dataset}-{task}") == v2  # the bare name is the newest version
            assert dataclasses.replace(v2, version=1, sampler="ddpm", sampler_steps=25, eta=0.0,
                                       description=v1.description) == v1


def test_mean_of_100_is_the_other_reading_of_256_by_100():
    one, mean = get_protocol("bair-prediction"), get_protocol("bair-prediction-mean-of-100")
    assert (one.num_videos, one.samples_per_video, one.repeats) == (256, 100, 1)
    assert (mean.num_videos, mean.samples_per_video, mean.repeats) == (256, 1, 100)
    assert mean.cond == one.cond and mean.metric_indices == one.metric_indices and mean.quantize == "floor"
    assert "mean of 100 FVDs" in mean.description and "one FVD over all 25,600" in mean.description
    assert get_protocol("bair-infilling-mean-of-100").metric_indices == tuple(range(1, 15))


def test_quantize_reaches_the_model_samples(tmp_path):
    import numpy as np
    import torch

    from benchmarks.methods import make_method
    from ramvid.checkpoint import save_checkpoint
    from ramvid.config import ModelConfig, RamvidConfig
    from ramvid.data import open_dataset
    from ramvid.model import build_model

    cfg = RamvidConfig(name="test", frames=10, model=ModelConfig(
        image_size=16, model_channels=32, channel_mult=(1,), num_res_blocks=1, attention_resolutions=(),
        num_heads=1))
    torch.manual_seed(0)
    sd = build_model(cfg.model).state_dict()
    save_checkpoint(tmp_path / "t.pt", {"config": cfg.to_dict(), "step": 1, "model": sd, "ema": sd})
    p = get_protocol("shapes-prediction").replace(resolution=16, frames=10, sampler_steps=2, num_videos=2)
    source = open_dataset("shapes", "test", frames=10, resolution=16)
    out = {q: make_method(p.replace(quantize=q), source, ckpt=str(tmp_path / "t.pt"), progress=False)
           .produce([(0, 0), (1, 0)]).astype(int) for q in ("round", "floor")}
    diff = out["round"] - out["floor"]  # same float samples: rounding is the floor or one above it
    assert diff.min() == 0 and diff.max() == 1 and diff.any()
    assert np.array_equal(out["round"][:, list(p.cond)], out["floor"][:, list(p.cond)])  # known frames exact


def test_eta_is_a_protocol_field_that_reaches_the_model_samples(tmp_path, monkeypatch):
    import ramvid.sampling
    from benchmarks.methods import make_method
    from benchmarks.runner import RunSpec, resolve
    from ramvid.data import open_dataset

    with pytest.raises(ValueError, match="eta=0.5 needs a sampler that reads eta"):
        make(sampler="ddpm", eta=0.5)
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        make(sampler="ddim", eta=-1.0)
    p = get_protocol("shapes-prediction")
    assert resolve(RunSpec(protocol="shapes-prediction", ckpt="m.pt", eta=0.5)).eta == 0.5  # --eta
    # another sampler chosen: the protocol's DDIM eta does not follow it; an eta asked for is checked
    assert resolve(RunSpec(protocol="shapes-prediction", ckpt="m.pt", sampler="ddpm",
                           overrides={"eta": 0.0})).eta == 0.0
    with pytest.raises(ValueError, match="needs a sampler that reads eta"):
        resolve(RunSpec(protocol="shapes-prediction", ckpt="m.pt", sampler="dpm++2m", eta=0.5))
    eta_protocol = {"sampler": "ddim", "eta": 0.5}
    assert resolve(RunSpec(protocol="shapes-prediction", ckpt="m.pt", overrides=eta_protocol)).eta == 0.5
    assert resolve(RunSpec(protocol="shapes-prediction", ckpt="m.pt", sampler="ddpm")).eta == 0.0

    seen = {}
    monkeypatch.setattr(ramvid.sampling, "generate", lambda *a, **kw: seen.update(kw) or a[2])
    monkeypatch.setattr("benchmarks.methods.check_fits", lambda *a, **k: None)
    monkeypatch.setattr("ramvid.checkpoint.load_model", lambda *a, **k: (
        type("M", (), {"parameters": lambda self: iter(())})(), _TinyConfig(), {"sha256": "ab" * 32}))
    source = open_dataset("shapes", "test", frames=p.frames, resolution=p.resolution)
    make_method(p.replace(eta=0.25), source, ckpt="m.pt", progress=False).produce([(0, 0)])
    assert (seen["sampler"], seen["eta"]) == ("ddim", 0.25)


class _TinyConfig:
    name, frames, resolution = "tiny", 16, 32

    class diffusion:  # noqa: N801 (stands in for the config's section)
        steps = 1000

    class mask:  # noqa: N801
        p_uncond = 0.0
