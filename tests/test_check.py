"""CI regression check: passes within tolerance, names every drifted row, --update rewrites values."""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.check import CI_FIELDS, check, read_ci, spec_for
from benchmarks.runner import RunResult, RunSpec

ROWS = [
    dict(name="shapes-prediction/copy-last", protocol="shapes-prediction@2", method="copy-last",
         checkpoint="", num_videos="8", samples_per_video="", sampler_steps="", batch_size="4",
         metric="fvd", value="100.0", tolerance="0.5"),
    dict(name="shapes-prediction/showcase", protocol="shapes-prediction@2", method="ckpt",
         checkpoint="checkpoints/m.pt", num_videos="8", samples_per_video="1", sampler_steps="5",
         sampler="ddim", batch_size="", metric="fvd", value="200.0", tolerance="0.5"),
]


def write_ci(path: Path, rows=ROWS) -> Path:
    (path.parent / "checkpoints").mkdir(exist_ok=True)
    (path.parent / "checkpoints" / "m.pt").touch()  # rows are validated before any work: it must exist
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CI_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def fake_runner(values: dict[str, float]):
    seen: list[RunSpec] = []

    def runner(spec: RunSpec) -> RunResult:
        seen.append(spec)
        key = spec.baseline or Path(spec.ckpt).name
        return RunResult(protocol=None, value=values[key], std=None, per_repeat=[], row={}, work_dir=Path())
    runner.seen = seen  # type: ignore[attr-defined]
    return runner


def test_spec_from_row_resolves_checkpoint_and_overrides(tmp_path):
    spec = spec_for(ROWS[1], tmp_path, tmp_path / "w", None, False)
    assert spec.ckpt == str(tmp_path / "checkpoints/m.pt") and spec.baseline is None
    assert (spec.num_videos, spec.samples_per_video, spec.sampler_steps, spec.batch_size) == (8, 1, 5, 16)
    assert spec.sampler == "ddim"
    assert spec.results is None  # a check never appends to runs.csv
    base = spec_for(ROWS[0], tmp_path, tmp_path / "w", None, False)
    assert base.baseline == "copy-last" and base.samples_per_video is None and base.batch_size == 4
    assert base.sampler is None  # a row without a sampler keeps the protocol's


def test_check_passes_within_tolerance(tmp_path):
    ci = write_ci(tmp_path / "ci.csv")
    runner = fake_runner({"copy-last": 100.3, "m.pt": 199.6})
    results = check(ci, runner=runner, progress=False, echo=lambda s: None)
    assert all(r.ok for r in results) and len(runner.seen) == 2


def test_check_names_every_drifted_row(tmp_path):
    ci = write_ci(tmp_path / "ci.csv")
    results = check(ci, runner=fake_runner({"copy-last": 101.0, "m.pt": 210.0}), progress=False,
                    echo=lambda s: None)
    assert [r.name for r in results if not r.ok] == [r["name"] for r in ROWS]
    assert all(r.ok for r in check(ci, tolerance=20, runner=fake_runner({"copy-last": 101.0, "m.pt": 210.0}),
                                   progress=False, echo=lambda s: None))


def test_update_rewrites_values_and_only_filters(tmp_path):
    ci = write_ci(tmp_path / "ci.csv")
    check(ci, only="copy-last", update=True, runner=fake_runner({"copy-last": 123.45678}),
          progress=False, echo=lambda s: None)
    rows = read_ci(ci)
    assert rows[0]["value"] == "123.4568" and rows[1]["value"] == "200.0"
    with pytest.raises(ValueError, match="no CI row matches"):
        check(ci, only="nothing", runner=fake_runner({}), echo=lambda s: None)


def test_cli_exits_nonzero_on_drift(tmp_path, monkeypatch):
    import benchmarks.check as mod
    from benchmarks.cli import main

    # The `check` command looks up benchmarks.check.check when it runs: replace that module attribute
    # with the library function, the fake runner passed explicitly.
    ci = write_ci(tmp_path / "ci.csv", ROWS[:1])
    drifted = fake_runner({"copy-last": 150.0})
    monkeypatch.setattr(mod, "check", functools.partial(check, runner=drifted))
    res = CliRunner().invoke(main, ["check", "--ci", str(ci), "--quiet"])
    assert res.exit_code != 0 and "shapes-prediction/copy-last" in res.output and "drifted" in res.output
    assert len(drifted.seen) == 1
    steady = fake_runner({"copy-last": 100.0})
    monkeypatch.setattr(mod, "check", functools.partial(check, runner=steady))
    res = CliRunner().invoke(main, ["check", "--ci", str(ci), "--quiet"])
    assert res.exit_code == 0 and "within tolerance" in res.output
    assert len(steady.seen) == 1


@pytest.mark.parametrize("change,message", [
    ({"name": "../../escape"}, r"name '../../escape' must be letters"),
    ({"name": "/abs"}, r"name '/abs' must be"),
    ({"protocol": "shapes-predicton"}, r"line 2: unknown protocol 'shapes-predicton'; did you mean"),
    ({"method": "copy-first"}, r"method 'copy-first' must be 'ckpt' or a baseline"),
    ({"num_videos": "-3"}, r"num_videos '-3' must be a whole number >= 1"),
    ({"tolerance": "lots"}, r"tolerance 'lots' is not a number"),
    ({"value": "nan"}, r"value 'nan' must be a finite number"),
])
def test_malformed_ci_rows_are_refused_before_any_work(tmp_path, change, message):
    ci = write_ci(tmp_path / "ci.csv", [{**ROWS[0], **change}, ROWS[1]])
    runner = fake_runner({"copy-last": 100.0, "m.pt": 200.0})
    with pytest.raises(ValueError, match=message):
        check(ci, runner=runner, progress=False, echo=lambda s: None)
    assert runner.seen == []  # nothing ran


def test_a_row_without_protocol_version_warns_naming_the_version(tmp_path):
    ci = write_ci(tmp_path / "ci.csv", [dict(ROWS[0], protocol="shapes-prediction")])
    with pytest.warns(UserWarning, match=r"line 2: protocol 'shapes-prediction' has no version; write "
                                         r"shapes-prediction@2"):
        read_ci(ci)


def test_row_names_never_become_paths(tmp_path):
    ci = write_ci(tmp_path / "ci.csv")
    runner = fake_runner({"copy-last": 100.0, "m.pt": 200.0})
    check(ci, runner=runner, progress=False, echo=lambda s: None)
    for spec in runner.seen:
        assert "/" not in Path(spec.out_dir).name and Path(spec.out_dir).name.startswith("row-")


def test_a_file_that_is_not_a_ci_file_is_refused(tmp_path):
    (tmp_path / "ci.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"ci.csv: not a CI file, columns \['name'"):
        read_ci(tmp_path / "ci.csv")
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="bin.csv: not a readable CSV"):
        read_ci(tmp_path / "bin.csv")
