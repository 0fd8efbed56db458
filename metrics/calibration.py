"""How honest are FVD's interval and fvd_inf? Measured on Gaussian features whose true FVD is known.

``python -m metrics.calibration`` prints the two tables of metrics/README.md "Uncertainty":

1. Interval calibration: for each N, the spread of FVD over fresh sets of N (the truth the interval
   should reflect) against the standard error each resampling scheme reports from one set, and
   how often value +- 1.96 se covered the mean FVD at that N.
2. fvd_inf against the true FVD (known in closed form for these Gaussians) at growing N.

Features: real ~ N(0, diag(s^2)), generated ~ N(delta, diag((1.1 s)^2)), 400 dims, s from 0.5 to
2; true FVD = 400 delta^2 + 0.01 sum(s^2). Takes 20 s here (2-core CPU).
"""
from __future__ import annotations

import argparse

import numpy as np

from metrics.uncertainty import FeaturePairs, bootstrap_fvd, extrapolate_fvd, frechet_rows, one_blas_thread

DIM, DELTA = 400, 0.1
SCALE = np.linspace(0.5, 2.0, DIM)
TRUE_FVD = DIM * DELTA**2 + 0.01 * float((SCALE**2).sum())


def _sets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    real = rng.standard_normal((n, DIM)) * SCALE
    return real, rng.standard_normal((n, DIM)) * SCALE * 1.1 + DELTA


def _fvd(real: np.ndarray, fake: np.ndarray) -> float:
    return frechet_rows(real, np.ones(len(real)), fake, np.ones(len(fake)))


def interval_table(sizes: list[int], sets: int, fresh: int, draws: int, seed: int) -> list[str]:
    """Rows: N | sd over fresh sets | per scheme: mean se / sd, coverage of the mean at N."""
    rng = np.random.default_rng(seed)
    lines = ["| N | FVD sd over fresh sets | half-samples: se / sd, coverage | "
             "with replacement: se / sd, coverage |", "|---|---|---|---|"]
    for n in sizes:
        truth = np.array([_fvd(*_sets(rng, n)) for _ in range(fresh)])
        cells = []
        for scheme in ("half", "replace"):
            ses, covered = [], 0
            for _ in range(sets):
                pairs = FeaturePairs.of(*_sets(rng, n), np.arange(n), paired=True)
                iv = bootstrap_fvd(pairs, draws=draws, seed=int(rng.integers(1 << 31)), scheme=scheme)
                ses.append(iv.se)
                covered += abs(iv.value - truth.mean()) <= 1.96 * iv.se
            cells.append(f"{np.mean(ses) / truth.std(ddof=1):.2f}, {covered}/{sets}")
        lines.append(f"| {n} | {truth.std(ddof=1):.2f} (mean {truth.mean():.1f}) | {cells[0]} | {cells[1]} |")
    return lines


def extrapolation_table(sizes: list[int], seed: int) -> list[str]:
    """Rows: N | FVD at N | fvd_inf | true FVD."""
    rng = np.random.default_rng(seed)
    lines = ["| N | FVD_N | fvd_inf (1/N fit, N/4..N) | true FVD |", "|---|---|---|---|"]
    for n in sizes:
        pairs = FeaturePairs.of(*_sets(rng, n), np.arange(n), paired=True)
        line = extrapolate_fvd(pairs, draws=10, seed=seed)
        lines.append(f"| {n} | {line.points[-1][1]:.1f} | {line.fvd_inf:.1f} | {TRUE_FVD:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,128,256", help="N for the interval table")
    ap.add_argument("--fit-sizes", default="32,128,512,1024,2048", help="N for the fvd_inf table")
    ap.add_argument("--sets", type=int, default=8, help="independent sets per N and scheme")
    ap.add_argument("--fresh", type=int, default=60, help="fresh sets for the true spread")
    ap.add_argument("--draws", type=int, default=200, help="resamples per interval")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with one_blas_thread():
        print("\n".join(interval_table([int(n) for n in args.sizes.split(",")], args.sets, args.fresh,
                                       args.draws, args.seed)))
        print()
        print("\n".join(extrapolation_table([int(n) for n in args.fit_sizes.split(",")], args.seed)))


if __name__ == "__main__":
    main()
