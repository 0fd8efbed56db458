"""`ramvid-bench fvd` reads prepared `ramvid-bench prepare` HDF5 files."""
from __future__ import annotations

import json

import h5py
import numpy as np
from click.testing import CliRunner

from benchmarks.cli import main
from ramvid.data import open_dataset
from ramvid.data.layout import SplitAppender, write_root


def test_fvd_on_prepared_file_equals_fvd_on_its_clips(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "prep.h5"
    with h5py.File(path, "w") as f:
        app = SplitAppender(f, "test", 16)
        for v, n in enumerate((12, 11, 13)):
            app.add(f"v{v}.mp4", -1, rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))
        app.close()
        write_root(f, resolution=16, dataset="videos", attrs={}, done_items=["v0.mp4", "v1.mp4", "v2.mp4"],
                   skipped=[])
    clips = open_dataset("hdf5", "test", frames=10, resolution=16, path=path).clips(range(3))
    np.savez(tmp_path / "same.npz", videos=clips)
    np.savez(tmp_path / "other.npz", videos=255 - clips)

    def fvd(other: str) -> dict:
        res = CliRunner().invoke(main, ["fvd", str(path), str(tmp_path / other), "--frames", "10",
                                        "--json", "--device", "cpu"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout.strip().splitlines()[-1])

    same = fvd("same.npz")
    assert same["n_real"] == 3 and same["frames"] == 10 and abs(same["fvd"]) < 1e-3
    assert fvd("other.npz")["fvd"] > 1.0

    res = CliRunner().invoke(main, ["fvd", str(path), str(tmp_path / "same.npz"), "--split", "train"])
    assert res.exit_code != 0 and "no split 'train'" in res.output
