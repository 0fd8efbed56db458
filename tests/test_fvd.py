"""FVD pipeline with a cheap stand-in extractor: streaming, input errors, warnings, cache, CLI."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import metrics.fvd as fvd_mod
from metrics.fvd import cached_video_stats, compute_fvd, fvd_from_stats, video_stats


def _videos(seed: int, n: int = 6, t: int = 9) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, t, 8, 8, 3), dtype=np.uint8)


@pytest.fixture
def stub(make_stub_i3d):
    return make_stub_i3d(dtype=torch.float64)


def test_self_distance_and_batching(stub) -> None:  # noqa: ANN001
    x = _videos(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert abs(compute_fvd(x, x, model=stub, batch_size=4)) < 1e-6
        a = video_stats(x, batch_size=1, model=stub)
        b = video_stats(iter([x[:4], x[4:5], x[5:]]), batch_size=4, model=stub)
        c = video_stats(x[::-1], batch_size=6, model=stub)
    for s in (b, c):
        assert np.allclose(a.mu, s.mu, atol=1e-12) and np.allclose(a.sigma, s.sigma, atol=1e-12)
    assert a.n == 6 and a.frames == 9


def test_small_n_warns(stub) -> None:  # noqa: ANN001
    a, b = (video_stats(_videos(s), model=stub) for s in (1, 2))
    with pytest.warns(UserWarning, match="biased"):
        assert fvd_from_stats(a, b) > 0


@pytest.mark.parametrize("bad, message", [
    (_videos(0, t=8), "at least 9"),
    (_videos(0).astype(np.float32), "uint8"),
    (_videos(0).astype(np.int16) + 300, "outside 0..255"),
    (_videos(0)[:1], "at least 2 videos"),
    (_videos(0)[..., :2], r"\[N, T, H, W, 3\]"),
])
def test_bad_input_one_clear_error(stub, bad, message) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=message):
        video_stats(bad, model=stub)


def test_frame_count_mismatch(stub) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="different frame counts"):
        video_stats(iter([_videos(0, 2, 9), _videos(1, 2, 10)]), batch_size=2, model=stub)
    a, b = video_stats(_videos(0, t=9), model=stub), video_stats(_videos(1, t=10), model=stub)
    with pytest.raises(ValueError, match="different frame counts"):
        fvd_from_stats(a, b)


def test_nan_features_are_an_error(stub) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="NaN"):
        video_stats(_videos(0), model=lambda v: torch.full((len(v), 400), float("nan")))


def test_cache_round_trip(stub, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path))
    made = []

    def make():  # noqa: ANN202
        made.append(1)
        return _videos(3)

    kw = dict(model=stub, batch_size=4)  # the key holds the sha256 of the extractor's own tensors
    a = cached_video_stats("bair test/16", {"dataset": "bair", "split": "test"}, make, frames=9, **kw)
    b = cached_video_stats("bair test/16", {"dataset": "bair", "split": "test"}, make, frames=9, **kw)
    assert len(made) == 1 and np.array_equal(a.mu, b.mu) and np.array_equal(a.sigma, b.sigma)
    assert (a.n, a.frames) == (b.n, b.frames) == (6, 9)
    (path,) = (tmp_path / "fvd_stats").glob("*.npz")
    assert path.name.startswith("bair-test-16-")
    cached_video_stats("bair test/16", {"dataset": "bair", "split": "val"}, make, frames=9, **kw)
    with torch.no_grad():
        stub.proj[0, 0] += 1.0  # other weights: a new key, whatever file they came from
    cached_video_stats("bair test/16", {"dataset": "bair", "split": "test"}, make, frames=9, **kw)
    assert len(made) == 3 and len(list((tmp_path / "fvd_stats").glob("*.npz"))) == 3
    assert not list((tmp_path / "fvd_stats").glob(".*tmp"))


def test_cli_text_json_and_errors(stub, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from benchmarks.cli import main

    monkeypatch.setattr(fvd_mod, "get_i3d", lambda weights=None, device=None: stub)
    np.save(tmp_path / "real.npy", _videos(0))
    np.savez(tmp_path / "fake.npz", videos=_videos(1, n=5))
    np.save(tmp_path / "short.npy", _videos(2, t=8))
    run = CliRunner().invoke
    out = run(main, ["fvd", str(tmp_path / "real.npy"), str(tmp_path / "fake.npz"), "--batch-size", "4"])
    assert out.exit_code == 0, out.output
    last = out.output.strip().splitlines()[-1]
    assert last.startswith("FVD: ") and float(last.split()[1]) > 0
    out = run(main, ["fvd", str(tmp_path / "real.npy"), str(tmp_path / "fake.npz"), "--json"])
    result = json.loads(out.output.strip().splitlines()[-1])
    assert (result["n_real"], result["n_fake"], result["frames"]) == (6, 5, 9) and result["fvd"] > 0
    out = run(main, ["fvd", str(tmp_path / "real.npy"), str(tmp_path / "short.npy")])
    assert out.exit_code != 0 and "at least 9" in out.output and "Traceback" not in out.output


def test_cli_tfhub_backend_unavailable_is_one_line(tmp_path) -> None:  # noqa: ANN001
    from benchmarks.cli import main

    np.save(tmp_path / "a.npy", _videos(0))
    out = CliRunner().invoke(main, ["fvd", str(tmp_path / "a.npy"), str(tmp_path / "a.npy"),
                                    "--backend", "tfhub", "--tfhub-module", str(tmp_path / "no_module")])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1 and "tfhub" in out.output.lower()
