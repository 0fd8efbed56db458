"""prepare bair: TFRecords with real framing/CRCs and VideoGPT's bair.hdf5 -> our layout -> loader."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from ramvid.data import open_dataset
from ramvid.data.prepare import prepare_bair

T = 30


def _seq(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (T, 64, 64, 3), dtype=np.uint8),
            rng.integers(0, 256, (T, 64, 64, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def softmotion(tmp_path_factory, write_tfrecord, bair_example, frame_record):
    root = tmp_path_factory.mktemp("softmotion30_44k")
    seqs = {k: _seq(k) for k in range(5)}
    write_tfrecord(root / "test" / "traj_0_to_1.tfrecords", [bair_example(*seqs[0]), bair_example(*seqs[1])])
    write_tfrecord(root / "train" / "traj_0_to_1.tfrecords", [bair_example(*seqs[2]), bair_example(*seqs[3])])
    good, bad = frame_record(bair_example(*seqs[4])), bytearray(frame_record(bair_example(*seqs[4])))
    bad[-10] ^= 0xFF  # corrupt the payload of the first record of a second train file
    (root / "train" / "traj_2_to_3.tfrecords").write_bytes(bytes(bad) + good)
    return root, seqs


def test_tfrecords_to_h5_all_frames_and_crc(softmotion, tmp_path):
    root, seqs = softmotion
    out = tmp_path / "bair64.h5"
    report = prepare_bair(root, out, workers=0, progress=False)
    assert report["splits"]["test"]["videos"] == 2 and report["splits"]["train"]["videos"] == 3
    bad = "train/traj_2_to_3.tfrecords"
    assert report["skipped"] == [{"item": bad, "reason": f"corrupt record {bad}#0000: payload CRC mismatch"}]
    assert json.loads((tmp_path / "bair64.report.json").read_text())["skipped_count"] == 1
    with h5py.File(out, "r") as f:
        names = [n.decode() for n in f["test/names"][()]]
        assert names == ["test/traj_0_to_1.tfrecords#0000", "test/traj_0_to_1.tfrecords#0001"]
        assert f["test/frames"].dtype == np.uint8 and f["test/frames"].shape == (2 * T, 64, 64, 3)
        np.testing.assert_array_equal(f["test/lengths"][()], [T, T])
        np.testing.assert_array_equal(f["test/frames"][T:], seqs[1][0])  # aux1 view, every frame
    src = open_dataset("bair", "test", frames=16, resolution=64, path=out)
    assert len(src) == 2
    np.testing.assert_array_equal(src.clip(1), seqs[1][0][:16])
    in_folder = open_dataset("bair", "test", frames=T, resolution=64, path=tmp_path)  # finds bair64.h5
    np.testing.assert_array_equal(in_folder.clip(0), seqs[0][0])


def test_main_view_and_resolution(softmotion, tmp_path):
    root, seqs = softmotion
    out = tmp_path / "main32.h5"
    prepare_bair(root, out, view="main", resolution=32, workers=0, progress=False)
    with h5py.File(out, "r") as f:
        x = f["test/frames"][:T]
    assert x.shape == (T, 32, 32, 3)
    ref = seqs[0][1].reshape(T, 32, 2, 32, 2, 3).mean(axis=(2, 4))  # the main view, downscaled
    assert np.abs(x.astype(float) - ref).mean() < np.abs(x.astype(float) - 127.5).mean()


def test_videogpt_hdf5_layout(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (3 * T, 64, 64, 3), dtype=np.uint8)
    src = tmp_path / "bair.hdf5"
    with h5py.File(src, "w") as f:
        f["train_data"], f["train_idx"] = data[: 2 * T], np.array([0, T])
        f["test_data"], f["test_idx"] = data[2 * T:], np.array([0])
    out = tmp_path / "bair64.h5"
    args = ["prepare", "bair", "--src", str(src), "--out", str(out), "--quiet"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "train: 2 videos" in result.output
    train = open_dataset("bair", "train", frames=T, resolution=64, path=out)
    np.testing.assert_array_equal(train.clip(1), data[T: 2 * T])
    np.testing.assert_array_equal(open_dataset("bair", "test", frames=T, resolution=64, path=out).clip(0),
                                  data[2 * T:])


def test_cli_missing_src_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["prepare", "bair", "--src", str(empty), "--out", str(tmp_path / "x.h5")]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code != 0 and "no <split>/*.tfrecords" in result.output


def _cli():
    from benchmarks.cli import main

    return main
