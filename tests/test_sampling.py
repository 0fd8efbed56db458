"""Samplers with dummy denoisers: known frames exact, batch-size invariance, determinism, golden sum."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ramvid.data import open_dataset
from ramvid.diffusion import Schedule
from ramvid.masking import mask_from_indices
from ramvid.model import build_model
from ramvid.sampling import ddpm
from ramvid.utils import make_generator

# Shared helpers (conftest.py): sample_config (6 frames of 8x8), tiny_denoiser, make_known, gen,
# sample_cli, write_npz and the ckpt of a small real UNet3D.


def test_ddpm_known_frames_clean_before_every_step_and_exact_after(sample_config) -> None:
    frames, res = sample_config.frames, sample_config.model.image_size
    sched = Schedule.linear(100).respace(4)
    x_known = torch.rand(2, 3, frames, res, res) * 2 - 1
    mask = mask_from_indices([0, 3], frames, batch=2)
    calls: list[torch.Tensor] = []

    def spy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(x.clone())
        return torch.zeros_like(x)

    gens = [make_generator(0, i) for i in range(2)]
    out = ddpm(spy, sched, x_known, mask, gens, resample=2)
    assert len(calls) == 4 * 2  # R denoiser calls per step, the last step included (as official)
    for x in calls:  # the network always sees the clean known frames, never noised ones
        assert torch.equal(x[:, :, [0, 3]], x_known[:, :, [0, 3]])
    assert torch.equal(out[:, :, [0, 3]], x_known[:, :, [0, 3]])
    assert not torch.equal(out[:, :, 1], x_known[:, :, 1])


def test_ddpm_golden_sum(tiny_denoiser) -> None:
    # Pinned once from this code: a whole 10-step loop with a fixed dummy denoiser.
    sched = Schedule.linear(1000).respace(10)
    x_known = torch.linspace(-1, 1, 2 * 3 * 4 * 4 * 4).reshape(2, 3, 4, 4, 4)
    mask = mask_from_indices([0], 4, batch=2)
    gens = [make_generator(123, i) for i in range(2)]
    out = ddpm(tiny_denoiser, sched, x_known, mask, gens)
    # float32 arithmetic on 384 values: allow a few ulps of drift across CPUs / torch versions.
    assert out.double().sum().item() == pytest.approx(-6.166144013404846, abs=2e-4)
    assert out.double().abs().sum().item() == pytest.approx(245.84001, rel=2e-6)


def test_ddpm_with_analytic_denoiser_recovers_data_distribution() -> None:
    """Data iid N(0, s^2): the optimal eps is x_t sqrt(1-abar) / (abar s^2 + 1 - abar).

    Sampling with it on a respaced chain must give std ~ s: checks the timestep rescaling, the
    respaced betas and the posterior/large-variance maths together.
    """
    full, s = Schedule.linear(1000), 0.3

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # t arrives on the model scale: original index * 1000 / 1000 original steps.
        ab = torch.from_numpy(full.alphas_cumprod[t.round().long().numpy()]).float()
        ab = ab.view(-1, 1, 1, 1, 1)
        return x * (1 - ab).sqrt() / (ab * s**2 + 1 - ab)

    x_known = torch.zeros(4, 3, 4, 8, 8)
    out = ddpm(oracle, full.respace(250), x_known, mask_from_indices([], 4, batch=4),
               [make_generator(0, i) for i in range(4)])
    assert abs(out.std().item() - s) < 0.015 and abs(out.mean().item()) < 0.015  # 3072 values


def test_generate_known_frames_bit_exact_and_deterministic(tiny_denoiser, make_known, gen) -> None:
    model, known, cond = tiny_denoiser, make_known(3), (0, 2, 5)
    out = gen(model, known, cond)
    assert out.dtype == np.uint8 and out.shape == known.shape
    assert np.array_equal(out[:, list(cond)], known[:, list(cond)])
    assert np.array_equal(out, gen(model, known, cond))
    assert not np.array_equal(out, gen(model, known, cond, seed=4))


def test_generate_batch_size_invariant(tiny_denoiser, make_known, gen) -> None:
    model, known = tiny_denoiser, make_known(3, seed=1)
    a = gen(model, known, (1,), batch_size=1)
    b = gen(model, known, (1,), batch_size=3)
    assert np.array_equal(a, b)
    # keys pick the generator: video 2 alone with keys=[(2,)] equals video 2 of the batch.
    c = gen(model, known[2:], (1,), keys=[(2,)])
    assert np.array_equal(c[0], a[2])


def test_generate_unconditional_resample_and_other_lengths(sample_config, tiny_denoiser, make_known,
                                                           gen) -> None:
    frames, res = sample_config.frames, sample_config.model.image_size
    model = tiny_denoiser
    u = gen(model, None, (), n=2)
    assert u.shape == (2, frames, res, res, 3)
    r = gen(model, make_known(2), (0,), resample=2, steps=3)
    assert r.shape == (2, frames, res, res, 3)
    assert not np.array_equal(r, gen(model, make_known(2), (0,), steps=3))
    long = make_known(1)[:, [0, 1, 2, 3, 4, 5, 0, 1]]  # 8 frames though the config says 6: allowed
    out = gen(model, long, (0, 7))
    assert out.shape[1] == 8 and np.array_equal(out[:, [0, 7]], long[:, [0, 7]])


# Each case turns make_known(2) (uint8 [2, 6, 8, 8, 3]) into a bad input.
@pytest.mark.parametrize("bad,kw,match", [
    pytest.param(lambda k: k.astype(np.float32), {}, "uint8", id="float32"),
    pytest.param(lambda k: k[:, :, :, :, :2], {}, r"\[N, T, H, W, 3\]", id="two-channels"),
    pytest.param(lambda k: k[0], {}, r"\[N, T, H, W, 3\]", id="one-video-4d"),
    pytest.param(lambda k: k, {"frames": 5}, "requested", id="frames-5"),
    pytest.param(lambda k: np.zeros((2, k.shape[1], 16, 16, 3), np.uint8), {}, "8x8", id="16x16"),
    pytest.param(lambda k: None, {}, "needs n", id="none-without-n"),
    pytest.param(lambda k: k, {"keys": [(0,)]}, "key", id="too-few-keys"),
    pytest.param(lambda k: k, {"n": 3}, "n=3", id="n-3"),
])
def test_generate_rejects_bad_input(bad, kw: dict, match: str, tiny_denoiser, make_known, gen) -> None:
    known = bad(make_known(2))
    with pytest.raises(ValueError, match=match):
        gen(tiny_denoiser, known, (0,) if known is not None else (), **kw)


def test_generate_rejects_bad_cond(sample_config, tiny_denoiser, make_known, gen) -> None:
    for cond, match in [((0, 6), "outside"), ((1, 1), "repeated"),
                        (tuple(range(sample_config.frames)), "at least one")]:
        with pytest.raises(ValueError, match=match):
            gen(tiny_denoiser, make_known(1), cond)


# --- the `sample` command ----------------------------------------------------------------------


def test_cli_infilling_multi_digit_cond(ckpt: str, tmp_path, sample_config, sample_cli, write_npz) -> None:
    res = sample_config.model.image_size
    known = np.random.default_rng(5).integers(0, 256, (2, 12, res, res, 3), dtype=np.uint8)
    out, gif = tmp_path / "s.npz", tmp_path / "g.gif"
    r = sample_cli("--ckpt", ckpt, "--cond", "0,11", "--input", write_npz(tmp_path / "in.npz", known),
                   "--steps", "2", "--out", str(out), "--gif", str(gif), "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        videos, cond = z["videos"], z["cond"]
    assert cond.tolist() == [0, 11]  # "0,11" is two frames, not the characters 0, 1, 1
    assert videos.shape == known.shape and videos.dtype == np.uint8
    assert np.array_equal(videos[:, [0, 11]], known[:, [0, 11]])
    assert gif.stat().st_size > 0


def test_cli_unconditional(ckpt: str, tmp_path, sample_config, sample_cli) -> None:
    frames, res = sample_config.frames, sample_config.model.image_size
    out = tmp_path / "u.npz"
    r = sample_cli("--ckpt", ckpt, "--cond", "", "--num", "2", "--steps", "2", "--out", str(out),
                   "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert z["videos"].shape == (2, frames, res, res, 3) and z["cond"].size == 0


@pytest.mark.parametrize("cond,match", [
    ("0,99", "outside 0..5"), ("1,1", "repeated"), ("0,1,2,3,4,5", "at least one"), ("0;1", "not an integer"),
    ("a", "not an integer"), ("0,,1", "not an integer"),
])
def test_cli_bad_cond(ckpt: str, tmp_path, cond: str, match: str, sample_cli) -> None:
    r = sample_cli("--ckpt", ckpt, "--cond", cond, "--num", "1", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and match in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x.npz").exists()


# Each case builds bad videos from (frames, res) of sample_config.
@pytest.mark.parametrize("bad,match", [
    pytest.param(lambda f, r: np.zeros((2, f, r, r, 3), np.float32), "uint8", id="float32"),
    pytest.param(lambda f, r: np.zeros((2, f, r, r), np.uint8), "[N, T, H, W, 3]", id="no-channels"),
    pytest.param(lambda f, r: np.zeros((2, f, 16, 16, 3), np.uint8), "16x16", id="16x16"),
])
def test_cli_bad_input(ckpt: str, tmp_path, bad, match: str, sample_config, sample_cli, write_npz) -> None:
    videos = bad(sample_config.frames, sample_config.model.image_size)
    r = sample_cli("--ckpt", ckpt, "--cond", "0", "--input", write_npz(tmp_path / "in.npz", videos),
                   "--steps", "1", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and match in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_cli_input_too_short_and_missing(ckpt: str, tmp_path, sample_config, sample_cli, write_npz) -> None:
    frames, res = sample_config.frames, sample_config.model.image_size
    known = np.zeros((1, frames, res, res, 3), np.uint8)
    r = sample_cli("--ckpt", ckpt, "--cond", "0", "--input", write_npz(tmp_path / "in.npz", known),
                   "--num", "3", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and "holds only 1" in r.output
    r = sample_cli("--ckpt", str(tmp_path / "nope.pt"), "--cond", "0", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and "no such" in r.output


def test_generate_batch_size_invariant_with_real_unet(sample_config, make_known, gen) -> None:
    torch.manual_seed(0)
    model = build_model(sample_config.model)
    with torch.no_grad():  # leave the zero-initialised output conv behind: a non-trivial network
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    known = make_known(2, seed=2)
    a = gen(model, known, (0,), steps=2, batch_size=1)
    b = gen(model, known, (0,), steps=2, batch_size=2)
    assert np.array_equal(a, b) and a[:, 1:].std() > 10


def test_cli_known_frames_from_dataset(ckpt: str, tmp_path, sample_config, sample_cli) -> None:
    out = tmp_path / "d.npz"
    r = sample_cli("--ckpt", ckpt, "--cond", "0,1", "--num", "2", "--steps", "1", "--out", str(out),
                   "--device", "cpu")  # dataset recorded in the checkpoint: shapes
    assert r.exit_code == 0, r.output
    frames, res = sample_config.frames, sample_config.model.image_size
    real = open_dataset("shapes", "test", frames=frames, resolution=res, seed=0).clips([0, 1])
    with np.load(out) as z:
        assert np.array_equal(z["videos"][:, [0, 1]], real[:, [0, 1]])


def test_generate_refuses_non_finite_output_naming_the_video(tiny_denoiser, make_known, gen) -> None:
    class NanOnWhite(torch.nn.Module):
        """The tiny denoiser, but NaN for any video whose known frame 0 is all white."""

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            white = (x[:, :, 0] == 1).flatten(1).all(1).view(-1, 1, 1, 1, 1)
            return torch.where(white, torch.nan, tiny_denoiser(x, t))

    known = make_known(3)
    known[2, 0] = 255
    with pytest.raises(ValueError, match=r"video 2 \(of 3\): the sampler output has NaN/inf"):
        gen(NanOnWhite(), known, (0,), batch_size=2)


def test_generate_batch_size_what_holds(make_known) -> None:
    """Noise draws are bit-identical at any batch size; outputs bit-identical at one batch size; across
    batch sizes (other CPU kernel shapes) only float rounding: within 1/255 (docstring of generate)."""
    from ramvid.config import ModelConfig, RamvidConfig
    from ramvid.sampling import generate
    from ramvid.utils import randn_per_item

    shape = (3, 6, 16, 16)
    batch = randn_per_item(shape, [make_generator(1, i) for i in range(3)])
    alone = torch.cat([randn_per_item(shape, [make_generator(1, i)]) for i in range(3)])
    assert torch.equal(batch, alone)
    # Joint attention at 8x8, as in the tiny preset: this network does round differently by batch.
    config = RamvidConfig(name="attn", frames=6, model=ModelConfig(
        image_size=16, model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(8,),
        num_heads=4))
    torch.manual_seed(0)
    model = build_model(config.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    known = np.random.default_rng(0).integers(0, 256, (3, 6, 16, 16, 3), dtype=np.uint8)
    out = {bs: generate(model, config, known, (0,), sampler="ddim", steps=3, seed=1, batch_size=bs,
                        device="cpu", progress=False) for bs in (1, 3)}
    assert np.array_equal(out[3], generate(model, config, known, (0,), sampler="ddim", steps=3, seed=1,
                                           batch_size=3, device="cpu", progress=False))
    diff = np.abs(out[1].astype(int) - out[3].astype(int))
    assert diff.max() <= 1 and np.count_nonzero(diff) / diff.size < 1e-2
    assert out[1][:, 1:].std() > 10  # a non-trivial network


# --- respacing: improved-diffusion's section syntax ---------------------------------------------

@pytest.mark.parametrize("n,spacing,kept", [
    (10, "ddim5", [0, 2, 4, 6, 8]),  # stride 2
    (1000, "ddim3", [0, 334, 668]),  # the smallest integer stride with len(range(0, 1000, k)) == 3
    (10, "2,3", [0, 4, 5, 7, 9]),  # sections of 5: stride 4 -> 0, 4; stride 2 from 5 -> 5, 7, 9
    (11, "3,3,3", [0, 2, 3, 4, 6, 7, 8, 9, 10]),  # sizes 4, 4, 3; stride 1.5: round 0, 1.5, 3 -> 0, 2, 3
    (10, "1,0,1", [0, 7]),  # sizes 4, 3, 3: a count of 1 keeps the section's first step
    (10, " 4 ", [0, 3, 6, 9]),
    (10, 4, [0, 3, 6, 9]),
    (10, (2, 3), [0, 4, 5, 7, 9]),
])
def test_space_timesteps_hand_computed(n: int, spacing, kept: list[int]) -> None:
    from ramvid.diffusion import space_timesteps

    assert space_timesteps(n, spacing) == kept
    assert Schedule.from_betas(np.full(n, 0.05)).respace(spacing).timestep_map.tolist() == kept


def test_space_timesteps_ddim25_and_plain_counts_match_respace() -> None:
    from ramvid.diffusion import space_timesteps

    assert space_timesteps(1000, "ddim25") == list(range(0, 1000, 40))
    full = Schedule.linear(1000)
    for n in (1, 7, 25, 250, 1000):
        assert space_timesteps(1000, str(n)) == full.respace(n).timestep_map.tolist()
    assert space_timesteps(1000, "10,15,20")[:3] == [0, 37, 74]  # sections 334, 333, 333: stride 333/9


@pytest.mark.parametrize("spacing,match", [
    ("ddim1", "no integer stride"), ("ddimx", "ddimN"), ("6,1", "section 0 has 5 steps"), ("0", "at least"),
    ("a,b", "step count"), ("-1,3", ">= 0"), ("11", "fewer than the 11"),
])
def test_space_timesteps_rejects(spacing: str, match: str) -> None:
    from ramvid.diffusion import space_timesteps

    with pytest.raises(ValueError, match=match):
        space_timesteps(10, spacing)


def test_respacing_setting(tiny_denoiser, make_known, gen) -> None:
    from ramvid.sampling import SamplerSettings

    known = make_known(2, seed=3)
    five = gen(tiny_denoiser, known, (0,))  # steps=5
    assert np.array_equal(gen(tiny_denoiser, known, (0,), steps=None, respacing="5"), five)
    assert not np.array_equal(gen(tiny_denoiser, known, (0,), steps=None, respacing="ddim5"), five)
    assert SamplerSettings(respacing="ddim25").schedule(1000).steps == 25
    with pytest.raises(ValueError, match="give one"):
        SamplerSettings(steps=5, respacing="ddim5")
    with pytest.raises(ValueError, match="ddimN"):
        SamplerSettings(respacing="ddimfast")


def test_cli_respacing(ckpt: str, tmp_path, make_known, sample_cli, write_npz) -> None:
    known = write_npz(tmp_path / "k.npz", make_known(1))
    out = tmp_path / "r.npz"
    r = sample_cli("--ckpt", ckpt, "--cond", "0", "--input", known, "--respacing", "1,1", "--sampler", "ddim",
                   "--out", str(out), "--device", "cpu", "--quiet")
    assert r.exit_code == 0, r.output
    r = sample_cli("--ckpt", ckpt, "--cond", "0", "--input", known, "--respacing", "ddim5", "--steps", "5",
                   "--out", str(out))
    assert r.exit_code == 1 and "give one" in r.output and len(r.output.strip().splitlines()) == 1
