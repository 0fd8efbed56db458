"""prepare videos / ucf101 / kinetics on tiny PyAV-encoded files, including every bad-file case."""
from __future__ import annotations

import json
import re

import av
import h5py
import numpy as np
import pytest

import ramvid.data.pipeline as pipeline
from ramvid.data import open_dataset
from ramvid.data.prepare import prepare_kinetics, prepare_ucf101, prepare_videos

CODECS = {".mp4": "libx264", ".avi": "mpeg4", ".webm": "libvpx"}


def encode(path, n=20, w=32, h=32, codec=None, options=None):
    """Frame t is uniform grey 20 + 8 t (survives lossy coding); wide frames get red/blue side bars."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format={".avi": "avi", ".webm": "webm"}.get(path.suffix, "mp4"),
                 options=options or {}) as c:
        s = c.add_stream(codec or CODECS.get(path.suffix, "libx264"), rate=10)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for t in range(n):
            img = np.full((h, w, 3), 20 + 8 * t, np.uint8)
            img[:, : (w - h) // 2] = (255, 0, 0)
            img[:, w - (w - h) // 2:] = (0, 0, 255)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def encode_audio_only(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def truncate(path, frac):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * frac)])
    return path


EXPECTED_SKIPS = {
    "b/audio.mp4": r"no video stream$",
    "b/empty.mp4": r"empty file \(0 bytes\)$",
    "b/fake.mp4": r"cannot open: Invalid data found when processing input",
    "b/notes.txt": r"not a video: extension '\.txt'$",
    "b/short.mp4": r"too short: 5 frames < min_frames 16$",
    "b/trunc.mp4": r"truncated or corrupt after \d+ frames: ",
    "b/trunc.webm": r"truncated or corrupt after \d+ frames: File ended prematurely$",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for name in ("a/clip.mp4", "a/clip.avi", "b/clip.webm"):
        encode(root / name)
    encode(root / "a/wide.mp4", w=48)  # centre crop must drop the side bars
    encode(root / "a/renamed.avi", codec="libx264").rename(root / "a/mp4-data.avi")  # wrong extension
    encode(root / "b/short.mp4", n=5)
    encode_audio_only(root / "b/audio.mp4")
    (root / "b/empty.mp4").write_bytes(b"")
    (root / "b/fake.mp4").write_text("not a video")
    (root / "b/notes.txt").write_text("hello")
    truncate(encode(root / "b/trunc.mp4", n=30, options={"movflags": "faststart"}), 0.6)
    truncate(encode(root / "b/trunc.webm", n=20), 0.5)
    return root


def test_every_file_reaches_frames_or_its_skip_reason(folder, tmp_path):
    out = tmp_path / "x.h5"
    report = prepare_videos(folder, out, resolution=16, workers=0, progress=False)
    skipped = {s["item"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == set(EXPECTED_SKIPS)
    for item, reason in EXPECTED_SKIPS.items():
        assert re.match(reason, skipped[item]), (item, skipped[item])
    assert json.loads((tmp_path / "x.report.json").read_text())["skipped_count"] == len(EXPECTED_SKIPS)
    src = open_dataset("hdf5", "train", frames=16, resolution=16, path=out)
    assert src.names == ["a/clip.avi", "a/clip.mp4", "a/mp4-data.avi", "a/wide.mp4", "b/clip.webm"]
    assert list(src.lengths) == [20] * 5  # webm's header says 0 frames: decoded to the end anyway
    assert list(src.labels) == [0, 0, 0, 0, 1] and src.attrs["classes"] == ["a", "b"]
    for i in range(len(src)):
        x = src.clip(i).astype(float)
        np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 20 + 8 * np.arange(16), atol=4)
        # Grey: the red/blue bars were cropped away (they would give ~250; chroma bleed and the
        # Lanczos support reaching just past the crop give < 30 at the edges).
        assert np.abs(x[..., 0] - x[..., 2]).max() < 40


def test_resume_skips_done_files_and_interrupts_leave_valid_files(folder, tmp_path, monkeypatch):
    out = tmp_path / "y.h5"
    real, calls = pipeline.process_item, []

    def flaky(item, **kw):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(item.key)
        return real(item, **kw)

    monkeypatch.setattr(pipeline, "process_item", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare_videos(folder, out, resolution=16, workers=0, shard_mb=0, progress=False)
    assert not out.exists() and len(list((tmp_path / "y.h5.parts").glob("*.h5"))) == 3  # committed shards
    monkeypatch.setattr(pipeline, "process_item", real)
    report = prepare_videos(folder, out, resolution=16, workers=0, progress=False)
    assert report["this_run"]["items_processed"] == 5 + len(EXPECTED_SKIPS) - 3 and report["videos"] == 5
    assert not (tmp_path / "y.h5.parts").exists()

    again = prepare_videos(folder, out, resolution=16, workers=0, progress=False)
    assert again["this_run"]["items_processed"] == 0 and again["videos"] == 5
    retry = prepare_videos(folder, out, resolution=16, workers=0, progress=False, retry_skipped=True)
    n_bad = len(EXPECTED_SKIPS)
    assert retry["this_run"]["items_processed"] == n_bad and retry["skipped_count"] == n_bad
    with pytest.raises(ValueError, match="resolution 16, not 32"):
        prepare_videos(folder, out, resolution=32, workers=0, progress=False)


def test_two_workers_give_the_same_file(folder, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    prepare_videos(folder, a, resolution=16, workers=0, progress=False)
    prepare_videos(folder, b, resolution=16, workers=2, progress=False)
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        np.testing.assert_array_equal(fa["train/frames"][()], fb["train/frames"][()])
        assert list(fa["train/names"][()]) == list(fb["train/names"][()])


def test_ucf101_fold_lists(tmp_path):
    src, lists = tmp_path / "UCF-101", tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n")
    (lists / "trainlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                                           "HandstandPushups/v_HandStandPushups_g08_c01.avi 2\n")
    (lists / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n"
                                          "HandstandPushups/v_HandStandPushups_g01_c01.avi\n")
    encode(src / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")
    encode(src / "HandStandPushups/v_HandStandPushups_g08_c01.avi")  # folder case differs from the list
    encode(src / "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi")
    report = prepare_ucf101(src, lists, tmp_path / "ucf.h5", fold=1, resolution=16, workers=0, progress=False)
    assert report["splits"]["train"]["videos"] == 2 and report["splits"]["test"]["videos"] == 1
    assert report["skipped"][0]["reason"] == "missing: listed in testlist01.txt"
    train = open_dataset("ucf101", "train", frames=16, resolution=16, path=tmp_path / "ucf.h5")
    assert list(train.labels) == [0, 1]


def test_kinetics_annotation_csv(tmp_path):
    src = tmp_path / "kinetics600"
    encode(src / "x" / "abcdefghijk_000010_000020.mp4")
    encode(src / "x" / "ABCDEFGHIJK_000000_000010.mp4")
    encode(src / "x" / "zzzzzzzzzzz_000001_000011.mp4")
    csv = tmp_path / "annotations.csv"
    csv.write_text("label,youtube_id,time_start,time_end,split\n"
                   "riding camel,abcdefghijk,10,20,train\nabseiling,ABCDEFGHIJK,0,10,validate\n")
    report = prepare_kinetics(src, tmp_path / "k.h5", annotations=[csv], resolution=16, workers=0,
                              progress=False)
    assert set(report["splits"]) == {"train", "val"}
    assert report["skipped"] == [{"item": "x/zzzzzzzzzzz_000001_000011.mp4",
                                  "reason": "not in the annotation CSVs"}]
    val = open_dataset("kinetics", "val", frames=16, resolution=16, path=tmp_path / "k.h5")
    assert list(val.labels) == [0] and val.attrs["classes"] == ["abseiling", "riding camel"]


def test_file_names_that_are_not_utf8_are_skipped_and_reported(tmp_path):
    import os

    src = tmp_path / "src"
    encode(src / "a/good.mp4")
    encode(src / "a/bad.mp4")
    os.rename(os.fsencode(src / "a/bad.mp4"), os.fsencode(src / "a") + b"/bad\xffname.mp4")
    os.mkdir(os.fsencode(src) + b"/cl\xfe")  # a class folder with a bad name, too
    encode(src / "c.mp4")
    os.rename(os.fsencode(src / "c.mp4"), os.fsencode(src) + b"/cl\xfe/c.mp4")
    report = prepare_videos(src, tmp_path / "u.h5", resolution=16, workers=0, progress=False)
    assert report["videos"] == 1
    reason = "undecodable file name: not UTF-8; rename the file"
    assert report["skipped"] == [{"item": r"a/bad\xffname.mp4", "reason": reason},
                                 {"item": r"cl\xfe/c.mp4", "reason": reason}]
    prepared = open_dataset("hdf5", "train", frames=16, resolution=16, path=tmp_path / "u.h5")
    assert prepared.names == ["a/good.mp4"] and prepared.attrs["classes"] == ["a"]


@pytest.mark.parametrize("existing", [b"my notes", b"", b"\x89HDF\r\n\x1a\n not really"],
                         ids=["text", "empty", "fake-hdf5"])
def test_out_that_is_another_file_is_refused_untouched(folder, tmp_path, existing):
    out = tmp_path / "notes.h5"
    out.write_bytes(existing)
    with pytest.raises(ValueError, match=r"--out .*notes\.h5: exists and is not a prepared ramvid-videos"):
        prepare_videos(folder, out, resolution=16, workers=0, progress=False)
    assert out.read_bytes() == existing
    with h5py.File(tmp_path / "other.h5", "w") as f:  # a real HDF5 file, but not ours
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"other\.h5: exists and is not a prepared"):
        prepare_videos(folder, tmp_path / "other.h5", resolution=16, workers=0, progress=False)
    with pytest.raises(ValueError, match="is a folder"):
        prepare_videos(folder, tmp_path, resolution=16, workers=0, progress=False)
