"""FVD's uncertainty: the fast exact Fréchet path, the resampling interval, the 1/N extrapolation,
``run --seeds`` rows and their mean ± std, and ``rescore`` from a run's kept features."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from metrics.frechet import frechet_distance
from metrics.fvd import stats_from_features
from metrics.uncertainty import FeaturePairs, bootstrap_fvd, extrapolate_fvd, fit_inverse_n, frechet_rows


def _gauss(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.linspace(0.5, 2.0, d) + shift


@pytest.mark.parametrize("n, m", [(8, 8), (8, 100), (100, 12), (100, 120)])
def test_fast_path_equals_the_reference_distance(n, m):
    x, y = _gauss(n, 40, 0), _gauss(m, 40, 1, 0.3)  # 40 dims: rows below and above the dimension
    a, b = stats_from_features(x), stats_from_features(y)
    ref = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    assert frechet_rows(x, np.ones(n), y, np.ones(m)) == pytest.approx(ref, rel=1e-10)
    w = np.random.default_rng(2).integers(0, 3, n)  # multiplicities = rows repeated
    w[:2] = 1
    rep = stats_from_features(np.repeat(x, w, axis=0))
    ref_w = frechet_distance(rep.mu, rep.sigma, b.mu, b.sigma)
    assert frechet_rows(x, w, y, np.ones(m)) == pytest.approx(ref_w, rel=1e-10)


def test_interval_covers_the_value_and_shrinks_with_n():
    widths = []
    for n in (32, 256):
        pairs = FeaturePairs.of(_gauss(n, 64, 0), _gauss(n, 64, 1, 0.2), np.arange(n), paired=True)
        iv = bootstrap_fvd(pairs, draws=200, seed=0)
        a, b = stats_from_features(pairs.real), stats_from_features(pairs.fake)
        assert iv.value == pytest.approx(frechet_distance(a.mu, a.sigma, b.mu, b.sigma))
        assert iv.low < iv.value < iv.high and iv.se > 0
        assert iv.resampled_mean > iv.value  # half the videos: FVD's N-bias grows; the interval is centred
        widths.append(iv.high - iv.low)
        again = bootstrap_fvd(pairs, draws=200, seed=0)
        assert again == iv  # an explicit seeded generator: the same interval every time
    assert widths[1] < widths[0] / 2


def test_replace_scheme_is_the_textbook_bootstrap():
    pairs = FeaturePairs.of(_gauss(32, 64, 0), _gauss(32, 64, 1, 0.2), np.arange(32), paired=True)
    iv = bootstrap_fvd(pairs, draws=100, seed=1, scheme="replace")
    assert iv.scheme == "replace" and iv.low < iv.value < iv.high
    with pytest.raises(ValueError, match="scheme"):
        bootstrap_fvd(pairs, draws=10, scheme="jackknife")
    with pytest.raises(ValueError, match="--bootstrap 1"):
        bootstrap_fvd(pairs, draws=1)


def test_fit_inverse_n_is_exact_on_a_line():
    ns = [8, 16, 24, 32]
    assert fit_inverse_n(ns, [5.0 + 40.0 / n for n in ns]) == pytest.approx((5.0, 40.0))
    with pytest.raises(ValueError, match="two distinct"):
        fit_inverse_n([8, 8], [1.0, 2.0])


def test_fvd_inf_recovers_the_limit_of_an_exact_one_over_n_bias():
    # Real features all equal to c (zero covariance): a subset of n of the M generated rows, drawn
    # without replacement, has E[FVD_n] = |mu - c|^2 + tr(S) M/(M-1) + tr(S)/(M-1) (M/n - 1) exactly
    # (S: the 1/M covariance of the M rows), a line in 1/n whose limit is |mu - c|^2 + tr(S).
    m, c = 64, np.array([0.5, -1.0, 2.0])
    fake = _gauss(m, 3, 5)
    real = np.tile(c, (m, 1))
    limit = float(((fake.mean(0) - c) ** 2).sum() + fake.var(axis=0).sum())
    pairs = FeaturePairs.of(real, fake, np.arange(m), paired=True)
    line = extrapolate_fvd(pairs, sizes=[8, 16, 32, 64], draws=1500, seed=0)
    assert line.fvd_inf == pytest.approx(limit, rel=0.02)
    assert line.slope == pytest.approx(fake.var(axis=0).sum() * m / (m - 1), rel=0.05)
    assert [p[0] for p in line.points] == [8, 16, 32, 64] and line.points[-1][3] == 1  # the full set once


# --- run --seeds and rescore, with a cheap stand-in I3D --------------------------------------------


@pytest.fixture
def stub_i3d(monkeypatch, tmp_path, make_stub_i3d):
    import metrics.fvd as fvd_mod

    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    stub = make_stub_i3d(frames=10)
    monkeypatch.setattr(fvd_mod, "get_i3d", lambda weights=None, device=None: stub)
    return stub


def test_seeds_rows_summary_table_and_rescore(stub_i3d, tmp_path):
    from benchmarks.cli import main
    from benchmarks.cli.rescore_cmd import rescore_dir
    from benchmarks.results import read_runs
    from benchmarks.tables import embedded_rows

    runs = tmp_path / "runs.csv"
    args = ["run", "shapes-prediction", "--baseline", "real", "--num-videos", "6", "--seeds", "0,1,2",
            "--bootstrap", "50", "--results", str(runs), "--out-dir", str(tmp_path / "w"), "--quiet"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "over seeds 0,1,2: FVD" in res.output and "mean ± std over 3 seeds" in res.output
    assert res.output.count("95% interval") == 3 and "fvd_inf" in res.output
    rows = read_runs(runs)
    assert [r["seed"] for r in rows] == ["0", "1", "2"] and {r["seeds"] for r in rows} == {"0,1,2"}
    for r in rows:  # every row: its interval, N and where it came from
        assert float(r["ci_low"]) < float(r["value"]) < float(r["ci_high"]) and r["bootstrap"] == "50"
        assert (r["n_real"], r["n_fake"]) == ("6", "6") and r["fvd_inf"]
        assert r["i3d_sha256"] and r["argv"] and r["quantize"] == "round"
        assert {"git_dirty", "torch", "numpy", "scipy", "device_name", "precision", "package_version",
                "nfe", "guidance"} <= set(r)
    values = [float(r["value"]) for r in rows]  # a baseline ignores the seed; the interval's draws do not
    _, cells, _ = embedded_rows("shapes", rows)
    assert cells == [["real (baseline), n=6", f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f} "
                      "(n=6, 3 seeds)", "—", "—", "—"]]
    assert len({r["ci_low"] for r in rows}) == 3  # each seed's resampling draws from its own seed
    # rescore: the same value and, with the same seed and B, the same interval, from features.npz
    protocol, scored = rescore_dir(str(tmp_path / "w" / "seed-1"), 50)
    assert protocol["seed"] == 1 and scored.value == pytest.approx(float(rows[1]["value"]), abs=1e-4)
    assert scored.extra["ci_low"] == pytest.approx(float(rows[1]["ci_low"]), abs=1e-4)
    out = CliRunner().invoke(main, ["rescore", str(tmp_path / "w" / "seed-1"), "--bootstrap", "0", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["fvd"] == scored.value and "ci_low" not in data and data["git_hash"]


def test_seed_and_seeds_conflict_and_bad_seeds_are_one_line():
    from benchmarks.runner import RunSpec, parse_seeds

    assert parse_seeds("0,1,2") == (0, 1, 2)
    for text, message in (("0,x", "integers"), ("1,1", "repeated")):
        with pytest.raises(ValueError, match=message):
            parse_seeds(text)
    with pytest.raises(ValueError, match="--seed 5 is not among --seeds"):
        RunSpec(protocol="shapes-prediction", baseline="copy-last", seed=5, seeds=(0, 1))


def test_rescore_of_a_dir_without_features_is_one_line(tmp_path):
    from benchmarks.cli import main

    (tmp_path / "manifest.json").write_text(json.dumps({"protocol": {"seed": 0, "cond": []}}))
    res = CliRunner().invoke(main, ["rescore", str(tmp_path)])
    assert res.exit_code == 1 and "no stored features" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_rescore_equals_the_run_exactly(stub_i3d, tmp_path):
    from benchmarks.cli.rescore_cmd import rescore_dir
    from benchmarks.runner import RunSpec, run

    res = run(RunSpec(protocol="shapes-infilling", baseline="interpolate", num_videos=5, bootstrap=40,
                      seed=4, results="", out_dir=str(tmp_path / "w"), progress=False))
    _, scored = rescore_dir(str(tmp_path / "w"), 40)
    assert scored.value == res.value and scored.per_repeat == res.per_repeat
    assert (scored.extra["ci_low"], scored.extra["ci_high"], scored.extra["fvd_inf"]) == (
        res.row["ci_low"], res.row["ci_high"], res.row["fvd_inf"])
    with np.load(tmp_path / "w" / "features.npz") as z:
        assert z["real"].dtype == np.float32 and z["fake"].shape == (5, 400)
        assert z["keys"].tolist() == [[v, 0] for v in range(5)]
