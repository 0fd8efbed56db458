"""Baselines on synthetic clips: exact frame copies and linear blends."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.baselines import copy_last, fill, interpolate


def ramp(n: int = 2, t: int = 9) -> np.ndarray:
    """uint8 [n, t, 4, 4, 3] whose frame k of video v is the constant 10*k + v."""
    vals = (10 * np.arange(t)[None, :] + np.arange(n)[:, None]).astype(np.uint8)
    return np.broadcast_to(vals[:, :, None, None, None], (n, t, 4, 4, 3)).copy()


def frame_values(v: np.ndarray) -> list[int]:
    return [int(x) for x in v[0, :, 0, 0, 0]]


def test_copy_last_repeats_previous_known_frame():
    out = copy_last(ramp(), (0, 4))
    assert frame_values(out) == [0, 0, 0, 0, 40, 40, 40, 40, 40]
    assert out[1, 3, 0, 0, 0] == 1  # per video


def test_copy_last_uses_next_known_when_none_precedes():
    assert frame_values(copy_last(ramp(), (3,))) == [30, 30, 30, 30, 30, 30, 30, 30, 30]


def test_interpolate_blends_linearly_and_copies_at_ends():
    out = interpolate(ramp(), (0, 4, 6))
    # between 0 and 40: exact line; after the last known frame (60): a copy
    assert frame_values(out) == [0, 10, 20, 30, 40, 50, 60, 60, 60]
    x = ramp(1, 3)
    x[:, 2] = 255
    assert frame_values(interpolate(x, (0, 2)))[1] == 128  # (0 + 255) / 2 = 127.5 rounds half up


def test_known_frames_exact_and_dtype():
    clips = np.random.default_rng(0).integers(0, 256, (3, 10, 8, 8, 3), dtype=np.uint8)
    for name in ("copy-last", "interpolate"):
        out = fill(name, clips, (0, 5, 9))
        assert out.dtype == np.uint8 and out.shape == clips.shape
        assert np.array_equal(out[:, [0, 5, 9]], clips[:, [0, 5, 9]])


def test_unconditional_and_unknown_names_fail_clearly():
    with pytest.raises(ValueError, match="needs known frames"):
        copy_last(ramp(), ())
    with pytest.raises(ValueError, match="unknown baseline"):
        fill("nearest", ramp(), (0,))
