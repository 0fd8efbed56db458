"""The denoising probe: oracle and yardsticks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.baselines import copy_last
from benchmarks.probe import probe
from ramvid.config import DiffusionConfig
from ramvid.video import to_model


def _clips() -> np.ndarray:
    g = torch.Generator().manual_seed(5)
    return torch.randint(0, 256, (2, 4, 8, 8, 3), generator=g, dtype=torch.uint8).numpy()


def test_oracle_scores_zero_and_yardsticks_are_exact(tiny_config, v_oracle) -> None:
    clips = _clips()
    config = tiny_config().replace(diffusion=DiffusionConfig(steps=100, prediction="v"))
    oracle = v_oracle(to_model(clips, "cpu"))
    rows = probe(oracle, config, clips, (0, 1), ts=(0, 50, 99))
    assert [r.t for r in rows] == [0, 50, 99]
    assert max(r.x0_mse for r in rows) < 1e-8
    x = to_model(clips, "cpu").numpy()
    copy = to_model(copy_last(clips, (0, 1)), "cpu").numpy()
    assert rows[0].copy_last_mse == pytest.approx(float(((copy - x)[:, :, 2:] ** 2).mean()), rel=1e-5)
    mean = x.mean(axis=(2, 3, 4), keepdims=True)
    assert rows[0].mean_mse == pytest.approx(float(((mean - x)[:, :, 2:] ** 2).mean()), rel=1e-5)
    assert rows[0].pred_std == pytest.approx(float(x[:, :, 2:].std()), rel=1e-3)


def test_bad_input_is_one_line(tiny_config, v_oracle) -> None:
    config = tiny_config().replace(diffusion=DiffusionConfig(steps=100, prediction="v"))
    oracle = v_oracle(to_model(_clips(), "cpu"))
    with pytest.raises(ValueError, match="needs known frames"):
        probe(oracle, config, _clips(), ())
    with pytest.raises(ValueError, match="outside 0..99"):
        probe(oracle, config, _clips(), (0,), ts=(100,))
