"""Classifier-free guidance: W = 0 is plain sampling bit for bit; what the unconditional branch sees."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from ramvid.diffusion import Schedule, q_sample
from ramvid.masking import mask_from_indices
from ramvid.sampling import SAMPLERS, Guided, SamplerSettings, generate
from ramvid.utils import make_generator, randn_per_item


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_guidance_zero_is_plain_sampling_bit_for_bit(name: str, tiny_denoiser, make_known, gen) -> None:
    known, cond = make_known(2, seed=6), (0, 1)
    plain = gen(tiny_denoiser, known, cond, sampler=name, steps=3)
    assert np.array_equal(plain, gen(tiny_denoiser, known, cond, sampler=name, steps=3, guidance=0.0))
    guided = gen(tiny_denoiser, known, cond, sampler=name, steps=3, guidance=1.0)
    assert not np.array_equal(plain, guided)
    assert np.array_equal(guided[:, list(cond)], known[:, list(cond)])


def test_guided_batch_invariant_and_unconditional_unchanged(tiny_denoiser, make_known, gen) -> None:
    known = make_known(3, seed=7)
    a = gen(tiny_denoiser, known, (2,), sampler="ddim", guidance=2.0, batch_size=1)
    assert np.array_equal(a, gen(tiny_denoiser, known, (2,), sampler="ddim", guidance=2.0, batch_size=3))
    # nothing known: both branches would see the same input, so guidance changes nothing
    assert np.array_equal(gen(tiny_denoiser, None, (), n=2, guidance=2.0), gen(tiny_denoiser, None, (), n=2))


def test_guided_inputs_and_combination() -> None:
    """One call on 2B: [x as given; x with the known frames on the forward process with noise z]."""
    full = Schedule.linear(100)
    x_known = torch.rand(2, 3, 4, 4, 4) * 2 - 1
    mask = mask_from_indices([0, 3], 4, batch=2)
    z = torch.randn(2, 3, 4, 4, 4)
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def spy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append((x.clone(), t.clone()))
        return torch.cat([torch.full_like(x[:2], 3.0), torch.full_like(x[2:], 1.0)])

    x = torch.randn(2, 3, 4, 4, 4)
    x[:, :, [0, 3]] = x_known[:, :, [0, 3]]
    t_model = torch.tensor([370.0, 370.0])  # step 37 of the 100-step chain on the model scale
    eps = Guided(spy, 0.5, full, x_known, mask, z)(x, t_model)
    assert torch.allclose(eps, torch.full_like(x, 1.0 + 1.5 * (3.0 - 1.0)))  # eps_u + (1+W)(eps_c - eps_u)
    (inp, t), = calls
    assert inp.shape[0] == 4 and torch.equal(t, torch.cat([t_model, t_model]))
    assert torch.equal(inp[:2], x)
    assert torch.equal(inp[2:, :, [1, 2]], x[:, :, [1, 2]])  # unknown frames: the same in both branches
    noised = q_sample(full, x_known, torch.tensor([37, 37]), z)
    assert torch.equal(inp[2:, :, [0, 3]], noised[:, :, [0, 3]])


def test_unconditional_branch_starts_from_the_samplers_own_noise(sample_config, make_known) -> None:
    """At the first step the unconditional input is (up to abar_T) the unguided sampler's x_T."""
    seen: list[torch.Tensor] = []

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            seen.append(x.clone())
            return torch.zeros_like(x)

    known = make_known(2, seed=8)
    generate(Spy(), sample_config, known, (0,), sampler="ddim", steps=2, guidance=1.0, seed=5,
             progress=False, device="cpu")
    x_t = randn_per_item((3, sample_config.frames, 8, 8), [make_generator(5, i) for i in range(2)])
    first = seen[0]
    ab = Schedule.linear(1000).alphas_cumprod[999]
    assert torch.allclose(first[2:, :, 0], x_t[:, :, 0] * (1 - ab) ** 0.5 + first[:2, :, 0] * ab ** 0.5,
                          atol=1e-6)
    assert torch.equal(first[2:, :, 1:], x_t[:, :, 1:]) and torch.equal(first[:2, :, 1:], x_t[:, :, 1:])


def test_guidance_warns_without_unconditional_training(sample_config, tiny_denoiser, make_known) -> None:
    config = dataclasses.replace(sample_config, mask=dataclasses.replace(sample_config.mask, p_uncond=0.0))
    with pytest.warns(UserWarning, match="p_uncond = 0"):
        generate(tiny_denoiser, config, make_known(1), (0,), steps=2, guidance=1.0, progress=False,
                 device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(tiny_denoiser, config, make_known(1), (0,), steps=2, progress=False, device="cpu")


def test_guidance_with_a_v_prediction_checkpoint(sample_config, tiny_denoiser, make_known) -> None:
    config = dataclasses.replace(sample_config,
                                 diffusion=dataclasses.replace(sample_config.diffusion, prediction="v"))
    known = make_known(2, seed=9)
    out = generate(tiny_denoiser, config, known, (0, 5), SamplerSettings(sampler="dpm++2m", steps=3,
                                                                         guidance=1.0),
                   progress=False, device="cpu")
    assert np.array_equal(out[:, [0, 5]], known[:, [0, 5]])
    plain = generate(tiny_denoiser, config, known, (0, 5), sampler="dpm++2m", steps=3, progress=False,
                     device="cpu")
    assert not np.array_equal(out, plain)


def test_guidance_must_be_non_negative() -> None:
    with pytest.raises(ValueError, match="--guidance must be >= 0"):
        SamplerSettings(guidance=-1.0)
