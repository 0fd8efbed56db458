"""Samplers with dummy denoisers: known frames exact, batch-size invariance, determinism, golden sum."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ramvid.config import ModelConfig, RamvidConfig
from ramvid.diffusion import Schedule
from ramvid.masking import mask_from_indices
from ramvid.sampling import ddpm, generate
from ramvid.utils import make_generator

RES, FRAMES = 8, 6
CONFIG = RamvidConfig(name="test", frames=FRAMES,
                      model=ModelConfig(image_size=RES, model_channels=32, channel_mult=(1,),
                                        num_res_blocks=1, attention_resolutions=()))


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


def _known(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, FRAMES, RES, RES, 3), dtype=np.uint8)


def _gen(model: nn.Module, known: np.ndarray | None, cond: tuple[int, ...], **kw) -> np.ndarray:
    args = dict(steps=5, seed=3, batch_size=2, device="cpu", progress=False)
    args.update(kw)
    return generate(model, CONFIG, known, cond, **args)


def test_ddpm_known_frames_clean_before_every_step_and_exact_after() -> None:
    sched = Schedule.linear(100).respace(4)
    x_known = torch.rand(2, 3, FRAMES, RES, RES) * 2 - 1
    mask = mask_from_indices([0, 3], FRAMES, batch=2)
    calls: list[torch.Tensor] = []

    def spy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(x.clone())
        return torch.zeros_like(x)

    gens = [make_generator(0, i) for i in range(2)]
    out = ddpm(spy, sched, x_known, mask, gens, resample=2)
    assert len(calls) == 4 * 2  # R denoiser calls per step, the last step included (as official)
    for x in calls:  # the network always sees the clean known frames, never noised ones
        assert torch.equal(x[:, :, [0, 3]], x_known[:, :, [0, 3]])
    assert torch.equal(out[:, :, [0, 3]], x_known[:, :, [0, 3]])
    assert not torch.equal(out[:, :, 1], x_known[:, :, 1])


def test_ddpm_golden_sum() -> None:
    # Pinned once from this code: a whole 10-step loop with a fixed dummy denoiser.
    sched = Schedule.linear(1000).respace(10)
    x_known = torch.linspace(-1, 1, 2 * 3 * 4 * 4 * 4).reshape(2, 3, 4, 4, 4)
    mask = mask_from_indices([0], 4, batch=2)
    gens = [make_generator(123, i) for i in range(2)]
    out = ddpm(TinyDenoiser(), sched, x_known, mask, gens)
    # float32 arithmetic on 384 values: allow a few ulps of drift across CPUs / torch versions.
    assert out.double().sum().item() == pytest.approx(-6.166144013404846, abs=2e-4)
    assert out.double().abs().sum().item() == pytest.approx(245.84001, rel=2e-6)


def test_ddpm_with_analytic_denoiser_recovers_data_distribution() -> None:
    """Data iid N(0, s^2): the optimal eps is x_t sqrt(1-abar) / (abar s^2 + 1 - abar).

    Sampling with it on a respaced chain must give std ~ s: checks the timestep rescaling, the
    respaced betas and the posterior/large-variance maths together.
    """
    full, s = Schedule.linear(1000), 0.3

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # t arrives on the model scale: original index * 1000 / 1000 original steps.
        ab = torch.from_numpy(full.alphas_cumprod[t.round().long().numpy()]).float()
        ab = ab.view(-1, 1, 1, 1, 1)
        return x * (1 - ab).sqrt() / (ab * s**2 + 1 - ab)

    x_known = torch.zeros(4, 3, 4, 8, 8)
    out = ddpm(oracle, full.respace(250), x_known, mask_from_indices([], 4, batch=4),
               [make_generator(0, i) for i in range(4)])
    assert abs(out.std().item() - s) < 0.015 and abs(out.mean().item()) < 0.015  # 3072 values


def test_generate_known_frames_bit_exact_and_deterministic() -> None:
    model, known, cond = TinyDenoiser(), _known(3), (0, 2, 5)
    out = _gen(model, known, cond)
    assert out.dtype == np.uint8 and out.shape == known.shape
    assert np.array_equal(out[:, list(cond)], known[:, list(cond)])
    assert np.array_equal(out, _gen(model, known, cond))
    assert not np.array_equal(out, _gen(model, known, cond, seed=4))


def test_generate_batch_size_invariant() -> None:
    model, known = TinyDenoiser(), _known(3, seed=1)
    a = _gen(model, known, (1,), batch_size=1)
    b = _gen(model, known, (1,), batch_size=3)
    assert np.array_equal(a, b)
    # keys pick the generator: video 2 alone with keys=[(2,)] equals video 2 of the batch.
    c = _gen(model, known[2:], (1,), keys=[(2,)])
    assert np.array_equal(c[0], a[2])


def test_generate_unconditional_resample_and_other_lengths() -> None:
    model = TinyDenoiser()
    u = _gen(model, None, (), n=2)
    assert u.shape == (2, FRAMES, RES, RES, 3)
    r = _gen(model, _known(2), (0,), resample=2, steps=3)
    assert r.shape == (2, FRAMES, RES, RES, 3)
    assert not np.array_equal(r, _gen(model, _known(2), (0,), steps=3))
    long = _known(1)[:, [0, 1, 2, 3, 4, 5, 0, 1]]  # 8 frames though the config says 6: allowed
    out = _gen(model, long, (0, 7))
    assert out.shape[1] == 8 and np.array_equal(out[:, [0, 7]], long[:, [0, 7]])


@pytest.mark.parametrize("known,kw,match", [
    (_known(2).astype(np.float32), {}, "uint8"),
    (_known(2)[:, :, :, :, :2], {}, r"\[N, T, H, W, 3\]"),
    (_known(2)[0], {}, r"\[N, T, H, W, 3\]"),
    (_known(2), {"frames": 5}, "requested"),
    (np.zeros((2, FRAMES, 16, 16, 3), np.uint8), {}, "8x8"),
    (None, {}, "needs n"),
    (_known(2), {"keys": [(0,)]}, "key"),
    (_known(2), {"n": 3}, "n=3"),
])
def test_generate_rejects_bad_input(known, kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _gen(TinyDenoiser(), known, (0,) if known is not None else (), **kw)


def test_generate_rejects_bad_cond() -> None:
    for cond, match in [((0, 6), "outside"), ((1, 1), "repeated"), (tuple(range(FRAMES)), "at least one")]:
        with pytest.raises(ValueError, match=match):
            _gen(TinyDenoiser(), _known(1), cond)


# --- the `sample` command ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-describing checkpoint of a small real UNet3D (8x8, 6 frames)."""
    ckpt_mod = pytest.importorskip("ramvid.checkpoint")
    model_mod = pytest.importorskip("ramvid.model")
    torch.manual_seed(0)
    state = model_mod.build_model(CONFIG.model).state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "ckpt-0.pt"
    ckpt_mod.save_checkpoint(path, {"config": CONFIG.to_dict(), "step": 0, "model": state, "ema": state,
                                    "dataset": {"name": "shapes", "path": None}})
    return str(path)


def _cli(*args: str):
    from click.testing import CliRunner

    from benchmarks.cli import main

    return CliRunner().invoke(main, ["sample", *args])


def _npz(path, videos: np.ndarray) -> str:
    np.savez(path, videos=videos)
    return str(path)


def test_cli_infilling_multi_digit_cond(ckpt: str, tmp_path) -> None:
    known = np.random.default_rng(5).integers(0, 256, (2, 12, RES, RES, 3), dtype=np.uint8)
    out, gif = tmp_path / "s.npz", tmp_path / "g.gif"
    r = _cli("--ckpt", ckpt, "--cond", "0,11", "--input", _npz(tmp_path / "in.npz", known), "--steps", "2",
             "--out", str(out), "--gif", str(gif), "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        videos, cond = z["videos"], z["cond"]
    assert cond.tolist() == [0, 11]  # "0,11" is two frames, not the characters 0, 1, 1
    assert videos.shape == known.shape and videos.dtype == np.uint8
    assert np.array_equal(videos[:, [0, 11]], known[:, [0, 11]])
    assert gif.stat().st_size > 0


def test_cli_unconditional(ckpt: str, tmp_path) -> None:
    out = tmp_path / "u.npz"
    r = _cli("--ckpt", ckpt, "--cond", "", "--num", "2", "--steps", "2", "--out", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert z["videos"].shape == (2, FRAMES, RES, RES, 3) and z["cond"].size == 0


@pytest.mark.parametrize("cond,match", [
    ("0,99", "outside 0..5"), ("1,1", "repeated"), ("0,1,2,3,4,5", "at least one"), ("0;1", "not an integer"),
    ("a", "not an integer"), ("0,,1", "not an integer"),
])
def test_cli_bad_cond(ckpt: str, tmp_path, cond: str, match: str) -> None:
    r = _cli("--ckpt", ckpt, "--cond", cond, "--num", "1", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and match in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("videos,match", [
    (np.zeros((2, FRAMES, RES, RES, 3), np.float32), "uint8"),
    (np.zeros((2, FRAMES, RES, RES), np.uint8), "[N, T, H, W, 3]"),
    (np.zeros((2, FRAMES, 16, 16, 3), np.uint8), "16x16"),
])
def test_cli_bad_input(ckpt: str, tmp_path, videos: np.ndarray, match: str) -> None:
    r = _cli("--ckpt", ckpt, "--cond", "0", "--input", _npz(tmp_path / "in.npz", videos), "--steps", "1",
             "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and match in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_cli_input_too_short_and_missing(ckpt: str, tmp_path) -> None:
    known = np.zeros((1, FRAMES, RES, RES, 3), np.uint8)
    r = _cli("--ckpt", ckpt, "--cond", "0", "--input", _npz(tmp_path / "in.npz", known), "--num", "3",
             "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and "holds only 1" in r.output
    r = _cli("--ckpt", str(tmp_path / "nope.pt"), "--cond", "0", "--out", str(tmp_path / "x.npz"))
    assert r.exit_code != 0 and "no such" in r.output


def test_generate_batch_size_invariant_with_real_unet() -> None:
    model_mod = pytest.importorskip("ramvid.model")
    torch.manual_seed(0)
    model = model_mod.build_model(CONFIG.model)
    with torch.no_grad():  # leave the zero-initialised output conv behind: a non-trivial network
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    known = _known(2, seed=2)
    a = _gen(model, known, (0,), steps=2, batch_size=1)
    b = _gen(model, known, (0,), steps=2, batch_size=2)
    assert np.array_equal(a, b) and a[:, 1:].std() > 10


def test_cli_known_frames_from_dataset(ckpt: str, tmp_path) -> None:
    data = pytest.importorskip("ramvid.data")
    if not hasattr(data, "open_dataset"):
        pytest.skip("ramvid.data.open_dataset not available yet")
    out = tmp_path / "d.npz"
    r = _cli("--ckpt", ckpt, "--cond", "0,1", "--num", "2", "--steps", "1", "--out", str(out),
             "--device", "cpu")  # dataset recorded in the checkpoint: shapes
    assert r.exit_code == 0, r.output
    real = data.open_dataset("shapes", "test", frames=FRAMES, resolution=RES, seed=0).clips([0, 1])
    with np.load(out) as z:
        assert np.array_equal(z["videos"][:, [0, 1]], real[:, [0, 1]])
