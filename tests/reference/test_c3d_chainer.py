"""Our C3D pipeline (preprocessing + network) against TGANv2's, built from Chainer layers.

Run by ``tox -e reference-chainer`` (Chainer 7.8.1 on numpy<1.24). Both load the same random
weights from one Chainer-layout ``conv3d_deepnetA_ucf.npz``: Chainer through its own
``serializers.load_npz``, which also proves our key names and shapes are Chainer's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from metrics.c3d import load_c3d, to_c3d_input
from tests.reference.make_golden import (
    GOLDEN_DIR,
    c3d_mean,
    c3d_videos,
    c3d_weights,
    chainer_c3d_logits,
    checksums,
    write_c3d_files,
)

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def files(reference_import, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    reference_import("chainer")
    return write_c3d_files(tmp_path_factory.mktemp("c3d"))


def test_c3d_matches_chainer(files: tuple[Path, Path]) -> None:
    videos = c3d_videos()
    ref = chainer_c3d_logits(files[0], c3d_mean(), videos)
    with torch.inference_mode():
        ours = load_c3d(*files)(to_c3d_input(videos)).double().numpy()
    rel = float(np.abs(ours - ref).max() / np.abs(ref).max())
    print(f"C3D logits vs Chainer: max abs diff {np.abs(ours - ref).max():.3g}, relative {rel:.3g}")
    assert rel <= 1e-4
    p_ours, p_ref = (torch.softmax(torch.as_tensor(v), 1).numpy() for v in (ours, ref))
    assert np.abs(p_ours - p_ref).max() <= 1e-5


def test_golden_file_is_current(files: tuple[Path, Path]) -> None:
    """tests/golden/c3d_chainer.json (pinned by the default tier) still equals a fresh Chainer run."""
    stored = json.loads((GOLDEN_DIR / "c3d_chainer.json").read_text())
    assert stored["weights_checksums"] == pytest.approx(checksums(c3d_weights()), rel=1e-9)
    ref = chainer_c3d_logits(files[0], c3d_mean(), c3d_videos())
    np.testing.assert_allclose(ref, np.array(stored["logits"]), rtol=0, atol=1e-5)
