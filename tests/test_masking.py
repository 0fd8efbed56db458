"""RaMViD's random masks: distribution, determinism, validation, imposing and the masked loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ramvid.masking import (
    draw_train_masks,
    impose,
    mask_from_indices,
    masked_mse,
    masked_mse_per_item,
    validate_cond_indices,
)

T, K = 16, 4


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_train_mask_statistics() -> None:
    n, p_u = 40_000, 0.25
    m = draw_train_masks(n, T, p_u, K, _gen(0))
    assert m.shape == (n, T) and m.dtype == torch.bool
    k = m.sum(1)
    uncond = k == 0
    # Unconditional rate ~ p_U: binomial std is sqrt(p(1-p)/n) ~ 0.0022, allow 5 sigma.
    assert abs(uncond.float().mean().item() - p_u) < 0.011
    # k is uniform on 1..K among conditional rows (never 0, never more than K).
    counts = torch.bincount(k[~uncond], minlength=K + 1).numpy()
    assert counts[0] == 0 and k.max().item() == K
    expected = counts[1:].sum() / K
    chi2_k = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2_k < 16.3  # chi-square, 3 dof: p ~ 0.001
    # Frame indices uniform over the whole clip.
    per_frame = m[~uncond].sum(0).numpy().astype(float)
    chi2_f = ((per_frame - per_frame.mean()) ** 2 / per_frame.mean()).sum()
    assert chi2_f < 37.7  # chi-square, 15 dof: p ~ 0.001


def test_train_mask_edge_probabilities() -> None:
    assert not draw_train_masks(200, T, 1.0, K, _gen(1)).any()
    assert (draw_train_masks(200, T, 0.0, K, _gen(1)).sum(1) >= 1).all()
    assert (draw_train_masks(50, 5, 0.0, 5, _gen(1)).sum(1) <= 5).all()


def test_train_mask_deterministic() -> None:
    a = draw_train_masks(64, T, 0.5, K, _gen(7))
    b = draw_train_masks(64, T, 0.5, K, _gen(7))
    c = draw_train_masks(64, T, 0.5, K, _gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kwargs,match", [
    (dict(p_uncond=1.5), "p_uncond"), (dict(max_cond=0), "max_cond"), (dict(max_cond=T + 1), "max_cond"),
])
def test_train_mask_rejects_bad_settings(kwargs: dict, match: str) -> None:
    args = dict(batch=4, frames=T, p_uncond=0.25, max_cond=K, generator=_gen())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        draw_train_masks(**args)


def test_mask_from_indices() -> None:
    m = mask_from_indices([15, 0], T, batch=3)
    assert m.shape == (3, T) and m[:, [0, 15]].all() and m.sum().item() == 6
    assert validate_cond_indices([3, 1, 2], 8) == (1, 2, 3)
    assert mask_from_indices([], 4).sum().item() == 0


@pytest.mark.parametrize("indices,match", [
    ([0, 16], "outside 0..15"), ([-1], "outside"), ([2, 2], "repeated"), (list(range(T)), "at least one"),
    (list(range(T + 3)), "conditioning frames"),
])
def test_validate_cond_indices_errors(indices: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match) as e:
        validate_cond_indices(indices, T)
    assert "\n" not in str(e.value)


def test_impose_replaces_known_frames_only() -> None:
    x = torch.zeros(2, 3, 4, 2, 2)
    known = torch.ones_like(x)
    mask = torch.tensor([[True, False, False, True], [False, False, False, False]])
    y = impose(x, known, mask)
    assert y[0, :, [0, 3]].eq(1).all() and y[0, :, [1, 2]].eq(0).all() and y[1].eq(0).all()


def test_masked_mse_value_and_zero_gradient_at_known_frames() -> None:
    g = _gen(3)
    pred = torch.randn(3, 3, 4, 2, 2, generator=g, requires_grad=True)
    target = torch.randn(3, 3, 4, 2, 2, generator=g)
    mask = torch.tensor([[True, False, False, False], [False] * 4, [True, True, False, True]])
    loss = masked_mse(pred, target, mask)
    d = (pred - target).detach() ** 2
    want = torch.stack([d[0, :, 1:].mean(), d[1].mean(), d[2, :, 2].mean()]).mean()
    torch.testing.assert_close(loss, want)
    loss.backward()
    assert pred.grad[0, :, 0].abs().sum() == 0 and pred.grad[2, :, [0, 1, 3]].abs().sum() == 0
    assert pred.grad[0, :, 1:].abs().sum() > 0 and pred.grad[2, :, 2].abs().sum() > 0


def test_masked_mse_all_known_rows_contribute_nothing() -> None:
    pred = torch.zeros(2, 3, 3, 2, 2, requires_grad=True)
    target = torch.ones(2, 3, 3, 2, 2)
    full = torch.tensor([[True, True, True], [False, False, False]])
    torch.testing.assert_close(masked_mse(pred, target, full), torch.tensor(1.0))
    per, valid = masked_mse_per_item(pred, target, full)
    assert per.tolist() == [0.0, 1.0] and valid.tolist() == [False, True]
    all_known = torch.ones(2, 3, dtype=torch.bool)
    loss = masked_mse(pred, target, all_known)
    loss.backward()
    assert loss.item() == 0.0 and not np.isnan(loss.item()) and pred.grad.abs().sum() == 0
