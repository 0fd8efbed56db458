"""How sure an FVD is: a bootstrap interval, and the 1/N extrapolation of the sample-size bias.

Pure numpy over stored features (float64 arithmetic): ``real`` [N, D] (row i = video i) and
``fake`` [M, D] with ``video`` [M] (the real video each generated row belongs to, so a video's
samples are resampled together) and ``group`` [M] (the repeat each row belongs to: the estimator is
the mean of one FVD per group, as a protocol with repeats reports it). Every draw comes from an
explicit ``numpy.random.Generator`` seeded by the caller.

Cost: the Fréchet distance of two 400-dim covariances needs matrix square roots (``eigh`` of
400 x 400). A covariance from r < 400 rows has rank < r, and tr sqrt(S1 S2) is then the sum of
square roots of the eigenvalues of the r x r matrix A S2 A^T (S1 = A^T A): the same number (the
nonzero eigenvalues of S1 S2) for a fraction of the work. ``frechet_rows`` takes that path whenever
one side has fewer rows than dimensions; measured at N = 32 per side, one BLAS thread: 0.16 ms
against 73 ms for ``frechet_distance`` (460x; the two agree to 1e-15 relative). The reported value
itself always comes from ``metrics.frechet.frechet_distance``.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from metrics.frechet import EPS, trace_sqrt_product


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Resampling runs thousands of small matrix products and eigendecompositions: with one BLAS
    thread they ran 8x faster than with two on a busy 2-core CPU (threads spin-wait for each other).
    Needs ``threadpoolctl``; without it, a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _factor(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu [D], A [r, D]) with A^T A the 1/(n-1) covariance of rows ``x`` repeated ``w`` times."""
    keep = w > 0
    x, w = x[keep], w[keep].astype(np.float64)
    n = w.sum()
    if n < 2:
        raise ValueError(f"FVD needs at least 2 videos per set, got {int(n)}")
    mu = w @ x / n
    return mu, (x - mu) * np.sqrt(w / (n - 1))[:, None]


def _trace_sqrt(a: np.ndarray, b: np.ndarray) -> float:
    """tr sqrt(S1 S2) for S1 = a^T a, S2 = b^T b, through the smaller side's Gram matrix."""
    if len(a) > len(b):
        a, b = b, a  # tr sqrt(S1 S2) = tr sqrt(S2 S1)
    (r1, dim), r2 = a.shape, len(b)
    if r1 >= dim:
        return trace_sqrt_product(a.T @ a, b.T @ b)
    # the r1 x r1 matrix a S2 a^T, by whichever product costs fewer multiply-adds
    via_rows = r1 * r2 * (dim + r1)  # c = a b^T, then c c^T
    via_cov = dim * dim * (r2 + r1) + r1 * r1 * dim  # S2 = b^T b, then a S2 a^T
    k = (c := a @ b.T) @ c.T if via_rows <= via_cov else a @ (b.T @ b) @ a.T
    w = np.clip(np.linalg.eigvalsh((k + k.T) / 2.0), 0.0, None)
    return float(np.where(w < EPS, w, np.sqrt(w)).sum())  # tfgan's rule: tiny values stay unrooted


def frechet_rows(x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray) -> float:
    """FVD between rows ``x`` [N, D] and ``y`` [M, D] with integer multiplicities ``wx``, ``wy``."""
    return _frechet_factors(*_factor(x, wx), *_factor(y, wy))


def _frechet_factors(mu1: np.ndarray, a: np.ndarray, mu2: np.ndarray, b: np.ndarray) -> float:
    diff = mu1 - mu2
    return float(diff @ diff + (a * a).sum() + (b * b).sum() - 2.0 * _trace_sqrt(a, b))


@dataclass(frozen=True)
class FeaturePairs:
    """Real and generated features of one evaluation, with what ties them (see module docstring)."""

    real: np.ndarray  # float [N, D]
    fake: np.ndarray  # float [M, D]
    video: np.ndarray  # int [M]: video index of each generated row
    group: np.ndarray  # int [M]: repeat of each generated row
    paired: bool  # generated video i was conditioned on real clip i: resample the two together

    @classmethod
    def of(cls, real: np.ndarray, fake: np.ndarray, video: np.ndarray | None = None,
           group: np.ndarray | None = None, *, paired: bool = False) -> FeaturePairs:
        """Checked and in float64; ``video`` defaults to ``arange(M)`` (each row its own video)."""
        real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
        video = np.arange(len(fake)) if video is None else np.asarray(video, np.int64)
        group = np.zeros(len(fake), np.int64) if group is None else np.asarray(group, np.int64)
        if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
            raise ValueError(f"features must be [N, D] and [M, D], got {real.shape} and {fake.shape}")
        if video.shape != (len(fake),) or group.shape != (len(fake),) or (len(video) and video.min() < 0):
            raise ValueError(f"video and group need one non-negative index per generated row ({len(fake)})")
        if paired and not np.array_equal(np.unique(video), np.arange(len(real))):
            raise ValueError(f"paired features: generated rows must name every video 0..{len(real) - 1}")
        return cls(real, fake, video, group, paired)

    def estimate(self, w_real: np.ndarray, w_video: np.ndarray) -> float:
        """Mean over groups of FVD(real weighted by ``w_real``, group rows weighted by their video's)."""
        real = _factor(self.real, w_real)
        values = [_frechet_factors(*real, *_factor(self.fake[rows], w_video[self.video[rows]]))
                  for rows in self.groups]
        return float(np.mean(values))

    @property
    def videos(self) -> int:
        """Number of video indices (the largest + 1)."""
        return int(self.video.max()) + 1

    @functools.cached_property
    def present(self) -> np.ndarray:
        """The video indices that have generated rows (sorted)."""
        return np.unique(self.video)

    @property
    def size(self) -> int:
        """Videos per set: N when paired, else the smaller of the real rows and the generated videos."""
        return len(self.real) if self.paired else min(len(self.real), len(self.present))

    @functools.cached_property
    def groups(self) -> list[np.ndarray]:
        """Row indices of each group (repeat), in group order."""
        return [np.flatnonzero(self.group == g) for g in np.unique(self.group)]

    def draw(self, rng: np.random.Generator, how: str, size: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Multiplicities (of real rows, of generated videos) of one resample: "replace" (as many videos
        as there are, with replacement), "half" (half of them, without) or "subset" (``size``, without).
        Unpaired sets are resampled each on its own."""
        def pick(items: np.ndarray, count: int, length: int) -> np.ndarray:
            k = {"replace": count, "half": count // 2}.get(how, min(size, count))
            return np.bincount(rng.choice(items, k, replace=how == "replace"), minlength=length)

        if self.paired:
            w = pick(np.arange(len(self.real)), len(self.real), len(self.real))
            return w, w
        return (pick(np.arange(len(self.real)), len(self.real), len(self.real)),
                pick(self.present, len(self.present), self.videos))


# How videos are resampled. "half": half-samples, N // 2 videos without replacement (McCarthy's
# half-sampling; for a mean their spread equals the full-N estimator's exactly). "replace": Efron's
# bootstrap, N with replacement; its duplicated videos act like a smaller N and FVD's N-bias grows
# with them, so its spread overstates FVD's (measured: metrics/README.md "Uncertainty").
RESAMPLING = ("half", "replace")


@dataclass(frozen=True)
class Interval:
    """A resampling interval of an FVD: [low, high] at ``level`` around ``value``, standard error ``se``.

    The resampled values are centred on ``value`` (their own mean, ``resampled_mean``, carries the
    larger N-bias of fewer or duplicated videos) before the percentiles are read.
    """

    value: float  # the full-sample estimate
    low: float
    high: float
    se: float
    resampled_mean: float
    draws: int
    seed: int
    level: float
    scheme: str
    paired: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_fvd(pairs: FeaturePairs, *, draws: int = 1000, seed: int = 0, level: float = 0.95,
                  scheme: str = "half") -> Interval:
    """Resample videos ``draws`` times (a video's samples stay together; real and generated together
    when ``pairs.paired``); the percentile interval and standard error of the centred values."""
    if draws < 2:
        raise ValueError(f"--bootstrap {draws}: need at least 2 resamples (0 turns the interval off)")
    if scheme not in RESAMPLING:
        raise ValueError(f"resampling scheme {scheme!r}: choose one of {', '.join(RESAMPLING)}")
    n = pairs.size
    if n < 4:
        raise ValueError(f"an interval needs at least 4 videos per set, got {n}; use --bootstrap 0")
    rng = np.random.default_rng(seed)
    with one_blas_thread():
        value = pairs.estimate(np.ones(len(pairs.real), np.int64), np.ones(pairs.videos, np.int64))
        values = np.array([pairs.estimate(*pairs.draw(rng, scheme)) for _ in range(draws)])
    # half-samples of m from n: a mean's variance is (n - m) / m times the full estimator's (1 at even n)
    scale = np.sqrt((n // 2) / (n - n // 2)) if scheme == "half" else 1.0
    centred = value + (values - values.mean()) * scale
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(centred, [tail, 100.0 - tail])
    return Interval(value=value, low=float(low), high=float(high), se=float(centred.std(ddof=1)),
                    resampled_mean=float(values.mean()), draws=draws, seed=seed, level=level,
                    scheme=scheme, paired=pairs.paired)


@dataclass(frozen=True)
class Extrapolation:
    """FVD at growing subset sizes and the least-squares line FVD(n) = fvd_inf + slope / n."""

    fvd_inf: float
    slope: float
    points: tuple[tuple[int, float, float, int], ...]  # (n videos, mean FVD, std over draws, draws)
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"fvd_inf": self.fvd_inf, "slope": self.slope, "seed": self.seed,
                "points": [list(p) for p in self.points]}


def fit_inverse_n(ns: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line value = intercept + slope / n."""
    ns, values = np.asarray(ns, np.float64), np.asarray(values, np.float64)
    if len(np.unique(ns)) < 2:
        raise ValueError(f"the 1/N fit needs at least two distinct subset sizes, got {sorted(set(ns))}")
    slope, intercept = np.polyfit(1.0 / ns, values, 1)
    return float(intercept), float(slope)


def default_sizes(n: int, count: int = 5) -> list[int]:
    """``count`` subset sizes evenly spaced from n/4 (at least 2) to n, as Chong & Forsyth space theirs."""
    return sorted({int(round(v)) for v in np.linspace(max(2, n / 4), n, count)})


def extrapolate_fvd(pairs: FeaturePairs, *, sizes: Sequence[int] | None = None, draws: int = 20,
                    seed: int = 0) -> Extrapolation:
    """FVD on random subsets of n videos (without replacement, ``draws`` per size; the full set once)
    and its 1/n fit to n -> infinity (Chong & Forsyth, CVPR 2020). Subsets hold n real videos and
    the generated rows of n videos (paired as in ``bootstrap_fvd``)."""
    rng = np.random.default_rng(seed)
    full = pairs.size
    sizes = default_sizes(full) if sizes is None else sorted(set(sizes))
    if not sizes or sizes[0] < 2 or sizes[-1] > full:
        raise ValueError(f"subset sizes {list(sizes)} must lie in [2, {full}]")
    points = []
    for n in sizes:
        k = 1 if n == full and pairs.paired else draws
        with one_blas_thread():
            vals = [pairs.estimate(*pairs.draw(rng, "subset", n)) for _ in range(k)]
        points.append((n, float(np.mean(vals)), float(np.std(vals, ddof=1)) if k > 1 else 0.0, k))
    intercept, slope = fit_inverse_n([p[0] for p in points], [p[1] for p in points])
    return Extrapolation(fvd_inf=intercept, slope=slope, points=tuple(points), seed=seed)
