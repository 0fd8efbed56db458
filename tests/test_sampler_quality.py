"""``benchmarks/perf/sampler_quality.py`` without sampling: the summary and its ratios come from the
runner's rows and the timing CSV."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import benchmarks.perf.sampler_quality as sq
from benchmarks.results import append_row


@pytest.fixture()
def paths(tmp_path: Path, monkeypatch) -> Path:
    for name, file in (("RUNS_CSV", "runs.csv"), ("TIMING_CSV", "timing.csv"), ("SUMMARY_CSV", "summary.csv"),
                       ("PLOT", "plot.png")):
        monkeypatch.setattr(sq, name, tmp_path / file)
    return tmp_path


def _finish(point: str, value: float, num_videos: int = 32) -> None:
    append_row(sq.RUNS_CSV, {"protocol": "shapes-prediction", "version": 1, "metric": "fvd", "value": value,
                             "num_videos": num_videos, "git_hash": "abc", "wall_s": 1.0,
                             "spec": json.dumps({"out_dir": f"runs/sampler-quality/{point}"})})


def test_report_ratios_goal_and_table(paths: Path, capsys) -> None:
    with open(sq.TIMING_CSV, "w", newline="") as f:
        f.write("sampler,guided,steps,videos,seconds,s_per_video_call\nddpm,0,10,8,1,0.2\nddim,0,10,8,1,0.25\n"
                "ddim,1,10,8,1,0.4\n")
    for point, value in (("ddpm-1000", 600.0), ("ddim-10", 650.0), ("ddim-25", 700.0), ("ddim-25-w1", 900.0)):
        _finish(point, value)
    _finish("ddim-50", 1.0, num_videos=8)  # another N: not this curve's point
    sq.report(sq.all_points("ddim-25"), 32)
    rows = {r["point"]: r for r in csv.DictReader(open(sq.SUMMARY_CSV))}
    assert sorted(rows) == ["ddim-10", "ddim-25", "ddim-25-w1", "ddpm-1000"]
    assert rows["ddpm-1000"]["s_per_video"] == "200.0" and rows["ddim-10"]["s_per_video"] == "2.5"
    assert float(rows["ddim-10"]["cost_vs_ddpm1000"]) == 0.0125
    assert float(rows["ddim-10"]["fvd_vs_ddpm1000"]) == round(650 / 600, 4)
    # guided: 2 network passes per video and call
    assert (rows["ddim-25-w1"]["nfe"], rows["ddim-25-w1"]["s_per_video"]) == ("50", "10.0")
    out = capsys.readouterr().out
    assert "| ddim-10 " in out and "| 1.083 " in out
    assert "best is ddim-10 (10 NFE) at 650.00, x1.083: within" in out
    assert sq.PLOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_goal_missed_guided_points_left_out_and_no_reference(paths: Path, capsys) -> None:
    _finish("ddpm-1000", 500.0)
    _finish("ddim-10", 560.0)  # 12% worse: missed
    _finish("ddim-10-w1", 100.0)  # guided, 20 NFE: not a candidate for the goal
    points = sq.curve_points() + [sq.Point("ddim-10-w1", "ddim", 10, guidance=1.0)]
    sq.report(points, 32)
    assert "best is ddim-10 (10 NFE) at 560.00, x1.120: NOT within" in capsys.readouterr().out
    sq.RUNS_CSV.unlink()
    _finish("ddim-10", 560.0)
    sq.report(points, 32)  # no DDPM-1000 yet: the ratios are empty, no verdict
    rows = list(csv.DictReader(open(sq.SUMMARY_CSV)))
    assert [(r["fvd_vs_ddpm1000"], r["cost_vs_ddpm1000"]) for r in rows] == [("", "")]
    assert "goal (FVD" not in capsys.readouterr().out


def test_report_without_points_stops(paths: Path) -> None:
    with pytest.raises(SystemExit, match="no finished point"):
        sq.report(sq.curve_points(), 32)
