"""DDIM: data distribution recovered in few steps, known frames exact, batch-size invariant."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ramvid.diffusion import Schedule
from ramvid.masking import mask_from_indices
from ramvid.sampling import ddim
from ramvid.utils import make_generator

S = 0.3
FULL = Schedule.linear(1000)


def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Optimal eps for data iid N(0, S^2) (t on the model scale, 1000 original steps)."""
    ab = torch.from_numpy(FULL.alphas_cumprod[t.round().long().numpy()]).float().view(-1, 1, 1, 1, 1)
    return x * (1 - ab).sqrt() / (ab * S**2 + 1 - ab)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_analytic_denoiser_recovers_data_distribution(eta: float) -> None:
    x_known = torch.zeros(4, 3, 4, 8, 8)
    out = ddim(oracle, FULL, x_known, mask_from_indices([], 4, batch=4),
               [make_generator(0, i) for i in range(4)], eta=eta)
    assert abs(out.std().item() - S) < 0.015 and abs(out.mean().item()) < 0.015


def test_ddim_eta0_matches_the_closed_form_update() -> None:
    """eta = 0 with a linear oracle: each step multiplies x by
    (sqrt(ab' ab) S^2 + sqrt((1 - ab')(1 - ab))) / (ab S^2 + 1 - ab), so the sample is the starting
    noise times the product of these factors (slightly below S on a coarse chain: DDIM's known
    discretisation shrinkage, by Cauchy-Schwarz)."""
    sched = FULL.respace(20)
    ab, ab_prev = sched.alphas_cumprod, sched.alphas_cumprod_prev
    factor = np.prod((np.sqrt(ab_prev * ab) * S**2 + np.sqrt((1 - ab_prev) * (1 - ab)))
                     / (ab * S**2 + 1 - ab))
    x_known, mask = torch.zeros(2, 3, 4, 8, 8), mask_from_indices([], 4, batch=2)
    a = ddim(oracle, sched, x_known, mask, [make_generator(1, i) for i in range(2)])
    b = ddim(oracle, sched, x_known, mask, [make_generator(1, i) for i in range(2)])
    noise = torch.stack([torch.randn(3, 4, 8, 8, generator=make_generator(1, i)) for i in range(2)])
    assert torch.equal(a, b)
    assert 0.7 * S < factor < S
    torch.testing.assert_close(a, noise * float(factor), atol=1e-5, rtol=1e-4)


def test_generate_ddim_known_frames_exact_and_batch_invariant(tiny_denoiser, make_known, gen) -> None:
    model, known, cond = tiny_denoiser, make_known(3, seed=2), (0, 3)
    one = gen(model, known, cond, sampler="ddim", batch_size=1)
    three = gen(model, known, cond, sampler="ddim", batch_size=3)
    assert np.array_equal(one, three)
    assert np.array_equal(one[:, list(cond)], known[:, list(cond)])
    assert not np.array_equal(one, gen(model, known, cond))  # differs from ddpm


def test_generate_rejects_unknown_sampler_and_ddim_resample(tiny_denoiser, make_known, gen) -> None:
    model, known = tiny_denoiser, make_known(1)
    with pytest.raises(ValueError, match="unknown sampler 'plms'"):
        gen(model, known, (0,), sampler="plms")
    with pytest.raises(ValueError, match="resample applies to the ddpm sampler only"):
        gen(model, known, (0,), sampler="ddim", resample=2)


def test_cli_sample_ddim(ckpt: str, tmp_path, sample_config, make_known, sample_cli, write_npz) -> None:
    frames, res = sample_config.frames, sample_config.model.image_size
    known = make_known(2, seed=5)
    out = tmp_path / "d.npz"
    r = sample_cli("--ckpt", str(ckpt), "--cond", "0,1", "--input", write_npz(tmp_path / "k.npz", known),
                   "--steps", "3", "--sampler", "ddim", "--out", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert z["videos"].shape == (2, frames, res, res, 3)
        assert np.array_equal(z["videos"][:, :2], known[:, :2])
    r = sample_cli("--ckpt", str(ckpt), "--cond", "0", "--input", str(tmp_path / "k.npz"),
                   "--sampler", "ddim", "--resample", "2", "--out", str(out), "--device", "cpu")
    assert r.exit_code != 0 and "ddpm sampler only" in r.output
