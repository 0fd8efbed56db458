"""Tables are rendered from the CSVs: golden Markdown, reported|reproduced matching, CSV output;
missing CSVs are errors; appending to the results CSV leaves nothing else behind."""
from __future__ import annotations

import csv
import io
import multiprocessing
from pathlib import Path

import pytest

from benchmarks.assets import paper_csv
from benchmarks.results import RUN_FIELDS, append_row, read_rows
from benchmarks.tables import paper_rows, render

RESULTS = Path(__file__).resolve().parents[1] / "results"
PAPER, FIXTURE = paper_csv(), RESULTS / "fixtures" / "runs.csv"


def test_golden_rendering_matches_stored_expected_table():
    # regenerate after an intended layout change: see results/fixtures/README.md
    assert render(PAPER, FIXTURE) == (RESULTS / "expected_table.md").read_text()


def test_paper_csv_holds_every_table_number():
    rows = read_rows(PAPER)
    by_table = {t: [r for r in rows if r["table"] == t] for t in "12345"}
    assert [len(by_table[t]) for t in "12345"] == [12, 8, 4, 8, 7]
    ramvid_t1 = {r["p_uncond"]: r["value"] for r in by_table["1"] if r["method"] == "RaMViD"}
    assert ramvid_t1 == {"0": "86.41", "0.25": "84.20", "0.5": "85.03", "0.75": "86.05"}
    assert all(r["direction"] == ("higher" if r["metric"] == "is" else "lower") for r in rows)


def test_reproduced_is_seeds_of_newest_version_official_run_with_same_pu():
    lines = paper_rows("1", read_rows(PAPER), read_rows(FIXTURE))
    ramvid = {r["p_uncond"]: r for r in lines if r["method"] == "RaMViD"}
    # bair-prediction@2, seed 0 twice (the newer, 88.125, wins) and seed 1 (90): mean ± std over seeds
    assert ramvid["0.25"]["reproduced"] == "89.06 ± 1.33" and ramvid["0.25"]["n"] == "256×100 ×2 seeds"
    assert ramvid["0"]["reproduced"] == "—"
    extra = [r for r in lines if r["reported"] == "—"]  # an older protocol version is a row of its own
    assert [r["method"] for r in extra] == ["copy-last (baseline)", "RaMViD bair step 250000 [aaaaaaaa], v1"]
    assert extra[1]["reproduced"] == "95.00"


def _run(seed: int, value: float, **kw: str) -> dict[str, str]:
    row = {"protocol": "shapes-prediction", "version": "1", "method": "ramvid", "ckpt_sha256": "c" * 12,
           "preset": "tiny", "step": "220", "metric": "fvd", "value": str(value), "std": "",
           "num_videos": "32", "samples_per_video": "1", "repeats": "1", "sampler": "ddim",
           "sampler_steps": "25", "resample": "1", "seed": str(seed)}
    return {**row, **kw}


def test_seed_groups_pool_only_runs_that_differ_in_seed():
    from benchmarks.tables import embedded_rows, group_key

    runs = [_run(0, 600), _run(1, 610), _run(1, 620), _run(2, 640, quantize="round"),
            _run(0, 900, quantize="floor"), _run(0, 700, sampler_steps="10")]
    assert group_key(runs[0]) == group_key(runs[3])  # rows without the column ran with its default
    _, rows, lines = embedded_rows("shapes", runs)
    cells = {r[0]: r[1] for r in rows}
    # seeds 0, 1 (newest: 620) and 2: mean 620 ± std 20, N and the seed count beside it
    # version 1 rows (ddpm registered): the sampler and the old version are named
    assert cells["RaMViD tiny step 220 [cccccccc], ddim, v1"] == "620.00 ± 20.00 (n=32, 3 seeds)"
    assert cells["RaMViD tiny step 220 [cccccccc], ddim, v1, quantize floor"] == "900.00 (n=32)"
    assert cells["RaMViD tiny step 220 [cccccccc], 10 steps, ddim, v1"] == "700.00 (n=32)"
    assert [ln["n"] for ln in lines] == ["32×1 ×3 seeds", "32×1", "32×1"]


def test_sampler_named_against_the_rows_own_protocol_version():
    from benchmarks.tables import embedded_rows

    v2 = dict(version="2", sampler_steps="20", eta="0.5")
    runs = [_run(0, 600, **v2), _run(0, 700, **{**v2, "sampler": "ddpm", "eta": "0"}),
            _run(0, 650, **{**v2, "eta": "0"}), _run(0, 800)]
    cells = {r[0]: r[1] for r in embedded_rows("shapes", runs)[1]}
    # @2 registers DDIM eta 0.5 on 20 steps: its own settings are not named, others are (eta only
    # for a sampler that reads it); @1 registers DDPM 25
    assert cells == {"RaMViD tiny step 220 [cccccccc]": "600.00 (n=32)",
                     "RaMViD tiny step 220 [cccccccc], ddpm": "700.00 (n=32)",
                     "RaMViD tiny step 220 [cccccccc], eta 0": "650.00 (n=32)",
                     "RaMViD tiny step 220 [cccccccc], ddim, v1": "800.00 (n=32)"}


def test_baseline_rows_of_versions_that_differ_only_in_sampling_are_one_measurement():
    from benchmarks.tables import embedded_rows, row_version

    base = dict(method="copy-last", ckpt_sha256="", preset="", step="", sampler="", sampler_steps="")
    v1, v2 = _run(0, 300, version="1", **base), _run(0, 300.5, version="2", **base)
    assert row_version(v1) == "2"  # @1 and @2 differ only in the sampler: a baseline never reads it
    assert row_version(_run(0, 1, version="1")) == "1"  # the model's row keeps its version
    assert row_version({**v1, "protocol": "lab-only"}) == "1"  # not in the registry: as written
    cells = {r[0]: r[1] for r in embedded_rows("shapes", [v1, v2])[1]}
    assert cells == {"copy-last (baseline)": "300.50 (n=32)"}  # one group, the newest row of seed 0


def test_protocol_filter_with_a_version(tmp_path):
    path = tmp_path / "runs.csv"
    for r in (_run(0, 600, version="2"), _run(0, 800)):
        append_row(path, r)
    one = render(PAPER, path, table="embedded", protocol="shapes-prediction@1", fmt="csv")
    assert [r["reproduced"] for r in csv.DictReader(io.StringIO(one))] == ["800.00"]
    both = render(PAPER, path, table="embedded", protocol="shapes-prediction", fmt="csv")
    assert sorted(r["reproduced"] for r in csv.DictReader(io.StringIO(both))) == ["600.00", "800.00"]


def test_csv_format_and_protocol_filter():
    text = render(PAPER, FIXTURE, table="embedded", protocol="shapes-prediction", fmt="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["protocol"] for r in rows} == {"shapes-prediction"}
    assert {r["method"]: r["reproduced"] for r in rows}["real (baseline)"] == "50.50"
    md = render(PAPER, FIXTURE, table="5")
    assert "IS ↑ reported" in md and "20.50 ± 0.25" in md and "2048×1 ×10 rep" in md


def test_empty_runs_still_render_paper_numbers(tmp_path):
    empty = tmp_path / "runs.csv"
    empty.write_text(",".join(RUN_FIELDS) + "\n")
    md = render(PAPER, empty, table="3")
    assert "85.02" in md and "Embedded" not in md
    with pytest.raises(ValueError, match="no rows to show"):  # never an empty table
        render(PAPER, empty, table="embedded")


@pytest.mark.parametrize("missing", ["paper", "runs"])
def test_missing_csv_is_an_error_naming_it(tmp_path, missing):
    gone = tmp_path / "gone.csv"
    paper, runs = (gone, FIXTURE) if missing == "paper" else (PAPER, gone)
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        render(paper, runs)


def test_append_creates_the_csv_and_leaves_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "results"
    append_row(folder / "runs.csv", {"protocol": "a", "value": 1.5})
    append_row(folder / "runs.csv", {"protocol": "b", "value": 2.0})
    assert [p.name for p in folder.iterdir()] == ["runs.csv"]  # no lock or temp file beside it
    assert [r["protocol"] for r in read_rows(folder / "runs.csv")] == ["a", "b"]


def _append_many(path: str, tag: str, n: int) -> None:
    for i in range(n):
        append_row(path, {"protocol": f"{tag}{i}", "value": float(i)})


def test_concurrent_appends_lose_no_row(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))  # inherited by the spawned processes
    path = str(tmp_path / "runs.csv")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, tag, 15)) for tag in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    expected = sorted(f"{tag}{i}" for tag in "ab" for i in range(15))
    assert sorted(r["protocol"] for r in read_rows(path)) == expected
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["runs.csv"]
