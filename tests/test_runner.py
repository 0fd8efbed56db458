"""Runner: dry run, shards + resume, results row, model method, one-line errors.

The end-to-end test runs the real I3D on 4 clips of 10 frames at 32x32 (cheap) with a baseline.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmarks.baselines import copy_last
from benchmarks.cli import main
from benchmarks.methods import check_fits, make_method
from benchmarks.protocols import get_protocol
from benchmarks.results import RUN_FIELDS, read_rows
from benchmarks.runner import Interrupted, RunSpec, resolve, run
from benchmarks.shards import ShardStore
from ramvid.data import open_dataset

SMALL = dict(protocol="shapes-prediction@1", num_videos=4, batch_size=2, overrides={"frames": 10},
             progress=False)


def test_dry_run_prints_resolved_protocol():
    res = CliRunner().invoke(main, ["run", "shapes-infilling", "--baseline", "copy-last", "--num-videos",
                                    "8", "--dry-run"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["protocol"]["num_videos"] == 8 and info["protocol"]["cond"] == [0, 1, 14, 15]
    assert info["metric_frames"] == list(range(2, 14))
    assert (info["protocol"]["version"], info["protocol"]["sampler"]) == (2, "ddim")  # the newest version's
    res = CliRunner().invoke(main, ["run", "shapes-infilling", "--ckpt", "x.pt", "--sampler", "ddpm",
                                    "--dry-run"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["protocol"]["sampler"] == "ddpm"
    assert json.loads(res.output)["protocol"]["seed"] == 0
    res = CliRunner().invoke(main, ["run", "shapes-prediction", "--ckpt", "x.pt", "--seed", "7", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["protocol"]["seed"] == 7


def test_unknown_protocol_is_one_line_with_suggestion():
    res = CliRunner().invoke(main, ["run", "shapes-predicton", "--baseline", "copy-last"])
    assert res.exit_code != 0
    assert "did you mean shapes-prediction" in res.output and len(res.output.strip().splitlines()) == 1


def test_missing_dataset_says_how_to_prepare(tmp_path):
    res = CliRunner().invoke(main, ["run", "bair-prediction", "--baseline", "copy-last", "--results",
                                    str(tmp_path / "r.csv"), "--data-path", str(tmp_path / "none.h5")])
    assert res.exit_code != 0 and len(res.output.strip().splitlines()) == 1
    assert "prepare" in res.output.lower()


def test_end_to_end_resume_and_row(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    spec = RunSpec(**SMALL, baseline="copy-last", results=str(tmp_path / "runs.csv"),
                   out_dir=str(tmp_path / "work"), stop_after_shards=1)
    with pytest.raises(Interrupted):
        run(spec)
    first = sorted((tmp_path / "work").glob("shard-*.npz"))
    assert len(first) == 1 and not (tmp_path / "runs.csv").exists()
    before = first[0].read_bytes()
    spec = dataclasses.replace(spec, stop_after_shards=None)  # RunSpec is frozen
    res = run(spec)
    shards = sorted((tmp_path / "work").glob("shard-*.npz"))
    assert len(shards) == 2 and shards[0].read_bytes() == before  # nothing finished is redone
    # the stored samples are exactly the baseline on the protocol's test clips, in (sample, video) order
    p = resolve(spec)
    source = open_dataset("shapes", "test", frames=10, resolution=32)
    got = np.concatenate(list(ShardStore(tmp_path / "work", json.loads(
        (tmp_path / "work" / "manifest.json").read_text())).iter_batches()))
    assert np.array_equal(got, copy_last(source.clips(range(4)), p.cond))
    assert np.isfinite(res.value) and res.value > 0
    rows = read_rows(tmp_path / "runs.csv")
    assert len(rows) == 1 and set(RUN_FIELDS) <= set(rows[0])
    row = rows[0]
    assert (row["protocol"], row["version"], row["method"], row["metric"]) == (
        "shapes-prediction", "1", "copy-last", "fvd")
    assert abs(float(row["value"]) - res.value) < 1e-3 and row["num_videos"] == "4"
    assert row["git_hash"] and row["date"] and float(row["wall_s"]) > 0


def test_real_baseline_uses_a_disjoint_set():
    p = get_protocol("shapes-prediction").replace(num_videos=3, frames=10)
    source = open_dataset("shapes", "test", frames=10, resolution=32)
    method = make_method(p, source, baseline="real")
    out = method.produce([(0, 0), (2, 0)])
    assert np.array_equal(out, source.clips([3, 5]))


def _tiny_checkpoint(path):
    from ramvid.checkpoint import save_checkpoint
    from ramvid.config import ModelConfig, RamvidConfig
    from ramvid.model import build_model

    cfg = RamvidConfig(name="test", frames=10, model=ModelConfig(
        image_size=16, model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
        attention_resolutions=(), num_heads=1))
    torch.manual_seed(0)
    sd = build_model(cfg.model).state_dict()
    save_checkpoint(path, {"config": cfg.to_dict(), "step": 7, "model": sd, "ema": sd})
    return path


def test_model_method_batch_independent_and_known_frames_exact(tmp_path):
    ckpt = _tiny_checkpoint(tmp_path / "t.pt")
    p = get_protocol("shapes-prediction").replace(resolution=16, frames=10, sampler_steps=2, num_videos=2)
    source = open_dataset("shapes", "test", frames=10, resolution=16)
    method = make_method(p, source, ckpt=str(ckpt), progress=False)
    assert method.row["step"] == 7 and method.row["preset"] == "test" and len(method.row["ckpt_sha256"]) == 12
    both = method.produce([(0, 0), (1, 0)])
    alone = method.produce([(1, 0)])
    assert np.array_equal(both[1], alone[0])
    assert np.array_equal(both[:, list(p.cond)], source.clips([0, 1])[:, list(p.cond)])


def test_checkpoint_that_does_not_fit_is_refused(tmp_path):
    p = get_protocol("shapes-prediction")
    with pytest.raises(ValueError, match="trained on 16 frames at 64x64 but protocol shapes-prediction"):
        check_fits(p, 16, 64, "x.pt")
    with pytest.raises(ValueError, match="needs 16 frames"):
        check_fits(p, 10, 32, "x.pt")
    check_fits(p, 20, 32, "x.pt")  # longer training clips are fine (BAIR trains on 20, evaluates 16)
    ckpt = _tiny_checkpoint(tmp_path / "t.pt")
    res = CliRunner().invoke(main, ["run", "shapes-prediction", "--ckpt", str(ckpt), "--results",
                                    str(tmp_path / "r.csv")])
    assert res.exit_code != 0 and "trained on 10 frames at 16x16" in res.output


def test_unconditional_protocol_refuses_copy_last():
    res = CliRunner().invoke(main, ["run", "shapes-unconditional", "--baseline", "copy-last",
                                    "--results", ""])
    assert res.exit_code != 0 and "needs known frames" in res.output


def test_missing_metric_weights_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RAMVID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RAMVID_I3D_WEIGHTS", str(tmp_path / "nowhere.ckpt"))
    res = CliRunner().invoke(main, ["run", "shapes-prediction", "--baseline", "copy-last", "--num-videos",
                                    "2", "--results", "", "--out-dir", str(tmp_path / "w"), "--quiet"])
    assert res.exit_code != 0 and len(res.output.strip().splitlines()) == 1
    assert "nowhere.ckpt" in res.output or "weights" in res.output.lower()


def test_results_append_is_atomic_and_merges_columns(tmp_path, monkeypatch):
    from benchmarks import results as mod

    path = tmp_path / "runs.csv"
    mod.append_row(path, {"protocol": "a", "value": 1.5})
    mod.append_row(path, {"protocol": "b", "value": 2.0, "extra": "x"})
    rows = read_rows(path)
    assert [r["protocol"] for r in rows] == ["a", "b"] and rows[0]["extra"] == "" and rows[1]["extra"] == "x"
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(mod.csv, "DictWriter", crash)
    with pytest.raises(OSError):
        mod.append_row(path, {"protocol": "c"})
    assert path.read_bytes() == before  # a crash never truncates the CSV
    assert [p.name for p in tmp_path.glob("*.tmp")] == []  # no temp file and no lock file left


# --- a work dir written before a Protocol field existed (moved here from test_sampler_quality.py, where
# the perf script upgraded its own manifests; the runner now does it for every run) ---
def _old_manifest(root: Path, protocol: dict) -> Path:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"protocol": protocol, "method": {"weights": "ema"}}))
    return root / "manifest.json"


def test_old_manifest_adopted_only_when_added_fields_hold_defaults(tmp_path: Path) -> None:
    from benchmarks.protocols import get_protocol
    from benchmarks.registry import protocol_defaults

    p = get_protocol("shapes-prediction@1")
    now = json.loads(json.dumps(p.to_dict()))
    old = {k: v for k, v in now.items() if k not in ("guidance", "quantize")}
    manifest = {"protocol": p.to_dict(), "method": {"weights": "ema"}}
    defaults = {"protocol": protocol_defaults()}
    path = _old_manifest(tmp_path / "a", old)
    with pytest.raises(ValueError, match="different run"):  # without the defaults: refused
        ShardStore(path.parent, manifest)
    ShardStore(path.parent, manifest, defaults=defaults)  # same samples: adopted
    assert json.loads(path.read_text())["protocol"] == now  # ... and the manifest now names the fields
    path = _old_manifest(tmp_path / "b", old)
    with pytest.raises(ValueError, match="different run"):  # an added field not at its default
        ShardStore(path.parent, {**manifest, "protocol": p.replace(guidance=1.0).to_dict()},
                   defaults=defaults)
    assert json.loads(path.read_text())["protocol"] == old
    path = _old_manifest(tmp_path / "c", {**old, "sampler_steps": 10})  # an old field differs
    with pytest.raises(ValueError, match="different run"):
        ShardStore(path.parent, manifest, defaults=defaults)
    assert json.loads(path.read_text())["protocol"]["sampler_steps"] == 10


def test_run_resumes_a_work_dir_from_before_a_protocol_field(tmp_path: Path) -> None:
    spec = RunSpec(**SMALL, baseline="copy-last", results=str(tmp_path / "runs.csv"),
                   out_dir=str(tmp_path / "work"), stop_after_shards=1)
    with pytest.raises(Interrupted):
        run(spec)
    path = tmp_path / "work" / "manifest.json"
    stored = json.loads(path.read_text())
    del stored["protocol"]["guidance"], stored["protocol"]["quantize"]  # as an older version wrote it
    path.write_text(json.dumps(stored))
    res = run(dataclasses.replace(spec, stop_after_shards=None))
    assert res.value is not None and "guidance" in json.loads(path.read_text())["protocol"]
