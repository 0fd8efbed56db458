"""Shared fixtures and the helpers behind them.

Test modules never import from each other (nor from this file): everything shared is a fixture here,
most of them returning a plain helper (a function or a class) that the test calls. Project and torch
imports are kept inside the helpers, so modules that need neither do not pay for them.

- ../shared folder (real MNIST digits, reference docs): ``shared_dir``, ``mnist_dir``.
- training (4 frames of 8x8): ``tiny_config``, ``noise_clips``.
- sampling (6 frames of 8x8): ``sample_config``, ``tiny_denoiser``, ``make_known``, ``gen``,
  ``sample_cli``, ``write_npz``, ``ckpt``.
- v-prediction: ``v_oracle``.
- TFRecord / tf.train.Example writers: ``encode_example``, ``frame_record``, ``bair_example``,
  ``write_tfrecord``.
"""
from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the checkout; skip the test when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (only developers have it)")
    return SHARED


@pytest.fixture(scope="session")
def mnist_dir(shared_dir: Path) -> Path:
    d = shared_dir / "data" / "mnist"
    if not (d / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST IDX files absent from ../shared/data/mnist")
    return d


# --- training: a tiny config and a stand-in video source ---------------------------------------

TINY_FRAMES, TINY_RES = 4, 8


def _tiny_config(**train_kw: object):
    """A ~0.4M-parameter model on 4 frames of 8x8: one training step takes ~0.1 s on one core."""
    from ramvid.config import DiffusionConfig, MaskConfig, ModelConfig, RamvidConfig, TrainConfig

    t = {"lr": 1e-3, "batch_size": 2, "micro_batch": 2, "ema_rate": 0.9, **train_kw}
    return RamvidConfig(
        name="test-tiny", frames=TINY_FRAMES,
        model=ModelConfig(image_size=TINY_RES, model_channels=32, channel_mult=(1,), num_res_blocks=1,
                          attention_resolutions=(), num_heads=1),
        diffusion=DiffusionConfig(steps=100), mask=MaskConfig(p_uncond=0.25, max_cond=2),
        train=TrainConfig(**t),
    )


class NoiseClips:
    """Stand-in VideoSource: random uint8 clips drawn only from the given generator.

    Module-level (not built inside a fixture) so that it pickles for spawned data workers.
    """

    def random_clip(self, generator) -> np.ndarray:
        import torch

        return torch.randint(0, 256, (TINY_FRAMES, TINY_RES, TINY_RES, 3), generator=generator,
                             dtype=torch.uint8).numpy()


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., Any]:
    """``tiny_config(**train_overrides)`` -> RamvidConfig "test-tiny" (4 frames of 8x8, 100 steps)."""
    return _tiny_config


@pytest.fixture(scope="session")
def noise_clips() -> type[NoiseClips]:
    """The NoiseClips class (call it for a source of random 4x8x8 uint8 clips; subclass it freely)."""
    return NoiseClips


# --- a cheap stand-in for the I3D network ----------------------------------------------------------


@functools.cache
def _stub_i3d_class() -> type:
    import torch

    class StubI3D(torch.nn.Module):
        """uint8 [B, T, H, W, 3] -> [B, 400]: a fixed random projection of the colour means of the
        first ``frames`` frames (``dtype``: the projection's precision)."""

        def __init__(self, frames: int = 9, dtype: Any = torch.float32) -> None:
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.frames, self.dtype = frames, dtype
            self.proj = torch.nn.Parameter(torch.randn(3 * frames, 400, generator=g, dtype=dtype))

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            feats = v[:, :self.frames].to(self.dtype).mean(dim=(2, 3)).reshape(len(v), -1) / 255.0
            return feats @ self.proj

    return StubI3D


@pytest.fixture(scope="session")
def make_stub_i3d() -> Callable[..., Any]:
    """``make_stub_i3d(frames=9, dtype=torch.float32)`` -> a stand-in I3D (see ``_stub_i3d_class``)."""
    return lambda **kw: _stub_i3d_class()(**kw)


# --- sampling: a config, a dummy denoiser, known frames, the `sample` command -------------------

SAMPLE_RES, SAMPLE_FRAMES = 8, 6


@functools.cache
def _sample_config():
    from ramvid.config import ModelConfig, RamvidConfig

    return RamvidConfig(name="test", frames=SAMPLE_FRAMES,
                        model=ModelConfig(image_size=SAMPLE_RES, model_channels=32, channel_mult=(1,),
                                          num_res_blocks=1, attention_resolutions=()))


@functools.cache
def _tiny_denoiser_class() -> type:
    import torch
    from torch import nn

    class TinyDenoiser(nn.Module):
        """A fixed, seeded 3D conv whose output depends on x and t: enough to exercise the sampler."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(3, 3, 3, padding=1)
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.1)
                self.conv.bias.zero_()

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.conv(x)) * (t / 1000.0).view(-1, 1, 1, 1, 1)

    return TinyDenoiser


def _known(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SAMPLE_FRAMES, SAMPLE_RES, SAMPLE_RES, 3),
                                                dtype=np.uint8)


def _gen(model, known: np.ndarray | None, cond: tuple[int, ...], **kw) -> np.ndarray:
    from ramvid.sampling import generate

    args = dict(steps=5, seed=3, batch_size=2, device="cpu", progress=False)
    args.update(kw)
    return generate(model, _sample_config(), known, cond, **args)


def _sample_cli(*args: str):
    from click.testing import CliRunner

    from benchmarks.cli import main

    return CliRunner().invoke(main, ["sample", *args])


def _npz(path, videos: np.ndarray) -> str:
    np.savez(path, videos=videos)
    return str(path)


@pytest.fixture(scope="session")
def sample_config():
    """RamvidConfig "test": 6 frames of 8x8, a small UNet3D (the config ``gen`` and ``ckpt`` use)."""
    return _sample_config()


@pytest.fixture
def tiny_denoiser():
    """A fresh TinyDenoiser (seeded, deterministic: every instance has the same weights)."""
    return _tiny_denoiser_class()()


@pytest.fixture(scope="session")
def make_known() -> Callable[..., np.ndarray]:
    """``make_known(n, seed=0)`` -> seeded uint8 videos [n, 6, 8, 8, 3]."""
    return _known


@pytest.fixture(scope="session")
def gen() -> Callable[..., np.ndarray]:
    """``gen(model, known, cond, **kw)``: ``generate`` with ``sample_config`` and small defaults
    (steps=5, seed=3, batch_size=2, cpu, no progress); ``kw`` overrides them."""
    return _gen


@pytest.fixture(scope="session")
def sample_cli() -> Callable[..., Any]:
    """``sample_cli(*args)``: invoke ``ramvid-bench sample ARGS`` with click's CliRunner."""
    return _sample_cli


@pytest.fixture(scope="session")
def write_npz() -> Callable[..., str]:
    """``write_npz(path, videos)``: save ``videos=`` to an npz; returns the path as a string."""
    return _npz


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-describing checkpoint of a small real UNet3D (8x8, 6 frames)."""
    import torch

    from ramvid.checkpoint import save_checkpoint
    from ramvid.model import build_model

    config = _sample_config()
    torch.manual_seed(0)
    state = build_model(config.model).state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "ckpt-0.pt"
    save_checkpoint(path, {"config": config.to_dict(), "step": 0, "model": state, "ema": state,
                           "dataset": {"name": "shapes", "path": None}})
    return str(path)


# --- v-prediction: an oracle network ---------------------------------------------------------------


@functools.cache
def _v_oracle_class() -> type:
    import torch

    from ramvid.diffusion import Schedule

    class VOracle(torch.nn.Module):
        """Outputs the exact v for a fixed clean video x0, whatever x_t it is shown."""

        def __init__(self, x0: torch.Tensor) -> None:
            super().__init__()
            self.x0 = x0
            self.ac = torch.tensor(Schedule.linear(100).alphas_cumprod, dtype=torch.float32)

        def forward(self, x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
            ab = self.ac[torch.round(ts * 100 / 1000).long()].view(-1, 1, 1, 1, 1)
            eps = (x - ab.sqrt() * self.x0) / (1 - ab).sqrt()
            return ab.sqrt() * eps - (1 - ab).sqrt() * self.x0

    return VOracle


@pytest.fixture(scope="session")
def v_oracle() -> type:
    """The VOracle class: ``v_oracle(x0)`` is a network giving the exact v (100-step linear chain)."""
    return _v_oracle_class()


# --- TFRecord / tf.train.Example writers -----------------------------------------------------------
# They produce the true formats independently of the reader: a minimal protobuf encoder and TFRecord
# framing with masked CRC-32C.


def _masked_crc32c(data: bytes) -> int:
    import google_crc32c

    c = google_crc32c.value(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _encode_example(features: dict) -> bytes:
    """bytes -> BytesList, float arrays -> packed FloatList, int lists -> packed Int64List."""
    entries = b""
    for name, value in features.items():
        if isinstance(value, bytes):
            feat = _field(1, _field(1, value))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            feat = _field(2, _field(1, value.astype("<f4").tobytes()))
        else:
            feat = _field(3, _field(1, b"".join(_varint(int(v) & (2 ** 64 - 1)) for v in value)))
        entries += _field(1, _field(1, name.encode()) + _field(2, feat))
    return _field(1, entries)


def _frame_record(payload: bytes) -> bytes:
    head = struct.pack("<Q", len(payload))
    tail = struct.pack("<I", _masked_crc32c(payload))
    return head + struct.pack("<I", _masked_crc32c(head)) + payload + tail


def _bair_example(frames_aux: np.ndarray, frames_main: np.ndarray) -> bytes:
    feats: dict = {}
    for t in range(len(frames_aux)):
        feats[f"{t}/action"] = np.arange(4, dtype=np.float32) + t
        feats[f"{t}/endeffector_pos"] = np.array([0.5, -1.0, 2.0], np.float32)
        feats[f"{t}/image_aux1/encoded"] = frames_aux[t].tobytes()
        feats[f"{t}/image_main/encoded"] = frames_main[t].tobytes()
    return _encode_example(feats)


def _write_tfrecord(path: Path, payloads: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(_frame_record(p) for p in payloads))


@pytest.fixture(scope="session")
def encode_example() -> Callable[[dict], bytes]:
    """``encode_example(features)`` -> a serialized tf.train.Example (see ``_encode_example``)."""
    return _encode_example


@pytest.fixture(scope="session")
def frame_record() -> Callable[[bytes], bytes]:
    """``frame_record(payload)`` -> one TFRecord record: length, masked CRCs, payload."""
    return _frame_record


@pytest.fixture(scope="session")
def bair_example() -> Callable[[np.ndarray, np.ndarray], bytes]:
    """``bair_example(frames_aux, frames_main)`` -> a BAIR softmotion Example (raw frame bytes)."""
    return _bair_example


@pytest.fixture(scope="session")
def write_tfrecord() -> Callable[[Path, list[bytes]], None]:
    """``write_tfrecord(path, payloads)``: a .tfrecords file of those payloads (parents created)."""
    return _write_tfrecord
