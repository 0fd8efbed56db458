"""Fast ODE samplers against the exact probability-flow ODE of Gaussian data; the sampler table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ramvid.diffusion import Schedule
from ramvid.masking import mask_from_indices
from ramvid.sampling import SAMPLERS, SamplerSettings, ddim
from ramvid.solvers import dpmpp_2m, heun
from ramvid.utils import make_generator

FULL = Schedule.linear(1000)
S = 0.2  # data iid N(0, S^2); small enough that no x0 prediction reaches the [-1, 1] clip


def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The exact eps for data iid N(0, S^2), in x's dtype (t on the model scale)."""
    ab = torch.from_numpy(FULL.alphas_cumprod[t.round().long().numpy()]).to(x.dtype).view(-1, 1, 1, 1, 1)
    return x * (1 - ab).sqrt() / (ab * S**2 + 1 - ab)


def relative_error(fn, steps: int) -> float:
    """|sample - exact ODE solution| / |exact|, max over values, in float64.

    For Gaussian data the probability-flow ODE is linear: in x_hat = x / sqrt(abar), sigma =
    sqrt(1/abar - 1), x_hat(sigma) is proportional to sqrt(S^2 + sigma^2), so the chain's start
    x_T (at its last step, abar_T) ends at x_T S / sqrt(abar_T S^2 + 1 - abar_T).
    """
    sched = FULL.respace(steps)
    ab = sched.alphas_cumprod[-1]
    gens = [make_generator(3, i) for i in range(2)]
    x_known = torch.zeros(2, 3, 2, 4, 4, dtype=torch.float64)
    noise = torch.stack([torch.randn(3, 2, 4, 4, generator=make_generator(3, i), dtype=torch.float64)
                         for i in range(2)])
    out = fn(oracle, sched, x_known, mask_from_indices([], 2, batch=2), gens)
    exact = noise * (S / np.sqrt(ab * S**2 + 1 - ab))
    return float((out - exact).abs().max() / exact.abs().max())


def test_heun_converges_to_the_exact_ode_faster_than_ddim() -> None:
    """Heun's corrector makes each step 2nd order; the step into step 0 is Euler (see ``heun``), so
    the error falls ~3x per doubling here, against DDIM's 2x."""
    for steps, bound, ddim_factor in ((20, 0.23, 1.3), (40, 0.08, 2), (80, 0.025, 3)):
        err, base = relative_error(heun, steps), relative_error(ddim, steps)
        assert err < bound and err < base / ddim_factor, (steps, err, base)


def test_dpmpp_2m_beats_ddim_on_the_exact_ode() -> None:
    for steps, bound in ((20, 0.27), (40, 0.1), (80, 0.02)):
        err, base = relative_error(dpmpp_2m, steps), relative_error(ddim, steps)
        assert err < bound and err < base, (steps, err, base)


@pytest.mark.parametrize("name", ["dpm++2m", "heun"])
def test_solvers_known_frames_exact_each_call_and_deterministic(name: str) -> None:
    fn = SAMPLERS[name].fn
    sched = Schedule.linear(100).respace(5)
    x_known = torch.rand(2, 3, 4, 4, 4) * 2 - 1
    mask = mask_from_indices([0, 3], 4, batch=2)
    seen: list[torch.Tensor] = []

    def spy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(x.clone())
        return torch.tanh(x) * 0.1

    out = fn(spy, sched, x_known, mask, [make_generator(0, i) for i in range(2)])
    assert len(seen) == SAMPLERS[name].calls(5)
    assert all(torch.equal(x[:, :, [0, 3]], x_known[:, :, [0, 3]]) for x in seen)
    assert torch.equal(out[:, :, [0, 3]], x_known[:, :, [0, 3]])
    again = fn(spy, sched, x_known, mask, [make_generator(0, i) for i in range(2)])
    assert torch.equal(out, again)


def test_network_evaluations_per_sampler() -> None:
    assert SamplerSettings(sampler="ddpm", steps=25, resample=2).network_evaluations(1000) == 50
    assert SamplerSettings(sampler="ddim", respacing="ddim25").network_evaluations(1000) == 25
    assert SamplerSettings(sampler="dpm++2m", steps=10).network_evaluations(1000) == 10
    assert SamplerSettings(sampler="heun", steps=10).network_evaluations(1000) == 18
    assert SamplerSettings(sampler="heun", steps=1).network_evaluations(1000) == 1
    assert SamplerSettings(sampler="heun", steps=10, guidance=1).network_evaluations(1000) == 36
    assert SamplerSettings(sampler="heun", steps=10, guidance=1).network_evaluations(1000, False) == 18
    assert SamplerSettings(steps=5000).network_evaluations(1000) == 1000  # the full chain at most
    for s in (SamplerSettings(sampler="ddim", respacing="10,15,20"), SamplerSettings(steps=7),
              SamplerSettings()):  # counted without building the chain, as long as the chain
        assert s.chain_steps(1000) == s.schedule(1000).steps


def test_workload_counts_network_evaluations_as_the_samplers_do() -> None:
    from benchmarks.protocols import get_protocol
    from benchmarks.workload import nfe_per_sample

    p = get_protocol("shapes-prediction")  # DDIM, 20 steps
    assert nfe_per_sample(p, 1000) == 20
    assert nfe_per_sample(p.replace(sampler="heun", eta=0.0), 1000) == 38  # 2 calls per step
    assert nfe_per_sample(p.replace(guidance=1.0), 1000) == 40  # conditional + unconditional
    assert nfe_per_sample(get_protocol("shapes-unconditional").replace(guidance=1.0), 1000) == 20
    assert nfe_per_sample(p.replace(sampler="ddpm", eta=0.0, resample=3), 1000) == 60
    assert nfe_per_sample(p, 10**9) == 20  # no chain of 10^9 steps is built


def test_generate_with_each_solver(tiny_denoiser, make_known, gen) -> None:
    known, cond = make_known(2, seed=4), (0, 2)
    outs = {}
    for name in ("dpm++2m", "heun"):
        one = gen(tiny_denoiser, known, cond, sampler=name, steps=4, batch_size=1)
        assert np.array_equal(one, gen(tiny_denoiser, known, cond, sampler=name, steps=4, batch_size=2))
        assert np.array_equal(one[:, list(cond)], known[:, list(cond)])
        outs[name] = one
    assert not np.array_equal(outs["dpm++2m"], outs["heun"])
