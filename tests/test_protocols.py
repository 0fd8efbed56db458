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
