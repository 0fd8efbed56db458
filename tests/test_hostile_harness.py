"""Hostile and mistaken input to the harness commands (run, table, check): one line, exit 1, nothing lost.

Each case builds its bad input in ``tmp_path`` and gives the expected message. The runs are the
cheap end-to-end shape of tests/test_runner.py (copy-last, 4 clips of 10 frames, real I3D).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.cli import main
from benchmarks.runner import RunSpec, run
from benchmarks.shards import ShardStore

SMALL = ["--num-videos", "4", "--batch-size", "2", "--quiet"]


def _one_line_error(res, pattern: str) -> None:
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("Error: "), res.output
    import re

    assert re.search(pattern, lines[-1]), lines[-1]


def _binary(tmp: Path) -> list[str]:
    (tmp / "r.csv").write_bytes(bytes(range(256)) * 4)
    return ["--results", str(tmp / "r.csv")]


def _folder(tmp: Path) -> list[str]:
    (tmp / "r.csv").mkdir()
    return ["--results", str(tmp / "r.csv")]


def _foreign_csv(tmp: Path) -> list[str]:
    (tmp / "r.csv").write_text("name,age\nann,3\n")
    return ["--results", str(tmp / "r.csv")]


CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("batch size 0", lambda t: ["--batch-size", "0"], r"--batch-size must be >= 1, got 0"),
    ("batch size -1", lambda t: ["--batch-size", "-1"], r"--batch-size must be >= 1, got -1"),
    ("no videos", lambda t: ["--num-videos", "0"], r"--num-videos must be >= 1"),
    ("unknown sampler steps", lambda t: ["--sampler-steps", "0"], r"--sampler-steps must be >= 1"),
    ("results is a folder", _folder, r"--results .*r\.csv is a folder"),
    ("results is binary", _binary, r"--results .*r\.csv is not a readable CSV"),
    ("results is another CSV", _foreign_csv, r"without a 'protocol' column"),
]


@pytest.mark.parametrize("name,build,pattern", CASES, ids=[c[0] for c in CASES])
def test_run_refuses_in_one_line(tmp_path: Path, name: str, build, pattern: str) -> None:
    args = ["run", "shapes-prediction", "--baseline", "copy-last", "--results", str(tmp_path / "ok.csv"),
            "--out-dir", str(tmp_path / "work"), *build(tmp_path)]
    res = CliRunner().invoke(main, args)
    _one_line_error(res, pattern)
    assert not list(tmp_path.glob("work/shard-*"))  # refused before any work


def _spec(tmp_path: Path, **kw) -> RunSpec:
    return RunSpec(protocol="shapes-prediction", baseline="copy-last", num_videos=4, batch_size=2,
                   overrides={"frames": 10}, progress=False, results=str(tmp_path / "runs.csv"),
                   out_dir=str(tmp_path / "work"), **kw)


def test_a_second_writer_of_a_work_dir_is_refused(tmp_path: Path) -> None:
    spec = _spec(tmp_path, stop_after_shards=0)
    from benchmarks.runner import Interrupted

    with pytest.raises(Interrupted):
        run(spec)  # creates the work dir and its manifest
    manifest = json.loads((tmp_path / "work" / "manifest.json").read_text())
    with ShardStore(tmp_path / "work", manifest).writing("0of1-r0of1"):  # another run holds it
        with pytest.raises(ValueError, match="is being written by another run"):
            run(dataclasses.replace(spec, stop_after_shards=None))
    assert not (tmp_path / "runs.csv").exists()


def test_repeated_keys_are_never_scored(tmp_path: Path, monkeypatch) -> None:
    """Two runs that once shared a folder leave repeated keys: refuse instead of a wrong FVD."""
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    spec = _spec(tmp_path)
    first = run(spec)
    store_dir = tmp_path / "work"
    manifest = json.loads((store_dir / "manifest.json").read_text())
    store = ShardStore(store_dir, manifest)
    with np.load(store.shards()[0]) as z:  # the same keys again, first key different: a new file
        store.write(z["videos"][::-1], [tuple(k) for k in z["keys"][::-1]])
    repeated = r"video \d sample 0 is in both shard-00000-v\d+\.npz and shard-00000-v\d+\.npz"
    with pytest.raises(ValueError, match=repeated):
        run(spec)
    # a shard with keys outside the workload is refused too
    for p in store.shards()[1:]:
        p.unlink()
    with np.load(store.shards()[0]) as z:
        store.write(z["videos"][:1], [(99, 0)])
    with pytest.raises(ValueError, match="outside this run's workload"):
        run(spec)
    assert np.isfinite(first.value)


def test_a_row_that_cannot_be_written_still_prints_the_value(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    import benchmarks.runner as runner

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "append_row", disk_full)
    args = ["run", "shapes-prediction", "--baseline", "copy-last", *SMALL, "--results",
            str(tmp_path / "runs.csv"), "--out-dir", str(tmp_path / "work")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert "FVD " in res.output  # the computed number is printed before the error
    assert "could not append the row to" in res.output and "No space left" in res.output


def _runs_csv(tmp: Path, body: str) -> str:
    header = "date,protocol,version,method,metric,value,std,num_videos,samples_per_video,repeats\n"
    (tmp / "runs.csv").write_text(header + body)
    return str(tmp / "runs.csv")


TABLE_CASES: list[tuple[str, Callable[[Path], str], str]] = [
    ("missing file", lambda t: str(t / "missing.csv"), r"missing\.csv: no such results file"),
    ("a folder", lambda t: str(t), r"no such results file"),
    ("row cut short", lambda t: _runs_csv(t, "2026-01-01,shapes-prediction,1,copy-last,fvd,12.0\n"),
     r"runs\.csv line 2: num_videos is empty \(the row is cut short\?\)"),
    ("value not a number", lambda t: _runs_csv(t, "d,shapes-prediction,1,copy-last,fvd,big,,32,1,1\n"),
     r"runs\.csv line 2: value 'big' is not a float"),
    ("binary file", lambda t: (t / "runs.csv").write_bytes(bytes(range(256)) * 2) and str(t / "runs.csv"),
     r"runs\.csv: not a readable CSV"),
    ("not a results file", lambda t: (t / "runs.csv").write_text("a,b\n1,2\n") and str(t / "runs.csv"),
     r"not a results file, columns \['protocol'"),
]


@pytest.mark.parametrize("name,build,pattern", TABLE_CASES, ids=[c[0] for c in TABLE_CASES])
def test_table_refuses_bad_runs_files(tmp_path: Path, name: str, build, pattern: str) -> None:
    res = CliRunner().invoke(main, ["table", "--table", "embedded", "--runs", build(tmp_path)])
    _one_line_error(res, pattern)


def test_check_refuses_a_malformed_ci_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "ci.csv").write_text("name,protocol\n../x,shapes-prediction\n")
    res = CliRunner().invoke(main, ["check", "--ci", str(tmp_path / "ci.csv"), "--quiet"])
    _one_line_error(res, r"ci\.csv: not a CI file, columns \['method'")


def test_demo_out_pointing_at_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    res = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "out"), "--quiet"])
    _one_line_error(res, r"--out .*out is a file; give a folder")


def test_an_unwritable_cache_does_not_cost_the_row(tmp_path: Path, monkeypatch) -> None:
    from benchmarks.results import append_row, read_rows

    (tmp_path / "file.txt").write_text("not a folder")
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "file.txt" / "sub"))  # cannot be created
    append_row(tmp_path / "runs.csv", {"protocol": "p", "value": 1.0})
    assert [r["protocol"] for r in read_rows(tmp_path / "runs.csv")] == ["p"]


def test_seeds_outside_32_bits_are_refused() -> None:
    from benchmarks.runner import parse_seeds

    with pytest.raises(ValueError, match="outside 0..2\\*\\*32-1"):
        parse_seeds("0,4294967296")


def test_evaluate_with_a_callable_never_reuses_another_functions_samples(tmp_path, monkeypatch) -> None:
    import benchmarks

    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    kw = dict(num_videos=4, batch_size=4, progress=False, overrides={"frames": 10})

    def gen(known, cond, seeds):
        return known  # zeros after the known frames

    first = benchmarks.evaluate("shapes-prediction", generate=gen, **kw)

    def gen(known, cond, seeds):  # noqa: F811 - same name, other samples
        out = known.copy()
        out[:, 4:] = 255
        return out

    assert benchmarks.evaluate("shapes-prediction", generate=gen, **kw).value != first.value
