"""The TF-Hub FVD backend (metrics.tfhub) up to and through module loading, with TensorFlow present.

The real module cannot be downloaded here, so a stand-in SavedModel with the same ``default``
signature (videos [B,T,224,224,3] -> [B,400]) runs the whole path; its output is recomputed with
our PyTorch preprocessing to check that the backend feeds the module the reference's input.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from metrics import tfhub
from metrics.resize import resize_bilinear_tf1

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def tf(reference_import):
    reference_import("tensorflow_hub")
    return reference_import("tensorflow")


def _videos(n: int = 3, t: int = 4, h: int = 37, w: int = 53) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, t, h, w, 3), dtype=np.uint8)


def _ours(videos: np.ndarray) -> np.ndarray:
    """Our PyTorch preprocessing: TF1 legacy resize per frame, then 2x/255 - 1."""
    n, t, h, w, _ = videos.shape
    frames = resize_bilinear_tf1(torch.from_numpy(videos.reshape(n * t, h, w, 3)).float())
    return (2 * frames / 255 - 1).reshape(n, t, 224, 224, 3).numpy()


def test_preprocess_matches_ours(tf) -> None:
    videos = _videos()
    ref = tfhub.preprocess(videos).numpy()
    diff = float(np.abs(ref - _ours(videos)).max())
    print(f"tfhub preprocess vs ours: max abs diff {diff:.3g} ([-1, 1] scale)")
    assert ref.shape == (3, 4, 224, 224, 3) and diff <= 1e-5


@pytest.fixture(scope="module")
def fake_module(tf, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A SavedModel with I3D's signature: mean over T,H,W of the input, times a fixed [3, 400]."""
    proj = np.random.default_rng(1).normal(size=(3, 400)).astype(np.float32)

    class Fake(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = tf.Variable(proj)

        @tf.function(input_signature=[tf.TensorSpec([None, None, 224, 224, 3], tf.float32)])
        def default(self, videos):
            return {"default": tf.reduce_mean(videos, axis=[1, 2, 3]) @ self.proj}

    path = tmp_path_factory.mktemp("hub") / "fake_i3d"
    module = Fake()
    tf.saved_model.save(module, str(path), signatures={"default": module.default})
    return path, proj


def test_stats_through_a_module(fake_module: tuple[Path, np.ndarray]) -> None:
    path, proj = fake_module
    videos = _videos(n=5)
    stats = tfhub.tfhub_video_stats(videos, module=str(path), batch_size=2, progress=False)
    feats = _ours(videos).mean(axis=(1, 2, 3)).astype(np.float64) @ proj
    assert stats.n == 5
    np.testing.assert_allclose(stats.mu, feats.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.sigma, np.cov(feats, rowvar=False), rtol=1e-3, atol=1e-4)


def test_unloadable_module_is_one_clear_line(tf, tmp_path: Path) -> None:
    with pytest.raises(tfhub.TFHubUnavailable, match="cannot load the TF-Hub I3D module") as e:
        tfhub.load_module(str(tmp_path / "missing"))
    assert "\n" not in str(e.value) and "--tfhub-module" in str(e.value)
