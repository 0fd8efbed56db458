"""v-prediction: the training target, its conversion to an eps denoiser, config and training wiring."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ramvid.checkpoint import load_model, read_checkpoint
from ramvid.config import DiffusionConfig, RamvidConfig, get_preset
from ramvid.diffusion import (
    EpsFromV,
    Schedule,
    as_eps_denoiser,
    model_timesteps,
    p_mean_variance,
    q_sample,
    training_target,
)


@pytest.fixture(scope="module")
def sched() -> Schedule:
    return Schedule.linear(1000)


def _example(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(3, 3, 2, 4, 4, generator=g) * 2 - 1
    return x0, torch.randn(x0.shape, generator=g), torch.tensor([0, 480, 999])


def test_targets(sched: Schedule) -> None:
    x0, noise, t = _example()
    assert training_target(sched, x0, t, noise, "eps") is noise
    v = training_target(sched, x0, t, noise, "v")
    ab = torch.tensor(sched.alphas_cumprod[t.numpy()], dtype=torch.float32).view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(v, ab.sqrt() * noise - (1 - ab).sqrt() * x0)
    # v and x_t are an orthonormal rotation of (noise, x0): x0 = sqrt(ab) x_t - sqrt(1-ab) v.
    xt = q_sample(sched, x0, t, noise)
    torch.testing.assert_close(ab.sqrt() * xt - (1 - ab).sqrt() * v, x0, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="prediction"):
        training_target(sched, x0, t, noise, "x0")


@pytest.mark.parametrize("respace", [None, 25])
def test_eps_from_v_with_an_oracle(sched: Schedule, respace: int | None) -> None:
    """A network that outputs the true v becomes a denoiser that outputs the true eps."""
    x0, noise, t_full = _example(1)
    chain = sched if respace is None else sched.respace(respace)
    t = torch.tensor([0, 12, chain.steps - 1]) if respace else t_full
    orig = torch.from_numpy(chain.timestep_map[t.numpy()])
    xt = q_sample(sched, x0, orig, noise)
    v = training_target(sched, x0, orig, noise, "v")
    denoiser = as_eps_denoiser(lambda x, ts: v, "v", 1000)
    torch.testing.assert_close(denoiser(xt, model_timesteps(chain, t)), noise, atol=1e-4, rtol=0)
    # ... so samplers see the same x0 prediction an eps oracle would give them.
    got = p_mean_variance(denoiser, chain, xt, t).pred_x0
    want = p_mean_variance(lambda x, ts: noise, chain, xt, t).pred_x0
    torch.testing.assert_close(got, want, atol=2e-3, rtol=0)


def test_as_eps_denoiser_choices(sched: Schedule) -> None:
    net = torch.nn.Identity()
    assert as_eps_denoiser(net, "eps", 1000) is net
    assert isinstance(as_eps_denoiser(net, "v", 1000), EpsFromV)
    with pytest.raises(ValueError, match="prediction"):
        as_eps_denoiser(net, "x0", 1000)
    with pytest.raises(ValueError, match="training chain"):
        EpsFromV(net, sched.respace(10))


def test_config_field() -> None:
    assert DiffusionConfig().prediction == "eps" and get_preset("tiny").diffusion.prediction == "eps"
    with pytest.raises(ValueError, match="unknown prediction 'x0'"):
        DiffusionConfig(prediction="x0")
    # Checkpoints written before the field existed load as eps models.
    d = get_preset("tiny").to_dict()
    del d["diffusion"]["prediction"]
    assert RamvidConfig.from_dict(d).diffusion.prediction == "eps"


def test_train_v_is_recorded_and_kept_on_resume(tmp_path: Path, tiny_config, noise_clips) -> None:
    from ramvid.training import train

    torch.set_num_threads(1)
    kw = {"save_every": 1, "progress": False, "seed": 0, "data": "noise"}
    result = train(tiny_config(), noise_clips(), steps=1, out_dir=tmp_path, prediction="v", **kw)
    saved = read_checkpoint(result.checkpoint)
    assert saved["config"]["diffusion"]["prediction"] == "v"
    # Resuming without --prediction keeps v; asking for eps is refused with the setting named.
    assert train(tiny_config(), noise_clips(), steps=2, out_dir=tmp_path, resume=True, **kw).step == 2
    with pytest.raises(ValueError, match="diffusion.prediction='v'"):
        train(tiny_config(), noise_clips(), steps=3, out_dir=tmp_path, resume=True, prediction="eps", **kw)
    model, config, _ = load_model(tmp_path / "ckpt-2.pt")
    assert config.diffusion.prediction == "v"


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_generate_reads_v_models(sampler: str, tiny_config, v_oracle) -> None:
    """``generate`` converts a v network by the checkpoint's config: an oracle yields its video."""
    from ramvid.sampling import generate
    from ramvid.video import to_model

    g = torch.Generator().manual_seed(2)
    video = torch.randint(0, 256, (1, 4, 8, 8, 3), generator=g, dtype=torch.uint8).numpy()
    config = tiny_config()
    config = config.replace(diffusion=DiffusionConfig(steps=100, prediction="v"))
    oracle = v_oracle(to_model(video, "cpu"))
    out = generate(oracle, config, video, (0,), steps=2, seed=0, batch_size=1, device="cpu",
                   sampler=sampler, progress=False)
    assert abs(out.astype(int) - video.astype(int)).max() <= 1


class Zero(torch.nn.Module):
    def forward(self, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_generate_wires_the_prediction_type(tiny_config) -> None:
    """Output 0 means "x0 = sqrt(abar) x_t" (shrinks to grey) for v, "x0 = x_t / sqrt(abar)" for eps.

    Read as eps, every pixel saturates (|x - 127.5| = 127.5); read as v, the noise shrinks by
    sqrt(1 - abar) of the second-last step (~56 here, measured).
    """
    from ramvid.sampling import generate

    base = tiny_config()
    dist = {}
    for prediction in ("v", "eps"):
        config = base.replace(diffusion=DiffusionConfig(steps=100, prediction=prediction))
        out = generate(Zero(), config, None, (), n=1, steps=5, seed=0, batch_size=1, device="cpu",
                       sampler="ddim", progress=False)
        dist[prediction] = abs(out.astype(float) - 127.5).mean()
    assert dist["v"] < 80 and dist["eps"] > 125, dist
