"""Pictures for people: labelled grids mark known frames green in every row, generated frames red only
in generated rows (never on the real row), and the writers give GIF, MP4 and WebP by suffix."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ramvid.video import (
    GENERATED_COLOUR,
    KNOWN_COLOUR,
    REAL_COLOUR,
    check_video_path,
    filmstrip,
    grid_frames,
    write_gif,
    write_mp4,
    write_video,
)

REAL, FAKE = (10, 20, 30), (200, 210, 220)  # flat tiles, so each tile can be found by its colour


def _flat(colour: tuple[int, int, int], n: int = 2, t: int = 5, size: int = 6) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.uint8), (n, t, size, size, 3)).copy()


def _ring_colours(image: np.ndarray, tile: tuple[int, int, int]) -> list[tuple[int, ...]]:
    """The border colour just left of every tile of colour ``tile`` (tiles found as runs of columns)."""
    ys, xs = np.nonzero((image == tile).all(axis=-1))
    row = ys.min()
    cols = np.nonzero((image[row] == tile).all(axis=-1))[0]
    starts = [c for c in cols if c - 1 not in set(cols)]
    return [tuple(int(v) for v in image[row, c - 1]) for c in starts]


def test_grid_marks_known_everywhere_and_generated_only_on_generated_rows():
    frames = grid_frames([_flat(REAL), _flat(FAKE)], known=(0, 1))
    assert frames.dtype == np.uint8 and frames.ndim == 4 and len(frames) == 5
    for t in range(5):
        real, fake = _ring_colours(frames[t], REAL), _ring_colours(frames[t], FAKE)
        assert len(real) == len(fake) == 2  # one tile per video
        if t < 2:
            assert set(real) == set(fake) == {KNOWN_COLOUR}
        else:
            assert set(real) == {REAL_COLOUR}  # the real row is never marked generated
            assert set(fake) == {GENERATED_COLOUR}


def test_grid_has_labels_header_and_legend():
    frames = grid_frames([_flat(REAL), _flat(FAKE)], known=(0,))
    ys, xs = np.nonzero((frames[0] == REAL).all(axis=-1))
    label_area = frames[0, ys.min():ys.max() + 1, :xs.min() - 3]
    assert (label_area.max(axis=-1) < 100).any()  # dark text beside the real row: its label
    header = frames[:, :ys.min() - 3]
    assert (header[1] != header[2]).any()  # each frame's header names it ("frame 1: ...", "frame 2: ...")
    legend = frames[0, ys.max() + 30:]
    assert (legend == KNOWN_COLOUR).all(axis=-1).any() and (legend == GENERATED_COLOUR).all(axis=-1).any()
    with pytest.raises(ValueError, match="2 labels for 1 rows"):
        grid_frames([_flat(FAKE)], labels=("a", "b"))


def test_single_row_is_generated():
    frames = grid_frames([_flat(FAKE)], known=(0,))
    assert set(_ring_colours(frames[3], FAKE)) == {GENERATED_COLOUR}


def test_filmstrip_marks_each_frame():
    strip = filmstrip([[("real 0", _flat(REAL)[0], False), ("generated 0", _flat(FAKE)[0], True)]],
                      known=(0, 4), scored=(1, 2, 3))
    assert strip.ndim == 3 and strip.dtype == np.uint8
    assert _ring_colours(strip, REAL) == [KNOWN_COLOUR, REAL_COLOUR, REAL_COLOUR, REAL_COLOUR, KNOWN_COLOUR]
    assert _ring_colours(strip, FAKE) == [KNOWN_COLOUR, *[GENERATED_COLOUR] * 3, KNOWN_COLOUR]
    with pytest.raises(ValueError, match="at least one row"):
        filmstrip([])


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_writers_by_suffix(tmp_path, suffix):
    frames = grid_frames([_flat(REAL), _flat(FAKE)], known=(0,))
    path = write_gif(tmp_path / f"g{suffix}", frames, fps=5)  # the old name dispatches on the suffix
    assert path.stat().st_size > 0
    if suffix == ".mp4":
        import av

        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            assert stream.codec_context.name in ("h264", "mpeg4") and float(stream.average_rate) == 5
        assert len(decoded) == len(frames)
        h, w = frames.shape[1:3]
        assert decoded[0].shape == (h + h % 2, w + w % 2, 3)  # yuv420p: odd sides padded
        assert np.abs(decoded[2][:h, :w].astype(int) - frames[2]).mean() < 6
    else:
        with Image.open(path) as im:
            im.seek(1)
            im.load()  # WebP reports a frame's duration once that frame is read
            assert im.n_frames == len(frames) and im.info["duration"] == 200
            assert im.size == (frames.shape[2], frames.shape[1])


def test_write_mp4_and_scale(tmp_path):
    frames = np.zeros((3, 7, 9, 3), np.uint8)
    path = write_mp4(tmp_path / "x.mp4", frames, fps=2.5, scale=2)
    import av

    with av.open(str(path)) as c:
        assert (c.streams.video[0].height, c.streams.video[0].width) == (14, 18)
        assert sum(1 for _ in c.decode(video=0)) == 3
    with pytest.raises(ValueError, match=r"\.mp4"):
        write_mp4(tmp_path / "x.gif", frames)


def test_bad_paths_and_frames_are_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"--gif out\.avi: unknown video type.*\.gif, \.mp4, \.webp"):
        check_video_path("out.avi")
    with pytest.raises(ValueError, match="uint8 frames"):
        write_video(tmp_path / "a.gif", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "a.gif", np.zeros((2, 4, 4, 3), np.uint8), fps=0)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_sample_refuses_an_unknown_suffix_before_any_work():
    from ramvid.sample_job import SampleSpec

    with pytest.raises(ValueError, match="--gif g.avi: unknown video type"):
        SampleSpec(ckpt="absent.pt", cond=(0,), out="s.npz", gif="g.avi")
    assert SampleSpec(ckpt="absent.pt", cond=(0,), out="s.npz", gif="g.mp4").gif == "g.mp4"


def test_run_grid_as_mp4(tmp_path):
    import av

    from benchmarks.baselines import fill
    from benchmarks.protocols import get_protocol
    from benchmarks.runner import write_run_gif
    from benchmarks.shards import ShardStore
    from ramvid.data import open_dataset

    p = get_protocol("shapes-prediction").replace(num_videos=2)
    source = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution)
    store = ShardStore(tmp_path / "work", {"protocol": p.to_dict(), "method": {"baseline": "copy-last"}})
    store.write(fill("copy-last", source.clips(range(2)), p.cond), [(0, 0), (1, 0)])
    path = write_run_gif(tmp_path / "grid.mp4", p, source, store)
    with av.open(str(path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == p.frames
