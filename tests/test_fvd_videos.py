"""Video-set loading for FVD: .npy / .npz / .h5 / folders, streamed in batches."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from metrics.videos import load_video_set


def _videos(n: int = 5, t: int = 9) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, t, 16, 16, 3), dtype=np.uint8)


def _all(vs) -> np.ndarray:  # noqa: ANN001
    return np.concatenate(list(vs))


def test_npy_npz_h5_stream_in_batches(tmp_path) -> None:  # noqa: ANN001
    x = _videos()
    np.save(tmp_path / "a.npy", x)
    np.savez_compressed(tmp_path / "b.npz", videos=x, other=np.zeros(3))
    np.savez(tmp_path / "c.npz", x)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["test_videos"] = x
    cases = [("a.npy", None), ("b.npz", None), ("c.npz", None), ("d.h5", None), ("d.h5", "test_videos")]
    for name, key in cases:
        vs = load_video_set(tmp_path / name, key, batch_size=2)
        assert (len(vs), vs.frames) == (5, 9)
        batches = list(vs)
        assert [len(b) for b in batches] == [2, 2, 1]
        assert np.array_equal(np.concatenate(batches), x)
        assert np.array_equal(_all(vs), x)  # re-iterable: reads the file again
    vs = load_video_set(tmp_path / "a.npy", frames=9)
    assert _all(vs).shape == (5, 9, 16, 16, 3)


def test_folder_of_video_files(tmp_path) -> None:  # noqa: ANN001
    import av

    for i in range(3):
        with av.open(str(tmp_path / f"v{i}.mp4"), "w") as c:
            s = c.add_stream("mpeg4", rate=8)
            s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
            for t in range(10):
                frame = np.full((32, 32, 3), 15 * t + 40 * i, np.uint8)
                for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    vs = load_video_set(tmp_path, frames=9, batch_size=2)
    x = _all(vs)
    assert len(vs) == 3 and x.shape == (3, 9, 32, 32, 3) and x.dtype == np.uint8
    assert abs(float(x[1, 2].mean()) - 70) < 8  # lossy codec, but the content is there


def test_errors_are_one_line(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError):
        load_video_set(tmp_path / "absent.npy")
    np.save(tmp_path / "f.npy", _videos().astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        load_video_set(tmp_path / "f.npy")
    np.savez(tmp_path / "two.npz", a=_videos(), b=_videos())
    with pytest.raises(ValueError, match="--key"):
        load_video_set(tmp_path / "two.npz")
    np.save(tmp_path / "s.npy", _videos(t=9))
    with pytest.raises(ValueError, match="fewer than the 12"):
        load_video_set(tmp_path / "s.npy", frames=12)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="unsupported"):
        load_video_set(tmp_path / "x.txt")
