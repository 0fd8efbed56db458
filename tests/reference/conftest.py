"""Reference-tier helpers: import a reference implementation, or skip when it is not installed.

The tox reference envs set ``RAMVID_REFERENCE_REQUIRE`` (comma-separated module names) so that a
broken install there fails loudly instead of silently skipping the parity tests.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import pytest


def _required() -> set[str]:
    return {m.strip() for m in os.environ.get("RAMVID_REFERENCE_REQUIRE", "").split(",") if m.strip()}


@pytest.fixture(scope="session")
def reference_import() -> Callable[[str], ModuleType]:
    """``reference_import("tensorflow")``: the module; skip if absent (fail if the env requires it)."""
    def load(name: str) -> ModuleType:
        try:
            return importlib.import_module(name)
        except ImportError as e:
            if name.split(".")[0] in _required():
                pytest.fail(f"{name} is required by this env (RAMVID_REFERENCE_REQUIRE) but: {e}")
            pytest.skip(f"{name} not installed ({e})")
    return load
