"""Shared fixtures: an isolated working directory and an in-process CLI runner."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# dataset digests cached by tests go to a private file, never the user's cache
os.environ.setdefault("VB_DIGEST_CACHE", os.path.join(tempfile.mkdtemp(prefix="vb-digests-"), "digests.json"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh directory so the default sqlite:///mlflow.db and results/ land there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Call ``visionbench`` in-process: returns (exit code, stdout, stderr)."""
    from visionbench.harness.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def seed() -> int:
    """A randomised test's seed: ``VB_TEST_SEED`` when set, else a fresh one; printed so a failure can be
    replayed."""
    import numpy as np

    env = os.environ.get("VB_TEST_SEED")
    value = int(env) if env else int(np.random.SeedSequence().entropy % 2**31)
    print(f"seed {value} (replay with VB_TEST_SEED={value})")
    return value
