"""Default tier: our resize, Fréchet distance and TF-Hub backend errors pinned to TensorFlow's numbers.

tests/golden/tf_reference.json comes from tensorflow-cpu and tensorflow_gan (tox -e reference;
regenerate with tests/reference/make_golden.py tf), so a plain ``pytest`` catches drift without TF.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from metrics import tfhub
from metrics.frechet import frechet_distance
from metrics.resize import resize_bilinear_tf1
from tests.reference.make_golden import (
    FRECHET_CASES,
    GOLDEN_DIR,
    RESIZE_CASES,
    activations,
    probe_indices,
    resize_frames,
)

GOLDEN = json.loads((GOLDEN_DIR / "tf_reference.json").read_text())


@pytest.mark.parametrize(("h", "w"), RESIZE_CASES)
def test_resize_matches_tf_golden(h: int, w: int) -> None:
    ref = GOLDEN["resize_224"][f"{h}x{w}"]
    ours = resize_bilinear_tf1(torch.from_numpy(resize_frames(h, w))).numpy().astype(np.float64)
    probes = ours.ravel()[probe_indices(ours.size)]
    assert np.abs(probes - np.array(ref["probe_values"])).max() <= 1e-3
    assert ours.sum() == pytest.approx(ref["sum"], rel=1e-6)
    assert (ours ** 2).sum() == pytest.approx(ref["sumsq"], rel=1e-6)


@pytest.mark.parametrize(("n", "d"), FRECHET_CASES)
def test_frechet_matches_tf_gan_golden(n: int, d: int) -> None:
    a, b = activations(n, d)
    ours = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours == pytest.approx(GOLDEN["frechet"][f"{n}x{d}"], rel=1e-6)


def test_tfhub_without_tensorflow_says_install_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import raises ImportError
    with pytest.raises(tfhub.TFHubUnavailable, match=r"install extra \[tf\]") as e:
        tfhub.tfhub_video_stats(np.zeros((2, 9, 8, 8, 3), np.uint8), progress=False)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)  # CLIs turn ValueError into one line


def test_tfhub_rejects_non_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        next(iter(tfhub.tfhub_video_features(np.zeros((2, 9, 8, 8, 3), np.float32))))


def test_fvd_cli_tfhub_backend_without_tensorflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from benchmarks.cli import main as cli

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    np.savez(tmp_path / "a.npz", videos=np.zeros((2, 9, 8, 8, 3), np.uint8))
    path = str(tmp_path / "a.npz")
    res = CliRunner().invoke(cli, ["fvd", path, path, "--backend", "tfhub"])
    assert res.exit_code != 0 and "install extra [tf]" in res.output and "Traceback" not in res.output
