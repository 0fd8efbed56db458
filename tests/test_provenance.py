"""Provenance: every field present, git "unknown" outside a checkout, nested values as one JSON cell."""
from __future__ import annotations

import json
import subprocess

import pytest

from benchmarks import provenance


def test_collect_has_every_field():
    info = provenance.collect("cpu")
    for key in ("package_version", "git_hash", "git_dirty", "torch", "numpy", "scipy", "python",
                "device_name", "threads", "precision", "argv"):
        assert info[key] not in (None, ""), key
    assert info["git_dirty"] in ("true", "false", "unknown")
    assert info["device_name"].startswith("cpu ") and info["threads"] >= 1


def test_git_outside_a_checkout_is_unknown(monkeypatch):
    def no_git(*args, **kwargs):
        raise subprocess.CalledProcessError(128, "git")

    provenance.git_state.cache_clear()
    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    try:
        assert provenance.git_state() == ("unknown", "unknown")
        assert provenance.collect()["git_hash"] == "unknown"
    finally:
        provenance.git_state.cache_clear()


def test_run_fields_flatten_nested_values():
    from benchmarks.protocols import get_protocol

    p = get_protocol("bair-prediction")
    row = provenance.run_fields(p, {"ci_low": 1.0, "uncertainty": {"interval": {"draws": 10}}}, nfe=25,
                                seeds=(0, 1, 2))
    assert row["seeds"] == "0,1,2" and row["nfe"] == 25 and row["quantize"] == "floor"
    assert json.loads(row["uncertainty"]) == {"interval": {"draws": 10}} and row["ci_low"] == 1.0
    assert provenance.run_fields(p, {})["seeds"] == str(p.seed)


@pytest.mark.parametrize("text", ["cpu", None])
def test_device_name_on_cpu(text):
    assert provenance.device_name(text).startswith("cpu")
