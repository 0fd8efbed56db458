"""``ramvid-bench report`` without a browser: the page is parsed; its images are data URIs that decode,
its sections are there (and only when they have something to show), its values are the rows' values.
Also the training-curve helpers (``ramvid.plots``). The browser itself: tests/test_report_browser.py."""
from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

SHA = "ab" * 32


class Page(HTMLParser):
    """Image sources, section ids, and the page's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.images: list[tuple[str, str]] = []
        self.sections: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append((a.get("class") or "", a.get("src") or ""))
        if tag == "h2":
            self.sections.append(a.get("id") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def _row(**kw: object) -> dict[str, object]:
    row = {"date": "2026-01-01T00:00:00Z", "protocol": "shapes-prediction", "version": 1, "metric": "fvd",
           "value": 500.0, "num_videos": 3, "samples_per_video": 1, "repeats": 1, "seed": 0,
           "batch_size": 16, "device": "cpu", "threads": 2, "git_hash": "cafebabe1234", "wall_s": 1.5,
           "processes": 1, "spec": "{}", "method": "copy-last"}
    model = {"method": "ramvid", "checkpoint": "runs/<b>t</b>/ckpt-000200.pt", "ckpt_sha256": SHA[:12],
             "step": 200, "preset": "tiny", "p_uncond": 0.25, "params": 3002179, "sampler": "ddim",
             "sampler_steps": 10, "resample": 1}
    return {**row, **(model if kw.pop("model", False) else {}), **kw}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Two run dirs (copy-last, a 'model' run of noise) on shapes-prediction with 3 videos, the rows
    of a sampler sweep and of two training steps, and a short training log."""
    from benchmarks.baselines import fill
    from benchmarks.protocols import get_protocol
    from benchmarks.results import append_row
    from benchmarks.shards import ShardStore
    from ramvid.data import open_dataset

    tmp = tmp_path_factory.mktemp("report")
    p = get_protocol("shapes-prediction@1").replace(num_videos=3)  # the version the rows name
    clips = open_dataset(p.dataset, p.split, frames=p.frames, resolution=p.resolution).clips(range(3))
    keys = [(v, 0) for v in range(3)]
    ShardStore(tmp / "runs" / "copy-last", {"protocol": p.to_dict(), "method": {"baseline": "copy-last"}}
               ).write(fill("copy-last", clips, p.cond), keys)
    pm = p.replace(sampler="ddim", sampler_steps=10)
    noise = np.random.default_rng(0).integers(0, 256, clips.shape, dtype=np.uint8)
    noise[:, list(p.cond)] = clips[:, list(p.cond)]
    ShardStore(tmp / "runs" / "model", {"protocol": pm.to_dict(), "method": {"checkpoint_sha256": SHA}}
               ).write(noise, keys)
    csv = tmp / "runs.csv"
    append_row(csv, _row(value=900.0))
    append_row(csv, _row(value=111.0, num_videos=5))  # another workload: never this run's value
    append_row(csv, _row(model=True, value=700.0, sampler_steps=25))
    append_row(csv, _row(model=True, value=800.0, step=100, ckpt_sha256="cd" * 6,
                         checkpoint="runs/<b>t</b>/ckpt-000100.pt"))
    fit = {"extrapolation": {"points": [[2, 150, 1, 20], [3, 130, 1, 1]]},
           "interval": {"level": 0.95, "scheme": "half", "draws": 1000}}
    append_row(csv, _row(model=True, value=123.456, ci_low=110, ci_high=140, se=7.5, fvd_inf=101.25,
                         bootstrap=1000, uncertainty=json.dumps(fit), nfe=10, guidance=0, torch="2.13.0"))
    (tmp / "train").mkdir()
    (tmp / "train" / "log.jsonl").write_text("".join(
        json.dumps({"step": s, "loss": 1 / s, "grad_norm": 0.5, "lr": 1e-4, "seconds": 0.1}) + "\n"
        for s in range(1, 21)))
    return tmp


@pytest.fixture(scope="module")
def page(workspace: Path) -> Page:
    from benchmarks.report import build_report

    index = build_report([workspace / "runs"], results=workspace / "runs.csv",
                         train_dirs=[workspace / "train"], out=workspace / "report")
    assert index == workspace / "report" / "index.html"
    return Page(index.read_text())


def test_every_image_is_an_embedded_picture(page: Page):
    assert sorted(c for c, _ in page.images) == ["animation", "animation", "plot", "plot", "plot",
                                                 "strip", "strip"]
    for _, src in page.images:
        head, _, data = src.partition(",")
        assert head in ("data:image/png;base64", "data:image/gif;base64")
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert im.width > 0 and im.height > 0


def test_sections_and_values(page: Page):
    assert page.sections == ["runs", "results", "nfe", "steps", "training"]
    text = page.all_text
    assert "FVD 900.00" in text and "111.00" not in text.split("Results table")[0]  # its own workload
    assert "FVD 123.46" in text  # the newest model row, with its bootstrap interval
    assert "95% interval [110.00, 140.00] (bootstrap, 1000 draws, half-samples)" in text
    assert "standard error 7.50" in text and "FVD∞ 101.25 (1/N fit over n = 2..3)" in text
    assert "known frames 0-3" in text and "FVD over all frames: 0-15 (16)" in text
    assert "3 videos × 1 samples × 1 repeats = 3" in text
    assert "ddim, 10 steps" in text and "NFE 10 network evaluations" in text
    assert "none: copy-last runs no network (NFE 0)" in text
    assert "git_hash cafebabe1234" in text and "torch 2.13.0" in text  # provenance
    assert "guidance off (0)" in text and "uncertainty {" not in text  # in the card, not repeated
    assert "copy-last (baseline), n=3" in text  # the results table, as `table` labels it


def test_text_from_rows_is_escaped(workspace: Path):
    html = (workspace / "report" / "index.html").read_text()
    assert "runs/&lt;b&gt;t&lt;/b&gt;/ckpt-000200.pt" in html and "<b>t</b>" not in html


def test_row_matching_prefers_the_runs_own_folder(workspace: Path):
    from benchmarks.report.runs import match_row, read_manifest

    rows = [{k: str(v) for k, v in _row(value=v).items()} for v in (1.0, 2.0)]
    run = workspace / "runs" / "copy-last"
    rows[0]["spec"] = json.dumps({"out_dir": str(run), "num_videos": 3})
    assert match_row(rows, read_manifest(run), run)["value"] == "1.0"
    rows[0]["spec"] = json.dumps({"out_dir": "elsewhere"})
    assert match_row(rows, read_manifest(run), run)["value"] == "2.0"  # else the newest that fits
    rows[1]["spec"] = json.dumps({"seed": 7})  # an override the run did not have
    assert match_row(rows, read_manifest(run), run)["value"] == "1.0"


def test_empty_sections_are_left_out(workspace: Path, tmp_path):
    from benchmarks.report import build_report

    only_training = Page(build_report(train_dirs=[workspace / "train" / "log.jsonl"], out=tmp_path / "a")
                         .read_text())
    assert only_training.sections == ["training"]
    assert "<table" not in (tmp_path / "a" / "index.html").read_text()
    no_rows = Page(build_report([workspace / "runs" / "copy-last"], out=tmp_path / "b").read_text())
    assert no_rows.sections == ["runs"] and "no results row matches this run" in no_rows.all_text
    assert sorted(c for c, _ in no_rows.images) == ["animation", "strip"]


def test_bad_inputs_are_one_line(workspace: Path, tmp_path):
    from benchmarks.report import build_report

    with pytest.raises(ValueError, match="nothing to report"):
        build_report(out=tmp_path / "r")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        build_report(train_dirs=[workspace / "train"], out=tmp_path / "file")
    with pytest.raises(ValueError, match="no manifest.json here or in its subfolders"):
        build_report([tmp_path], out=tmp_path / "r")
    with pytest.raises(FileNotFoundError, match="--train-dir .*no log.jsonl there"):
        build_report(train_dirs=[tmp_path], out=tmp_path / "r")


def test_cli(workspace: Path, tmp_path):
    from benchmarks.cli import main

    res = CliRunner().invoke(main, ["report", str(workspace / "runs" / "copy-last"), "--results",
                                    str(workspace / "runs.csv"), "--out", str(tmp_path / "r"),
                                    "--videos", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"report: {(tmp_path / 'r' / 'index.html').resolve()}"
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "absent"), "--out", str(tmp_path / "r")])
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and bad.output.count("\n") == 1


def test_uncertainty_columns_with_the_metric_prefix():
    from benchmarks.report.runs import value_text

    value, lines = value_text({"metric": "fvd", "value": "10", "std": "1", "fvd_ci_low": "8",
                               "fvd_ci_high": "12.5", "fvd_se": "1.1", "fvd_inf": "7"})
    assert value == "FVD 10.00 ± 1.00 (std over repeats)"
    assert lines == [("95% interval", "[8.00, 12.50] (bootstrap)"), ("standard error", "1.10"),
                     ("FVD∞", "7.00 (1/N extrapolated)")]


def test_plots_need_two_settings_or_two_steps():
    from benchmarks.report.across import nfe_plots, step_plots

    rows = [{k: str(v) for k, v in _row(model=True, **kw).items()}
            for kw in ({}, {"sampler_steps": 25}, {"step": 100})]
    assert len(nfe_plots(rows[:1])) == 0 and len(nfe_plots(rows[:2])) == 1
    assert len(step_plots(rows[:2])) == 0 and len(step_plots([rows[0], rows[2]])) == 1


# --- ramvid.plots: training curves -----------------------------------------------------------------


def test_read_log_skips_a_cut_last_line_and_names_bad_ones(tmp_path):
    from ramvid.plots import read_log

    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 2, "loss": 0.3}\n'
                   '{"step": 3, "lo')
    out = read_log(log)
    assert out["step"].tolist() == [1, 2] and out["loss"].tolist() == [0.5, 0.3]  # resumed: the later
    log.write_text('{"step": 1, "loss": 0.5}\nnot json\n{"step": 2, "loss": 0.4}\n')
    with pytest.raises(ValueError, match="log.jsonl line 2"):
        read_log(log)
    with pytest.raises(FileNotFoundError):
        read_log(tmp_path / "absent.jsonl")


def test_training_plots_write_loss_png_and_events(workspace: Path, tmp_path):
    import shutil

    from ramvid.plots import TrainingPlots, running_mean

    assert running_mean(np.array([1.0, 3.0, 5.0]), 2).tolist() == [1.0, 2.0, 4.0]
    shutil.copy(workspace / "train" / "log.jsonl", tmp_path / "log.jsonl")
    plots = TrainingPlots(tmp_path)
    png = plots.checkpoint()
    with Image.open(png) as im:
        assert png == tmp_path / "loss.png" and im.width > 300
    plots.close()
    pytest.importorskip("tensorboard")
    events = TrainingPlots(tmp_path, log_dir=tmp_path / "tb", start_step=0)
    events.log({"step": 1, "loss": 0.5, "grad_norm": 0.1, "lr": 1e-4, "seconds": 0.2})
    events.checkpoint()
    events.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_log_dir_without_tensorboard_says_how_to_get_it(tmp_path, monkeypatch):
    import sys

    from ramvid.plots import TrainingPlots

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when absent
    with pytest.raises(ValueError, match=r'--log-dir .*pip install "ramvid-bench\[tensorboard\]"'):
        TrainingPlots(tmp_path, log_dir=tmp_path / "tb")
