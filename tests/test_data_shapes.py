"""The embedded datasets: shapes (always) and moving-mnist (when MNIST IDX files are available)."""
from __future__ import annotations

import numpy as np
import pytest

from ramvid.data import DATASETS, open_dataset
from ramvid.data.mnist import find_idx
from ramvid.utils import make_generator


def test_shapes_deterministic_and_contract():
    a = open_dataset("shapes", "test", frames=8, resolution=32, seed=3)
    b = open_dataset("shapes", "test", frames=8, resolution=32, seed=3)
    assert len(a) == 1024
    x = a.clips([0, 5, 7])
    assert x.dtype == np.uint8 and x.shape == (3, 8, 32, 32, 3)
    np.testing.assert_array_equal(x[1], b.clip(5))
    other = open_dataset("shapes", "test", frames=8, resolution=32, seed=4)
    assert not np.array_equal(a.clip(0), other.clip(0))


def test_shapes_train_test_disjoint_and_random_clip_reproducible():
    train = open_dataset("shapes", "train", frames=6, resolution=32)
    test = open_dataset("shapes", "test", frames=6, resolution=32)
    tests = test.clips(range(16))
    trains = np.stack([train.random_clip(make_generator(0, k)) for k in range(16)])
    assert not any(np.array_equal(t, u) for t in tests for u in trains)
    np.testing.assert_array_equal(train.random_clip(make_generator(1)), train.random_clip(make_generator(1)))
    assert len(train) >= 2 ** 31  # effectively infinite


def test_shapes_values_motion_and_any_resolution():
    s = open_dataset("shapes", "test", frames=16, resolution=64, test_size=8)
    x = s.clips(range(8)).astype(np.float32)
    assert x.min() < 60 and x.max() > 180 and x.std() > 20  # real contrast, not a flat image
    motion = np.abs(np.diff(x, axis=1)).mean(axis=(2, 3, 4))
    assert (motion.mean(axis=1) > 0.5).all()  # every clip moves
    # Same scene at another resolution (normalised coordinates): 64 -> 32 by 2x2 averaging is close.
    small = open_dataset("shapes", "test", frames=16, resolution=32, test_size=8).clip(0).astype(np.float32)
    pooled = x[0].reshape(16, 32, 2, 32, 2, 3).mean(axis=(2, 4))
    assert np.abs(pooled - small).mean() < 12
    assert open_dataset("shapes", "test", frames=3, resolution=20).clip(0).shape == (3, 20, 20, 3)


def test_shapes_motion_is_stochastic():
    """Turns and speed changes: the second half of a clip is not a constant-velocity continuation."""
    from ramvid.data.shapes import ShapesConfig, _trajectory

    cfg = ShapesConfig()
    turned = 0
    for k in range(20):
        c, _ = _trajectory(make_generator(0, k), 1, 32, cfg, np.array([0.1]))
        v = np.diff(c[:, 0], axis=0)
        turned += np.abs(np.diff(np.abs(v), axis=0)).max() > 1e-6  # not just sign flips (bounces)
    assert turned >= 15


def test_unknown_names_and_splits_give_one_line():
    with pytest.raises(ValueError, match="choose one of"):
        open_dataset("shape", "test", frames=4, resolution=32)
    with pytest.raises(ValueError, match="unknown split"):
        open_dataset("shapes", "dev", frames=4, resolution=32)
    assert {"shapes", "moving-mnist", "hdf5", "bair", "ucf101", "kinetics"} <= set(DATASETS)


@pytest.mark.parametrize("name,hint", [("bair", "prepare bair --src softmotion30_44k/"),
                                       ("ucf101", "prepare ucf101"), ("kinetics", "prepare kinetics")])
def test_missing_prepared_files_say_how_to_prepare(tmp_path, name, hint):
    for path in (None, tmp_path / "nope.h5", tmp_path):
        with pytest.raises(FileNotFoundError, match=hint) as e:
            open_dataset(name, "test", frames=4, resolution=64, path=path)
        assert "\n" not in str(e.value)


def test_moving_mnist(mnist_dir):
    m = open_dataset("moving-mnist", "test", frames=10, resolution=64, path=mnist_dir)
    x = m.clips([0, 1])
    assert x.shape == (2, 10, 64, 64, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grey replicated
    np.testing.assert_array_equal(x[0], m.clip(0))
    assert x.max() == 255 and (x > 0).mean() < 0.5
    assert np.abs(np.diff(x.astype(int), axis=1)).mean() > 1  # digits move
    small = open_dataset("moving-mnist", "test", frames=4, resolution=32, path=mnist_dir, digits=1)
    assert small.clip(0).shape == (4, 32, 32, 3)
    if find_idx(mnist_dir, "train") is None:  # documented fallback: train uses the t10k digits
        with pytest.warns(UserWarning, match="t10k"):
            train = open_dataset("moving-mnist", "train", frames=4, resolution=64, path=mnist_dir)
    else:
        train = open_dataset("moving-mnist", "train", frames=4, resolution=64, path=mnist_dir)
    assert not np.array_equal(train.clip(0), open_dataset(
        "moving-mnist", "test", frames=4, resolution=64, path=mnist_dir).clip(0))


def test_moving_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        open_dataset("moving-mnist", "test", frames=4, resolution=64, path=tmp_path)
