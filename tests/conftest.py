"""Shared fixtures: the optional ../shared folder (real MNIST digits, reference docs)."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the checkout; skip the test when absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (only developers have it)")
    return SHARED


@pytest.fixture(scope="session")
def mnist_dir(shared_dir: Path) -> Path:
    d = shared_dir / "data" / "mnist"
    if not (d / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST IDX files absent from ../shared/data/mnist")
    return d
