"""Loading prepared files: training windows (every start, last included) and deterministic eval clips."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from ramvid.data import open_dataset
from ramvid.data.layout import SplitAppender, write_root
from ramvid.utils import make_generator


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Videos of 20, 10 and 17 frames whose frame t of video v is filled with 10*v + t."""
    path = tmp_path_factory.mktemp("h5") / "x.h5"
    with h5py.File(path, "w") as f:
        app = SplitAppender(f, "test", 8)
        for v, n in enumerate((20, 10, 17)):
            app.add(f"v{v}.mp4", v, np.broadcast_to((10 * v + np.arange(n))[:, None, None, None],
                                                    (n, 8, 8, 3)).astype(np.uint8))
        app.close()
        write_root(f, resolution=8, dataset="videos", attrs={"classes": ["a", "b", "c"]},
                   done_items=["v0.mp4", "v1.mp4", "v2.mp4"], skipped=[])
    return path


def _starts(x: np.ndarray) -> tuple[int, int]:
    """(video, start) encoded in the first frame's value."""
    return divmod(int(x[0, 0, 0, 0]), 10)


def test_eval_clips_skip_short_videos_and_follow_the_rule(prepared):
    src = open_dataset("hdf5", "test", frames=16, resolution=8, path=prepared)
    assert len(src) == 2 and src.names == ["v0.mp4", "v2.mp4"]  # the 10-frame video cannot hold 16
    assert src.clips([0, 1]).shape == (2, 16, 8, 8, 3)
    assert int(src.clip(1)[0, 0, 0, 0]) == 20
    for rule, expect in (("first", (0, 20)), ("center", (2, 20)), ("last", (4, 21)), (3, (3, 21))):
        s = open_dataset("hdf5", "test", frames=16, resolution=8, path=prepared, eval_start=rule)
        assert int(s.clip(0)[0, 0, 0, 0]) == expect[0] and int(s.clip(1)[0, 0, 0, 0]) == expect[1]
    x = src.clip(0)
    np.testing.assert_array_equal(x[:, 0, 0, 0], np.arange(16))  # consecutive frames


def test_random_windows_reach_every_start_including_last(prepared):
    src = open_dataset("hdf5", "test", frames=16, resolution=8, path=prepared)
    g = make_generator(0)
    seen = {_starts(src.random_clip(g)) for _ in range(300)}
    assert seen == {(0, s) for s in range(5)} | {(2, s) for s in range(2)}
    a = [src.random_clip(make_generator(7)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])


def test_resize_on_the_fly_and_errors(prepared, tmp_path):
    big = open_dataset("hdf5", "test", frames=4, resolution=16, path=prepared)
    assert big.clip(0).shape == (4, 16, 16, 3)
    with pytest.raises(ValueError, match="no split 'train'; it has test"):
        open_dataset("hdf5", "train", frames=4, resolution=8, path=prepared)
    with pytest.raises(ValueError, match="no video has 21 frames"):
        open_dataset("hdf5", "test", frames=21, resolution=8, path=prepared)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a prepared ramvid-videos file"):
        open_dataset("hdf5", "test", frames=4, resolution=8, path=tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError, match="prepare videos"):
        open_dataset("hdf5", "test", frames=4, resolution=8, path=tmp_path / "missing.h5")


def test_picklable_for_dataloader_workers(prepared):
    import pickle

    src = open_dataset("hdf5", "test", frames=4, resolution=8, path=prepared)
    src.clip(0)  # opens the file handle
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(clone.clip(1), src.clip(1))
