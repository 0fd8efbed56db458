"""Golden numbers from the reference implementations, and the inputs they are computed on.

The input builders are numpy-only (seeded ``default_rng``), so the default test tier rebuilds the
same inputs without TensorFlow or Chainer and compares our code with the stored reference outputs.
Regenerate (each in the env that has the reference):

    .tox/reference/bin/python tests/reference/make_golden.py tf        -> tests/golden/tf_reference.json
    .tox/reference-chainer/bin/python tests/reference/make_golden.py chainer
                                                                 -> tests/golden/c3d_chainer.json
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
RESIZE_CASES = ((64, 64), (37, 53), (128, 96))  # input (H, W); output 224x224
FRECHET_CASES = ((500, 64), (300, 400))         # (N, D) activations
N_PROBES = 64


def resize_frames(h: int, w: int, seed: int = 0) -> np.ndarray:
    """float32 [3, h, w, 3] with integer values in 0..255: smooth gradients plus noise, like frames."""
    rng = np.random.default_rng([seed, h, w])
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    smooth = 127.5 * (1 + np.sin(6 * yy[None, :, :, None] + 4 * xx[None, :, :, None]
                                 + rng.uniform(0, 6, (3, 1, 1, 3))))
    noisy = smooth + rng.normal(0, 25, (3, h, w, 3))
    return np.clip(np.round(noisy), 0, 255).astype(np.float32)


def probe_indices(n: int, seed: int = 1) -> np.ndarray:
    """Fixed flat indices at which resize outputs are pinned."""
    return np.random.default_rng(seed).choice(n, size=N_PROBES, replace=False)


def activations(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 activation sets [n, d] with correlated, different distributions."""
    rng = np.random.default_rng([seed, n, d])
    mix = rng.normal(0, 1, (d, d)) / np.sqrt(d)
    a = rng.normal(0, 1, (n, d)) @ mix
    b = (rng.normal(0, 1, (n, d)) @ (mix + 0.1 * rng.normal(0, 1, (d, d)) / np.sqrt(d))) * 1.2 + 0.3
    return a, b


def c3d_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Random C3D weights in Chainer's exact npz layout (float32, He-uniform; conv1a scaled by 1/128
    so the x128 input keeps logits of order one)."""
    from metrics.c3d import expected_shapes

    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in expected_shapes().items():
        fan_in = int(np.prod(shape[1:])) if key.endswith("/W") else 1
        limit = np.sqrt(6.0 / fan_in) if key.endswith("/W") else 0.1
        arr = (rng.random(shape, dtype=np.float32) * 2 - 1) * np.float32(limit)
        out[key] = arr / np.float32(128) if key == "conv1a/W" else arr
    return out


def c3d_mean(seed: int = 0) -> np.ndarray:
    """A C3D-like BGR mean [3, 16, 128, 171] (float32) varying over frames and pixels."""
    rng = np.random.default_rng([seed, 171])
    base = np.array([90.0, 97.0, 101.0], np.float32)[:, None, None, None]
    return (base + rng.uniform(-10, 10, (3, 16, 128, 171))).astype(np.float32)


def c3d_videos(seed: int = 0) -> np.ndarray:
    """uint8 [2, 16, 48, 64, 3]: non-square frames so both resize axes are exercised."""
    rng = np.random.default_rng([seed, 16])
    frames = np.stack([resize_frames(48, 64, seed=seed + t)[:2] for t in range(16)], axis=1)
    return np.clip(frames + rng.integers(-3, 4, frames.shape), 0, 255).astype(np.uint8)


def checksums(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """float64 sum of every array: detects a change of the random stream between numpy versions."""
    return {k: float(np.asarray(v, np.float64).sum()) for k, v in sorted(arrays.items())}


def import_tfgan_classifier_metrics() -> types.ModuleType:
    """tensorflow_gan's classifier_metrics.py with its parent packages stubbed.

    tensorflow-gan 2.1.0's package ``__init__`` fails on current TF (``tf.estimator`` is gone); the
    metrics module itself only needs tensorflow, tensorflow_probability and its sibling eval_utils.
    """
    done = sys.modules.get("tensorflow_gan.python.eval.classifier_metrics")
    if done is not None:
        return done
    spec = importlib.util.find_spec("tensorflow_gan")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow_gan is not installed (pip install --no-deps tensorflow-gan)")
    root = Path(list(spec.submodule_search_locations)[0])
    for name, sub in (("tensorflow_gan", root), ("tensorflow_gan.python", root / "python"),
                      ("tensorflow_gan.python.eval", root / "python" / "eval")):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.__path__ = [str(sub)]
            sys.modules[name] = stub
    return importlib.import_module("tensorflow_gan.python.eval.classifier_metrics")


def tf_resize(frames: np.ndarray) -> np.ndarray:
    """The reference resize: ``tf.compat.v1.image.resize_bilinear`` to 224x224 (float32)."""
    import tensorflow as tf

    return tf.compat.v1.image.resize_bilinear(frames, size=(224, 224)).numpy()


def tf_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """tensorflow_gan's ``frechet_classifier_distance_from_activations`` in float64."""
    import tensorflow as tf

    cm = import_tfgan_classifier_metrics()
    return float(cm.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)))


def tf_golden() -> dict:
    import tensorflow as tf

    resize = {}
    for h, w in RESIZE_CASES:
        out = tf_resize(resize_frames(h, w)).astype(np.float64)
        idx = probe_indices(out.size)
        resize[f"{h}x{w}"] = {"sum": float(out.sum()), "sumsq": float((out ** 2).sum()),
                              "probe_values": out.ravel()[idx].tolist()}
    frechet = {f"{n}x{d}": tf_frechet(*activations(n, d)) for n, d in FRECHET_CASES}
    return {"generator": "tests/reference/make_golden.py tf", "tensorflow": tf.__version__,
            "resize_224": resize, "frechet": frechet}


def chainer_c3d_logits(weights_npz: Path, mean: np.ndarray, videos: np.ndarray) -> np.ndarray:
    """TGANv2's C3DVersion1UCF101 forward (fc8 logits) built from Chainer layers, float64 [N, 101]."""
    import chainer
    import chainer.functions as F
    import chainer.links as L

    class C3DChainer(chainer.Chain):
        def __init__(self) -> None:
            super().__init__()
            with self.init_scope():
                self.conv1a = L.ConvolutionND(3, 3, 64, 3, 1, 1)
                self.conv2a = L.ConvolutionND(3, 64, 128, 3, 1, 1)
                self.conv3a = L.ConvolutionND(3, 128, 256, 3, 1, 1)
                self.conv3b = L.ConvolutionND(3, 256, 256, 3, 1, 1)
                self.conv4a = L.ConvolutionND(3, 256, 512, 3, 1, 1)
                self.conv4b = L.ConvolutionND(3, 512, 512, 3, 1, 1)
                self.conv5a = L.ConvolutionND(3, 512, 512, 3, 1, 1)
                self.conv5b = L.ConvolutionND(3, 512, 512, 3, 1, 1)
                self.fc6 = L.Linear(512 * 4 * 4, 4096)
                self.fc7 = L.Linear(4096, 4096)
                self.fc8 = L.Linear(4096, 101)

    model = C3DChainer()
    chainer.serializers.load_npz(str(weights_npz), model)
    pre = L.ConvolutionND(3, 3, 3, 1, 1, 0, nobias=True)
    pre.W.array[:] = 0
    pre.W.array[[0, 1, 2], [2, 1, 0]] = 128
    bias = L.Bias(shape=(3, 16, 112, 112))
    bias.b.array[:] = 128 - mean[:, :, 8:8 + 112, 8:8 + 112]

    def resize(x):
        n, c, t, h, w = x.shape
        x = x.transpose(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        x = F.resize_images(x, (112, 112))
        return x.reshape(n, t, c, 112, 112).transpose(0, 2, 1, 3, 4)

    x = (videos.astype(np.float32) / np.float32(127.5) - 1).transpose(0, 4, 1, 2, 3).copy()
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        h = bias(resize(pre(x)))
        h = F.max_pooling_nd(F.relu(model.conv1a(h)), ksize=(1, 2, 2))
        h = F.max_pooling_nd(F.relu(model.conv2a(h)), ksize=2)
        h = F.max_pooling_nd(F.relu(model.conv3b(F.relu(model.conv3a(h)))), ksize=2)
        h = F.max_pooling_nd(F.relu(model.conv4b(F.relu(model.conv4a(h)))), ksize=2)
        h = F.dropout(F.max_pooling_nd(F.relu(model.conv5b(F.relu(model.conv5a(h)))), ksize=2))
        h = F.dropout(F.relu(model.fc6(h)))
        h = F.dropout(F.relu(model.fc7(h)))
        return model.fc8(h).array.astype(np.float64)


def write_c3d_files(folder: Path) -> tuple[Path, Path]:
    """Save the random weights and mean as Chainer-style npz files; returns (weights, mean) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    w_path, m_path = folder / "conv3d_deepnetA_ucf.npz", folder / "mean2.npz"
    np.savez(w_path, **c3d_weights())
    np.savez(m_path, mean=c3d_mean())
    return w_path, m_path


def chainer_golden(tmp: Path) -> dict:
    import chainer

    w_path, _ = write_c3d_files(tmp)
    logits = chainer_c3d_logits(w_path, c3d_mean(), c3d_videos())
    return {"generator": "tests/reference/make_golden.py chainer", "chainer": chainer.__version__,
            "numpy": np.__version__, "weights_checksums": checksums(c3d_weights()),
            "mean_checksum": float(c3d_mean().astype(np.float64).sum()),
            "videos_checksum": int(c3d_videos().astype(np.int64).sum()), "logits": logits.tolist()}


def main(which: str) -> None:
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for metrics.*
    if which == "tf":
        data, name = tf_golden(), "tf_reference.json"
    elif which == "chainer":
        with tempfile.TemporaryDirectory() as tmp:
            data, name = chainer_golden(Path(tmp)), "c3d_chainer.json"
    else:
        raise SystemExit("usage: make_golden.py tf|chainer")
    GOLDEN_DIR.mkdir(exist_ok=True)
    tmp_file = GOLDEN_DIR / f".{name}.tmp"
    tmp_file.write_text(json.dumps(data, indent=1) + "\n")
    tmp_file.replace(GOLDEN_DIR / name)
    print(f"wrote {GOLDEN_DIR / name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
