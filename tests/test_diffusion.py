"""Diffusion math: pinned schedule values, respacing, and the closed-form identities."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ramvid.diffusion import (
    Schedule,
    extract,
    model_timesteps,
    p_mean_variance,
    predict_x0_from_eps,
    q_posterior_mean,
    q_sample,
)


@pytest.fixture(scope="module")
def sched() -> Schedule:
    return Schedule.linear(1000)


def test_linear_golden_values(sched: Schedule) -> None:
    # Pinned once from this code; each also re-derived from the hand formula below.
    golden = {0: (1e-4, 0.9999), 499: (0.010040040040040039, 0.07858724288177824),
              999: (0.02, 4.035829765375676e-05)}
    for t, (beta, abar) in golden.items():
        hand_beta = 1e-4 + (0.02 - 1e-4) * t / 999
        hand_abar = math.prod(1 - (1e-4 + (0.02 - 1e-4) * s / 999) for s in range(t + 1))
        assert sched.betas[t] == pytest.approx(beta, rel=1e-12)
        assert hand_beta == pytest.approx(beta, rel=1e-12)
        assert sched.alphas_cumprod[t] == pytest.approx(abar, rel=1e-12)
        assert hand_abar == pytest.approx(abar, rel=1e-10)
    assert sched.betas.dtype == np.float64 and sched.steps == 1000


def test_linear_scales_with_steps() -> None:
    s = Schedule.linear(250)  # betas scaled by 1000 / 250
    assert s.betas[0] == pytest.approx(4e-4) and s.betas[-1] == pytest.approx(0.08)
    assert s.alphas_cumprod[-1] == pytest.approx(3.264409135490725e-05, rel=1e-12)


def test_posterior_and_large_variance(sched: Schedule) -> None:
    b, ac, acp = sched.betas, sched.alphas_cumprod, sched.alphas_cumprod_prev
    assert acp[0] == 1.0 and np.array_equal(acp[1:], ac[:-1])
    post = b * (1 - acp) / (1 - ac)
    np.testing.assert_allclose(sched.posterior_variance, post, rtol=1e-12)
    # improved-diffusion's trick: posterior_variance[1] replaces the zero / beta_0 at step 0.
    assert sched.model_log_variance[0] == pytest.approx(math.log(post[1]))
    np.testing.assert_allclose(sched.model_log_variance[1:], np.log(b[1:]), rtol=1e-12)
    assert sched.posterior_log_variance_clipped[0] == sched.posterior_log_variance_clipped[1]
    assert not sched.betas.flags.writeable  # frozen buffers


def test_respace_endpoints_and_marginals(sched: Schedule) -> None:
    r = sched.respace(50)
    assert r.steps == 50 and r.original_steps == 1000
    tm = r.timestep_map.tolist()
    assert tm[:5] == [0, 20, 41, 61, 82] and tm[-3:] == [958, 979, 999]
    # Respaced chain keeps the original marginals q(x_t | x_0) at the kept steps.
    np.testing.assert_allclose(r.alphas_cumprod, sched.alphas_cumprod[tm], rtol=1e-12)
    assert r.betas[0] == pytest.approx(1e-4, rel=1e-9)
    assert r.betas[-1] == pytest.approx(0.32980906609465954, rel=1e-12)
    assert sched.respace(100).timestep_map[:3].tolist() == [0, 10, 20]
    assert sched.respace(250).timestep_map[-2:].tolist() == [995, 999]
    np.testing.assert_allclose(sched.respace(1000).betas, sched.betas, rtol=1e-9)
    with pytest.raises(ValueError, match="respace"):
        sched.respace(1001)


def test_model_timesteps_rescaled(sched: Schedule) -> None:
    r = sched.respace(50)
    t = torch.tensor([0, 1, 49])
    assert model_timesteps(r, t).tolist() == [0.0, 20.0, 999.0]
    s250 = Schedule.linear(250)  # rescale_timesteps: original index * 1000 / original steps
    assert model_timesteps(s250, torch.tensor([1, 249])).tolist() == [4.0, 996.0]


def test_q_sample_x0_roundtrip_and_posterior(sched: Schedule) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 2, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(x0.shape, generator=g)
    t = torch.tensor([0, 500, 999])
    xt = q_sample(sched, x0, t, eps)
    assert extract(sched.betas, t, x0).shape == (3, 1, 1, 1, 1)
    torch.testing.assert_close(predict_x0_from_eps(sched, xt, t, eps), x0, atol=2e-3, rtol=0)
    # Posterior mean interpolates: at t=0 it is x0 exactly (coef1 = 1, coef2 = 0).
    torch.testing.assert_close(q_posterior_mean(sched, x0, xt, t)[0], x0[0])


def test_p_mean_variance_with_oracle_denoiser(sched: Schedule) -> None:
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 3, 2, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(x0.shape, generator=g)
    t = torch.tensor([10, 700])
    xt = q_sample(sched, x0, t, eps)
    seen = []

    def oracle(x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        seen.append(ts.clone())
        return eps

    out = p_mean_variance(oracle, sched, xt, t)
    assert seen[0].dtype == torch.float32 and seen[0].tolist() == [10.0, 700.0]
    torch.testing.assert_close(out.pred_x0, x0, atol=2e-3, rtol=0)
    torch.testing.assert_close(out.mean, q_posterior_mean(sched, x0, xt, t), atol=2e-3, rtol=0)
    assert out.log_variance.flatten().tolist() == pytest.approx(np.log(sched.betas[[10, 700]]).tolist())
    with pytest.raises(ValueError, match="shape"):
        p_mean_variance(lambda x, ts: x[:, :1], sched, xt, t)
