"""The robustness tests' seed fixture (replay with VB_TEST_SEED)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def test_seed() -> int:
    seed = int(os.environ.get("VB_TEST_SEED", "0"))
    print(f"VB_TEST_SEED={seed}")
    return seed
