"""Inception Score (TGANv2's C3D): estimator maths, weight loading and errors, and the full CLI path.

The real C3D weights are not obtainable here: random weights in Chainer's exact npz key layout and
shapes exercise the same loading and inference code. The network itself is pinned against Chainer
by tests/test_tf_golden.py (golden logits from tox -e reference-chainer).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmarks.cli import main as cli
from metrics.c3d import C3D, load_c3d, read_mean_offset, to_c3d_input
from metrics.inception_score import TGANV2, c3d_probs, inception_score, score_probs, split_scores
from tests.reference.make_golden import GOLDEN_DIR, c3d_videos, c3d_weights, checksums, write_c3d_files

GOLDEN = GOLDEN_DIR / "c3d_chainer.json"


@pytest.fixture(scope="session")
def c3d_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Random Chainer-layout conv3d_deepnetA_ucf.npz (~300 MB) and mean2.npz, written once."""
    return write_c3d_files(tmp_path_factory.mktemp("c3d"))


@pytest.fixture(scope="session")
def c3d(c3d_files: tuple[Path, Path]) -> C3D:
    return load_c3d(*c3d_files)


@pytest.fixture(scope="session")
def c3d_logits(c3d: C3D) -> np.ndarray:
    """fc8 logits float64 [2, 101] of the golden videos, computed once (the C3D is ~40 GFLOP/video)."""
    with torch.inference_mode():
        return c3d(to_c3d_input(c3d_videos())).double().numpy()


def test_is_of_uniform_predictions_is_one() -> None:
    probs = np.full((40, 101), 1 / 101)
    assert score_probs(probs).mean == pytest.approx(1.0, abs=1e-12)


def test_is_of_distinct_one_hot_equals_number_of_classes() -> None:
    probs = np.eye(101)[np.arange(202) % 101]
    result = score_probs(probs, splits=2)
    assert result.mean == pytest.approx(101.0, rel=1e-9)
    assert result.std == pytest.approx(0.0, abs=1e-9)


def test_splits_and_repeats_cut_consecutive_groups() -> None:
    # First half predicts 4 distinct classes, second half one class: IS 4 and 1.
    probs = np.concatenate([np.eye(10)[np.arange(8) % 4], np.eye(10)[np.zeros(8, int)]])
    np.testing.assert_allclose(split_scores(probs, 2), [4.0, 1.0], rtol=1e-9)
    by_split = score_probs(probs, splits=2)
    by_group = score_probs(probs, repeats=2)
    assert by_split.scores == pytest.approx((4.0, 1.0)) and by_group.scores == pytest.approx((4.0, 1.0))
    assert by_group.mean == pytest.approx(2.5) and by_group.std == pytest.approx(1.5)  # np.std, ddof 0
    # Both knobs: each group is the mean of its splits; the std is over groups.
    both = score_probs(np.concatenate([probs, probs]), splits=2, repeats=2)
    assert both.scores == pytest.approx((2.5, 2.5)) and both.std == pytest.approx(0.0)


def test_tgan2_estimator_is_the_default() -> None:
    assert (TGANV2.samples, TGANV2.splits, TGANV2.repeats, TGANV2.n_videos) == (2048, 1, 10, 20480)


def test_repeats_must_divide_n() -> None:
    with pytest.raises(ValueError, match="divisible"):
        score_probs(np.full((15, 4), 0.25), repeats=10)
    with pytest.raises(ValueError, match="splits"):
        split_scores(np.full((3, 4), 0.25), splits=4)
    with pytest.raises(ValueError, match="groups of 2 videos into 3 splits"):
        score_probs(np.full((4, 4), 0.25), splits=3, repeats=2)
    with pytest.raises(ValueError, match="no videos"):
        score_probs(np.zeros((0, 4)), splits=1, repeats=1)


def test_missing_weights_error_names_both_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RAMVID_C3D_WEIGHTS", raising=False)
    monkeypatch.delenv("RAMVID_C3D_MEAN", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        load_c3d(None, tmp_path / "nope.npz")
    msg = str(e.value)
    assert "\n" not in msg
    for word in ("conv3d_deepnetA_ucf.npz", "mean2.npz", "--c3d-weights", "RAMVID_C3D_MEAN", "TGANv2"):
        assert word in msg


def test_wrong_weights_give_clear_errors(tmp_path: Path, c3d_files: tuple[Path, Path]) -> None:
    np.savez(tmp_path / "shape.npz", **{"conv1a/W": np.zeros((64, 3, 3, 3), np.float32)})
    with pytest.raises(ValueError, match=r"'conv1a/W' has shape \[64, 3, 3, 3\], expected \[64, 3, 3, 3, 3"):
        load_c3d(tmp_path / "shape.npz", c3d_files[1])
    np.savez(tmp_path / "keys.npz", **{"conv1a/W": np.zeros((64, 3, 3, 3, 3), np.float32),
                                       "conv1a/b": np.zeros(64, np.float32)})
    with pytest.raises(ValueError, match="key 'conv2a/W' missing"):
        load_c3d(tmp_path / "keys.npz", c3d_files[1])
    np.savez(tmp_path / "mean.npz", mean=np.zeros((3, 8, 128, 171), np.float32))
    with pytest.raises(ValueError, match=r"'mean' has shape \[3, 8, 128, 171\]"):
        read_mean_offset(tmp_path / "mean.npz")
    (tmp_path / "text.npz").write_text("not an npz")
    with pytest.raises(ValueError, match="not a readable numpy .npz"):
        load_c3d(tmp_path / "text.npz", c3d_files[1])


def test_preprocessing_is_tgan2s(c3d: C3D) -> None:
    """BGR x128, align-corners resize, + (128 - mean crop): a constant frame stays constant."""
    x = torch.zeros(1, 3, 16, 40, 56)
    x[:, 0], x[:, 2] = 0.5, -0.25  # R, B
    y = c3d.preprocess(x) - c3d.offset
    torch.testing.assert_close(y[0, 0], torch.full((16, 112, 112), -32.0))  # B*128 first
    torch.testing.assert_close(y[0, 2], torch.full((16, 112, 112), 64.0))   # R*128 last
    ramp = torch.linspace(-1, 1, 7).expand(1, 3, 16, 5, 7)  # align corners: ends map to ends
    out = c3d.preprocess(ramp) - c3d.offset
    assert out[0, 0, 0, 0, 0] == pytest.approx(-128) and out[0, 0, 0, 0, -1] == pytest.approx(128)
    with pytest.raises(ValueError, match="16 frames"):
        c3d.preprocess(torch.zeros(1, 3, 8, 112, 112))
    # uint8 disk layout [N,T,H,W,3] and float model layout [N,3,T,H,W] in [-1, 1] agree.
    videos = c3d_videos()[:, :, :8, :8]
    x = torch.as_tensor(videos).permute(0, 4, 1, 2, 3).double() / 127.5 - 1
    torch.testing.assert_close(to_c3d_input(videos).double(), x, atol=1e-6, rtol=0)


def test_api_takes_iterators_of_batches() -> None:
    """c3d_probs streams batches of either layout; inception_score wraps it (fake C3D: fixed probs)."""
    class Fake(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def probs(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot((x[:, 0, 0, 0, 0] > 0).long(), 3).float()

    vids = np.zeros((4, 16, 2, 2, 3), np.uint8)
    vids[1::2] = 255
    probs = c3d_probs(iter([vids[:3], vids[3:]]), Fake(), progress=False)
    np.testing.assert_array_equal(probs.argmax(1), [0, 1, 0, 1])
    assert inception_score(vids, Fake(), repeats=2, batch_size=3, progress=False) == pytest.approx((2.0, 0.0))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        c3d_probs(torch.full((1, 3, 16, 2, 2), 2.0), Fake(), progress=False)


def test_logits_match_chainer_golden(c3d_logits: np.ndarray) -> None:
    """Our C3D on random Chainer-layout weights vs TGANv2's network built from Chainer layers."""
    golden = json.loads(GOLDEN.read_text())
    assert golden["weights_checksums"] == pytest.approx(checksums(c3d_weights()), rel=1e-9), \
        "numpy's random stream changed: regenerate with tests/reference/make_golden.py chainer"
    ref = np.array(golden["logits"])
    assert c3d_logits.shape == ref.shape == (2, 101)
    assert np.abs(c3d_logits - ref).max() <= 1e-4 * np.abs(ref).max()


def test_cli_full_path_and_batch_size_independence(c3d_logits: np.ndarray, c3d_files: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    videos = c3d_videos()
    probs = torch.softmax(torch.as_tensor(c3d_logits), 1).numpy()
    expected = score_probs(probs, splits=1, repeats=2)
    np.savez(tmp_path / "fake.npz", videos=videos)
    args = ["is", str(tmp_path / "fake.npz"), "--c3d-weights", str(c3d_files[0]), "--c3d-mean",
            str(c3d_files[1]), "--repeats", "2", "--batch-size", "1", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["n"] == 2 and out["repeats"] == 2
    assert out["is_mean"] == pytest.approx(expected.mean, rel=1e-5)  # batch 1 vs batch 2
    assert out["is_std"] == pytest.approx(expected.std, rel=1e-4, abs=1e-6)


def test_cli_text_output_and_one_line_errors(c3d_files: tuple[Path, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAMVID_C3D_WEIGHTS", raising=False)
    monkeypatch.delenv("RAMVID_C3D_MEAN", raising=False)
    np.savez(tmp_path / "fake.npz", videos=np.zeros((4, 16, 8, 8, 3), np.uint8))
    res = CliRunner().invoke(cli, ["is", str(tmp_path / "fake.npz"), "--repeats", "1"])
    assert res.exit_code != 0 and "conv3d_deepnetA_ucf.npz" in res.output and "mean2.npz" in res.output
    assert "Traceback" not in res.output
    monkeypatch.setenv("RAMVID_C3D_WEIGHTS", str(c3d_files[0]))
    monkeypatch.setenv("RAMVID_C3D_MEAN", str(c3d_files[1]))
    res = CliRunner().invoke(cli, ["is", str(tmp_path / "fake.npz")])  # 4 videos, 10 repeats: before C3D
    assert res.exit_code != 0 and "repeats=10 needs N divisible" in res.output
    np.savez(tmp_path / "short.npz", videos=np.zeros((2, 8, 8, 8, 3), np.uint8))
    res = CliRunner().invoke(cli, ["is", str(tmp_path / "short.npz"), "--repeats", "1"])
    assert res.exit_code != 0 and "16 frames" in res.output
    # The text form: the last line is "IS: <mean> +- <std>" (C3D replaced by fixed predictions).
    monkeypatch.setattr("metrics.inception_score.c3d_probs", lambda *a, **k: np.eye(4)[[0, 1, 2, 2]])
    res = CliRunner().invoke(cli, ["is", str(tmp_path / "fake.npz"), "--repeats", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "IS: 1.5000 +- 0.5000"
