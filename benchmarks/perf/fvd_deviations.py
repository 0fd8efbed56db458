"""Measure how far each known FVD pitfall moves the number (quoted in metrics/README.md).

Usage: python benchmarks/perf/fvd_deviations.py [--n 8] [--frames 16] [--size 64]

On two fixed synthetic sets (smooth gradients + moving blobs; the second faster and noisier) it
reports, against our reference-exact pipeline:
- resize: PyTorch's half-pixel ``interpolate(bilinear)`` instead of TF1's legacy rule;
- BatchNorm epsilon 1e-5 instead of 1e-3;
- biased covariance (1/N) and scipy's non-symmetric ``sqrtm(S1 @ S2)``;
- context frames: one ground-truth frame included in or excluded from the clip;
- sample count: the FVD between two samples of one Gaussian feature distribution versus N.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reference"))
from make_fvd_golden import synthetic_videos  # noqa: E402

from metrics.frechet import frechet_distance  # noqa: E402
from metrics.i3d import I3D, load_i3d  # noqa: E402


def features(model: I3D, videos: np.ndarray, half_pixel: bool = False) -> np.ndarray:
    """float64 [N, 400] logits; ``half_pixel`` swaps in torch's bilinear resize (the common port)."""
    out = []
    with torch.inference_mode():
        for v in videos:
            x = torch.from_numpy(v[None])
            if half_pixel:
                t = x.shape[1]
                frames = x[0].permute(0, 3, 1, 2).float()
                frames = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
                pre = (frames * (2 / 255) - 1).permute(1, 0, 2, 3)[None]
                pre = pre.reshape(1, 3, t, 224, 224).contiguous(memory_format=torch.channels_last_3d)
                out.append(model.network(pre).double().numpy())
            else:
                out.append(model(x).double().numpy())
    return np.concatenate(out)


def moments(f: np.ndarray, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return f.mean(0), np.cov(f, rowvar=False, ddof=ddof)


def fvd(a: np.ndarray, b: np.ndarray, ddof: int = 1) -> float:
    return frechet_distance(*moments(a, ddof), *moments(b, ddof))


def fvd_scipy_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    (m1, s1), (m2, s2) = moments(a), moments(b)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def rel_embedding_change(a: np.ndarray, b: np.ndarray) -> str:
    r = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    return f"embedding change ||d||/||f||: mean {100 * r.mean():.2f}%, max {100 * r.max():.2f}%"


def sample_count_bias(dims: int = 400, seed: int = 0) -> list[str]:
    """FVD between two samples of N from one Gaussian whose spectrum decays like I3D logits'."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dims, dims)))
    scale = 3.0 / np.sqrt(1 + np.arange(dims))  # decaying spectrum
    rows = []
    for n in (64, 256, 400, 1024, 2048):
        vals = [fvd(rng.normal(size=(n, dims)) * scale @ q.T, rng.normal(size=(n, dims)) * scale @ q.T)
                for _ in range(3)]
        rows.append(f"  N = {n:5d}: FVD(same distribution) = {np.mean(vals):8.3f} +- {np.std(vals):.3f}")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    warnings.simplefilter("ignore")  # small N warns by design
    real = synthetic_videos(101, args.n, args.frames, args.size, args.size)
    fake = synthetic_videos(102, args.n, args.frames, args.size, args.size, speed=3.0, noise=0.05)
    model, model_eps = load_i3d(device="cpu"), load_i3d(device="cpu", bn_eps=1e-5)
    fr, ff = features(model, real), features(model, fake)
    base = fvd(fr, ff)
    print(f"sets: 2 x {args.n} videos, {args.frames} frames, {args.size}x{args.size}; "
          f"torch {torch.__version__}")
    print(f"reference-exact FVD: {base:.3f}")

    def row(name: str, value: float, extra: str = "") -> None:
        print(f"{name}: FVD {value:.3f} ({100 * (value - base) / base:+.2f}%){'; ' + extra if extra else ''}")

    hr, hf = features(model, real, half_pixel=True), features(model, fake, half_pixel=True)
    row("half-pixel resize (torch interpolate)", fvd(hr, hf), rel_embedding_change(fr, hr))
    er, ef = features(model_eps, real), features(model_eps, fake)
    row("BatchNorm eps 1e-5", fvd(er, ef), rel_embedding_change(fr, er))
    row("biased covariance 1/N", fvd(fr, ff, ddof=0))
    row("scipy sqrtm(S1 @ S2) (non-symmetric)", fvd_scipy_sqrtm(fr, ff))
    ctx = fake.copy()
    ctx[:, 0] = real[:, 0]  # prediction with one ground-truth context frame
    fc = features(model, ctx)
    with_ctx = fvd(fr, fc)
    without = fvd(features(model, real[:, 1:]), features(model, ctx[:, 1:]))
    print(f"context frame: FVD with the GT frame in the clip {with_ctx:.3f}, generated frames only "
          f"{without:.3f} ({100 * (with_ctx - without) / without:+.2f}%)")
    print("sample count (Gaussian features, 400-d, decaying spectrum; true distance 0):")
    print("\n".join(sample_count_bias()))


if __name__ == "__main__":
    main()
