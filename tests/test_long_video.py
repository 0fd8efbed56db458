"""Long videos: the windows each scheme plans, given frames exact, batch-size independence, the CLI."""
from __future__ import annotations

import numpy as np
import pytest

from ramvid.long_video import SCHEMES, autoregressive_plan, generate_long, hierarchical_plan, make_plan


def test_autoregressive_plan_by_hand() -> None:
    plan = autoregressive_plan(64, 16, [0, 1, 2, 3], 4)
    assert [w[0] for w in plan] == [0, 12, 24, 36, 48]
    assert all(w == tuple(range(w[0], w[0] + 16)) for w in plan)
    assert [w[0] for w in autoregressive_plan(20, 16, [0], 4)] == [0, 4]  # the last window ends at the end
    assert [w[0] for w in autoregressive_plan(40, 16, [], 2)] == [0, 14, 24]


def test_hierarchical_plan_by_hand() -> None:
    plan = hierarchical_plan(64, 16, [0, 1, 2, 3], 4)
    assert plan[0] == (0, 1, 2, 3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58, 63)
    assert [w[0] for w in plan[1:]] == [0, 12, 25, 37, 48]  # keyframes 28, 53 count as known context
    assert hierarchical_plan(64, 16, [], 4)[0] == tuple(range(3, 64, 4))
    assert hierarchical_plan(32, 16, [0, 1, 2, 3, 4, 5], 2)[0][:3] == (4, 5, 7)  # the last 2 given lead


@pytest.mark.parametrize("args,match", [
    ((16, 16, [0], 4), "must exceed"), ((32, 16, [0], 16), "--context 16"), ((32, 16, [40], 4), "inside"),
    ((20, 16, list(range(12)), 4), "do not fit"),
])
def test_make_plan_rejects(args, match: str) -> None:
    scheme = "hierarchical" if match == "do not fit" else "autoregressive"
    with pytest.raises(ValueError, match=match):
        make_plan(scheme, *args)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_generate_long_given_frames_exact_and_batch_independent(scheme: str, sample_config, tiny_denoiser,
                                                                 make_known) -> None:
    known = np.concatenate([make_known(3, seed=1), make_known(3, seed=2)], axis=1)  # 12 frames
    cond = (0, 1, 2)
    kw = dict(total_frames=15, scheme=scheme, context=2, steps=3, seed=4, device="cpu", progress=False)
    one = generate_long(tiny_denoiser, sample_config, known, cond, batch_size=1, **kw)
    three = generate_long(tiny_denoiser, sample_config, known, cond, batch_size=3, **kw)
    assert one.shape == (3, 15, 8, 8, 3) and np.array_equal(one, three)
    assert np.array_equal(one[:, list(cond)], known[:, list(cond)])
    alone = generate_long(tiny_denoiser, sample_config, known[2:], cond, keys=[(2,)], **kw)
    assert np.array_equal(alone[0], one[2])
    assert one[:, 3:].std() > 1  # every frame was generated


def test_schemes_differ_and_unconditional_long(sample_config, tiny_denoiser, make_known) -> None:
    kw = dict(total_frames=14, context=3, steps=2, device="cpu", progress=False)
    known = make_known(1)
    a = generate_long(tiny_denoiser, sample_config, known, (0,), scheme="autoregressive", **kw)
    b = generate_long(tiny_denoiser, sample_config, known, (0,), scheme="hierarchical", **kw)
    assert not np.array_equal(a, b) and np.array_equal(a[:, 0], b[:, 0])
    u = generate_long(tiny_denoiser, sample_config, None, (), n=2, **kw)
    assert u.shape == (2, 14, 8, 8, 3)
    with pytest.raises(ValueError, match="give n"):
        generate_long(tiny_denoiser, sample_config, None, (0,), **kw)


def test_cli_sample_total_frames(ckpt: str, tmp_path, sample_cli, make_known, write_npz) -> None:
    out = tmp_path / "long.npz"
    known = write_npz(tmp_path / "k.npz", make_known(2))
    r = sample_cli("--ckpt", ckpt, "--cond", "0,1", "--input", known, "--total-frames", "10", "--scheme",
                   "hierarchical", "--context", "2", "--steps", "2", "--sampler", "ddim", "--out", str(out),
                   "--gif", str(tmp_path / "l.gif"), "--device", "cpu", "--quiet")
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert z["videos"].shape == (2, 10, 8, 8, 3)
        assert np.array_equal(z["videos"][:, :2], make_known(2)[:, :2])
    r = sample_cli("--ckpt", ckpt, "--cond", "0", "--num", "1", "--scheme", "hierarchical", "--out", str(out))
    assert r.exit_code == 1 and "--total-frames" in r.output
