"""Statistics files: --save-stats then the file in place of the videos gives the identical FVD; files
made under other settings (weights, resize rule, frames) or damaged are refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import metrics.fvd as fvd_mod
from metrics.fvd import video_features
from metrics.stats_file import is_stats_file, load_stats, save_stats


def _videos(seed: int, n: int = 6, t: int = 9) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, t, 8, 8, 3), dtype=np.uint8)


@pytest.fixture
def files(tmp_path, monkeypatch, make_stub_i3d):
    stub = make_stub_i3d()
    monkeypatch.setattr(fvd_mod, "get_i3d", lambda weights=None, device=None: stub)
    np.save(tmp_path / "real.npy", _videos(0))
    np.savez(tmp_path / "fake.npz", videos=_videos(1, n=5))
    return tmp_path, stub


def _fvd(*args: str) -> dict:
    from benchmarks.cli import main

    res = CliRunner().invoke(main, ["fvd", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def test_saved_stats_give_the_identical_fvd(files):
    d, _ = files
    from benchmarks.cli import main

    res = CliRunner().invoke(main, ["fvd", "--save-stats", str(d / "s.npz"), str(d / "real.npy")])
    assert res.exit_code == 0 and "statistics of 6 videos written" in res.output, res.output
    assert is_stats_file(d / "s.npz") and not is_stats_file(d / "fake.npz")
    direct = _fvd(str(d / "real.npy"), str(d / "fake.npz"), "--bootstrap", "30")
    stored = _fvd(str(d / "s.npz"), str(d / "fake.npz"), "--bootstrap", "30")
    assert stored["fvd"] == direct["fvd"] and stored["n_real"] == 6  # bit for bit
    assert stored["ci_low"] == direct["ci_low"] and stored["fvd_inf"] == direct["fvd_inf"]  # features kept
    assert {"git_hash", "git_dirty", "torch", "device_name", "argv", "i3d_sha256"} <= set(direct)
    both = _fvd(str(d / "s.npz"), str(d / "s.npz"))  # no extractor needed at all
    assert abs(both["fvd"]) < 1e-6
    saved = load_stats(d / "s.npz")
    assert saved.stats.sigma.dtype == np.float64 and saved.stats.n == 6 and saved.settings["frames"] == 9
    assert saved.settings["resize"] and len(saved.settings["weights_sha256"]) == 64


def _refused(*args: str) -> str:
    from benchmarks.cli import main

    res = CliRunner().invoke(main, ["fvd", *args])
    assert res.exit_code == 1, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    return res.output


def test_other_weights_resize_or_frames_are_refused(files, monkeypatch):
    d, stub = files
    found = video_features(_videos(0), model=stub)
    save_stats(d / "w.npz", found, weights_sha256="0" * 64)
    out = _refused(str(d / "w.npz"), str(d / "fake.npz"))
    assert "weights_sha256" in out and "w.npz" in out
    monkeypatch.setattr(fvd_mod, "RESIZE_RULE", "torch-bilinear-half-pixel")
    save_stats(d / "r.npz", found, weights_sha256=fvd_mod.weights_digest(stub))
    monkeypatch.undo()
    monkeypatch.setattr(fvd_mod, "get_i3d", lambda weights=None, device=None: stub)
    assert "resize" in _refused(str(d / "r.npz"), str(d / "fake.npz"))
    assert "resize" in _refused(str(d / "fake.npz"), str(d / "r.npz"))  # either side
    assert "weights_sha256" in _refused(str(d / "w.npz"), str(d / "r.npz"))  # two files, no videos
    np.save(d / "long.npy", _videos(2, t=10))
    assert "frames" in _refused(str(d / "w.npz"), str(d / "long.npy"))


def test_damaged_stats_file_and_save_from_a_stats_file_are_one_line(files):
    d, stub = files
    path = save_stats(d / "s.npz", video_features(_videos(0), model=stub),
                      weights_sha256=fvd_mod.weights_digest(stub))
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["mu"] = arrays["mu"] + 1.0  # the stored checksum no longer matches
    np.savez(d / "bad.npz", **arrays)
    assert "checksum" in _refused(str(d / "bad.npz"), str(d / "fake.npz"))
    assert "already a statistics file" in _refused("--save-stats", str(d / "t.npz"), str(path))
