"""Any method on a protocol: export the contexts, score samples or a callable, protocols from a file.

The equality tests use the real I3D on 4 clips of `shapes-prediction` (16 frames, 32x32): cheap.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import benchmarks
from benchmarks.cli import main

N = ["--num-videos", "4", "--batch-size", "4", "--quiet"]


def _copy_last(known: np.ndarray, cond) -> np.ndarray:
    """copy-last written from the exported contexts only (no package code)."""
    out = known.copy()
    for t in range(known.shape[1]):
        before = [c for c in cond if c <= t]
        out[:, t] = known[:, before[-1] if before else min(cond)]
    return out


@pytest.fixture()
def exported(tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(main, ["export", "shapes-prediction", "--num-videos", "4", "--out",
                                    str(tmp_path / "ctx.npz")])
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "ctx.npz") as z:
        return {k: z[k] for k in z.files}


def test_export_holds_what_a_method_may_see(exported):
    known, cond = exported["videos"], [int(c) for c in exported["cond"]]
    assert known.dtype == np.uint8 and known.shape == (4, 16, 32, 32, 3) and cond == [0, 1, 2, 3]
    assert not known[:, 4:].any() and known[:, :4].any()  # unknown frames zeroed, known ones kept
    assert exported["keys"].tolist() == [[v, 0] for v in range(4)]
    assert len(set(exported["seeds"].tolist())) == 4
    assert str(exported["protocol"]) == "shapes-prediction@2" and len(str(exported["clips_sha256"])) == 16
    assert json.loads(str(exported["protocol_json"]))["num_videos"] == 4


def test_samples_from_outside_equal_the_builtin_baseline(tmp_path, exported):
    np.save(tmp_path / "mine.npy", _copy_last(exported["videos"], [int(c) for c in exported["cond"]]))
    results = str(tmp_path / "runs.csv")
    ours = CliRunner().invoke(main, ["run", "shapes-prediction", "--samples", str(tmp_path / "mine.npy"),
                                     "--method-name", "my-copy", "--results", results, *N, "--json"])
    builtin = CliRunner().invoke(main, ["run", "shapes-prediction", "--baseline", "copy-last",
                                        "--results", results, *N, "--json"])
    assert ours.exit_code == 0 and builtin.exit_code == 0, ours.output + builtin.output
    a, b = json.loads(ours.output.splitlines()[-1]), json.loads(builtin.output.splitlines()[-1])
    assert a["fvd"] == b["fvd"] and a["method"] == "my-copy" and a["changed_context"] == 0
    table = CliRunner().invoke(main, ["table", "--table", "embedded", "--runs", results])
    assert "my-copy (external)" in table.output and "copy-last (baseline)" in table.output


def test_python_api_callable_equals_cli_samples(tmp_path, exported):
    seen = []

    def mine(known, cond, seeds):
        seen.append((known.copy(), cond, seeds))
        return _copy_last(known, cond)

    api = benchmarks.evaluate("shapes-prediction", generate=mine, num_videos=4, batch_size=4,
                              progress=False, out_dir=str(tmp_path / "api"))
    assert not np.concatenate([k for k, _, _ in seen])[:, 4:].any()  # the callable saw no future frame
    assert np.array_equal(np.concatenate([s for _, _, s in seen]), exported["seeds"])
    np.save(tmp_path / "mine.npy", _copy_last(exported["videos"], (0, 1, 2, 3)))
    cli = CliRunner().invoke(main, ["run", "shapes-prediction", "--samples", str(tmp_path / "mine.npy"),
                                    "--results", "", *N, "--json"])
    assert cli.exit_code == 0, cli.output
    assert api.value == json.loads(cli.output.splitlines()[-1])["fvd"] and api.n == 4
    arr = benchmarks.evaluate("shapes-prediction", samples=np.load(tmp_path / "mine.npy"), num_videos=4,
                              batch_size=4, progress=False, out_dir=str(tmp_path / "arr"))
    assert arr.value == api.value


def _per_key_folder(tmp: Path, videos: np.ndarray, skip: int | None = None) -> Path:
    folder = tmp / "per-key"
    folder.mkdir()
    for v, video in enumerate(videos):
        if v != skip:
            np.save(folder / f"v{v}_s0.npy", video)
    return folder


def test_per_key_files_and_keyed_arrays_in_any_order(tmp_path, exported):
    videos = _copy_last(exported["videos"], (0, 1, 2, 3))
    np.savez(tmp_path / "shuffled.npz", videos=videos[::-1], keys=exported["keys"][::-1])
    values = []
    for path in (_per_key_folder(tmp_path, videos), tmp_path / "shuffled.npz"):
        res = CliRunner().invoke(main, ["run", "shapes-prediction", "--samples", str(path), "--results", "",
                                        *N, "--json"])
        assert res.exit_code == 0, res.output
        values.append(json.loads(res.output.splitlines()[-1])["fvd"])
    assert values[0] == values[1]


def _bad(tmp: Path, exported: dict, case: str) -> Path:
    good = _copy_last(exported["videos"], (0, 1, 2, 3))
    if case == "count":
        np.save(tmp / "s.npy", good[:3])
    elif case == "frames":
        np.save(tmp / "s.npy", good[:, :12])
    elif case == "resolution":
        np.save(tmp / "s.npy", np.zeros((4, 16, 16, 16, 3), np.uint8))
    elif case == "float":
        np.save(tmp / "s.npy", good.astype(np.float32) / 255)
    elif case == "missing":
        return _per_key_folder(tmp, good, skip=2)
    elif case == "context":
        changed = good.copy()
        changed[1, 0] = 255 - changed[1, 0]
        np.save(tmp / "s.npy", changed)
    return tmp / "s.npy"


@pytest.mark.parametrize("case,pattern", [
    ("count", r"3 videos but the protocol scores 4 \(video, sample\) keys"),
    ("frames", r"videos are \[12, 32, 32, 3\] but the protocol needs \[T, H, W, 3\] = \[16, 32, 32, 3\]"),
    ("resolution", r"videos are \[16, 16, 16, 3\] but the protocol needs"),
    ("float", r"float32 videos"),
    ("missing", r"1 of 4 keys missing \(v2_s0\)"),
    ("context", r"the known frames \[0, 1, 2, 3\] of video 1 sample 0 differ from the context"),
])
def test_bad_samples_are_refused_in_one_line(tmp_path, exported, case, pattern):
    import re

    path = _bad(tmp_path, exported, case)
    res = CliRunner().invoke(main, ["run", "shapes-prediction", "--samples", str(path), "--results", "", *N])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert re.search(pattern, lines[-1]) and lines[-1].startswith("Error: "), res.output


def test_changed_context_can_be_recorded(tmp_path, exported):
    path = _bad(tmp_path, exported, "context")
    res = CliRunner().invoke(main, ["run", "shapes-prediction", "--samples", str(path), "--results", "",
                                    "--allow-changed-context", *N, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[-1])["changed_context"] == 1


LAB = """
[[protocol]]
name = "lab-shapes-prediction"
version = 1
dataset = "shapes"
split = "test"
resolution = 32
frames = 16
cond = [0, 1, 2, 3]
metric_frames = "all"
num_videos = 4
samples_per_video = 1
repeats = 1
metric = "fvd"
sampler = "ddim"
sampler_steps = 10
description = "a lab's own protocol"
"""


def test_protocols_from_a_file_are_listed_and_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    (tmp_path / "lab.toml").write_text(LAB)
    listed = CliRunner().invoke(main, ["protocols", "--protocols", str(tmp_path / "lab.toml"), "--format",
                                       "csv"])
    assert listed.exit_code == 0, listed.output
    row = [ln for ln in listed.output.splitlines() if ln.startswith("lab-shapes-prediction")]
    assert row and row[0].endswith(str(tmp_path / "lab.toml"))
    res = CliRunner().invoke(main, ["run", "lab-shapes-prediction", "--protocols", str(tmp_path / "lab.toml"),
                                    "--baseline", "copy-last", "--results", "", "--quiet"])
    assert res.exit_code == 0 and "lab-shapes-prediction@1 copy-last: FVD" in res.output, res.output


@pytest.mark.parametrize("edit,pattern", [
    (lambda t: t.replace("lab-shapes-prediction", "shapes-prediction"),
     r"protocol shapes-prediction@1 is registered twice \(built-in and .*lab\.toml\)"),
    (lambda t: t.replace('cond = [0, 1, 2, 3]', 'cond = [0, 1, 2, 3]\ncolour = "red"'),
     r"unknown fields \['colour'\]"),
    (lambda t: t.replace("frames = 16", "frames = 8"), r"I3D needs >= 9"),
    (lambda t: t.replace('metric = "fvd"', 'metric = "lpips"'), r"metric must be one of"),
    (lambda t: t.replace("version = 1", "version = 1\nversion = 2"), r"not valid TOML"),
    (lambda t: "", r"no \[\[protocol\]\] tables"),
])
def test_bad_protocol_files_are_refused(tmp_path, edit, pattern):
    import re

    (tmp_path / "lab.toml").write_text(edit(LAB))
    res = CliRunner().invoke(main, ["protocols", "--protocols", str(tmp_path / "lab.toml")])
    assert res.exit_code == 1 and re.search(pattern, res.output), res.output
    assert "lab.toml" in res.output


def test_to_videos_layouts_and_value_ranges():
    import torch

    x = np.random.default_rng(0).integers(0, 256, (2, 5, 8, 8, 3), dtype=np.uint8)
    assert np.array_equal(benchmarks.to_videos(torch.from_numpy(x).permute(0, 4, 1, 2, 3), "NCTHW"), x)
    assert np.array_equal(benchmarks.to_videos(x.transpose(0, 1, 4, 2, 3), "NTCHW"), x)
    assert np.array_equal(benchmarks.to_videos(x / 255.0, value_range=(0, 1)), x)
    assert np.array_equal(benchmarks.to_videos(x / 127.5 - 1, value_range=(-1, 1)), x)
    with pytest.raises(ValueError, match=r"pass value_range=\(0, 1\) or \(-1, 1\).*from \[-1, 1\]"):
        benchmarks.to_videos(x / 255.0)
    with pytest.raises(ValueError, match="layout 'NHWC'"):
        benchmarks.to_videos(x, "NHWC")
    with pytest.raises(ValueError, match="channels after reordering"):
        benchmarks.to_videos(x, "NCTHW")
