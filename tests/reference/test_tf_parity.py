"""Parity with TensorFlow itself: TF1 legacy resize and tensorflow_gan's Fréchet distance.

Run by ``tox -e reference``. The measured differences are printed (``pytest -s``) for the record.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metrics.frechet import frechet_distance
from metrics.resize import resize_bilinear_tf1
from metrics.stats import StreamingStats
from tests.reference.make_golden import (
    FRECHET_CASES,
    GOLDEN_DIR,
    RESIZE_CASES,
    activations,
    resize_frames,
    tf_golden,
)

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def tf(reference_import):
    return reference_import("tensorflow")


@pytest.mark.parametrize(("h", "w"), [*RESIZE_CASES, (224, 224), (300, 17)])
def test_resize_matches_tf1_resize_bilinear(tf, h: int, w: int) -> None:
    frames = resize_frames(h, w)
    ref = tf.compat.v1.image.resize_bilinear(frames, size=(224, 224)).numpy()
    ours = resize_bilinear_tf1(torch.from_numpy(frames)).numpy()
    diff = float(np.abs(ours - ref).max())
    print(f"resize {h}x{w} -> 224x224: max abs diff {diff:.3g} (0..255 scale)")
    assert ours.shape == ref.shape and diff <= 1e-3


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = StreamingStats(x.shape[1])
    for chunk in np.array_split(x, 7):  # streamed, as the FVD code feeds it
        s.update(chunk)
    return s.mean, s.cov


@pytest.mark.parametrize(("n", "d"), FRECHET_CASES)
def test_frechet_matches_tensorflow_gan(reference_import, n: int, d: int) -> None:
    tf = reference_import("tensorflow")
    reference_import("tensorflow_probability")
    from tests.reference.make_golden import import_tfgan_classifier_metrics

    cm = import_tfgan_classifier_metrics()
    a, b = activations(n, d)
    ref = float(cm.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)))
    ours = frechet_distance(*_stats(a), *_stats(b))
    rel = abs(ours - ref) / abs(ref)
    print(f"frechet {n}x{d}: ours {ours:.10g} tf-gan {ref:.10g} rel diff {rel:.3g}")
    assert rel <= 1e-6


def test_golden_file_is_current(tf) -> None:
    """tests/golden/tf_reference.json (pinned by the default tier) still equals a fresh TF run."""
    stored = json.loads((GOLDEN_DIR / "tf_reference.json").read_text())
    fresh = tf_golden()
    for key, case in fresh["resize_224"].items():
        np.testing.assert_allclose(case["probe_values"], stored["resize_224"][key]["probe_values"], atol=1e-4)
        assert case["sum"] == pytest.approx(stored["resize_224"][key]["sum"], rel=1e-7)
    for key, value in fresh["frechet"].items():
        assert value == pytest.approx(stored["frechet"][key], rel=1e-9)
