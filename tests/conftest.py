"""Shared fixtures: an isolated working directory and an in-process CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


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


def write_image_folder(root: Path, n_per_class: int = 6, classes: tuple[str, ...] = ("0", "1", "2"), size: int = 8) -> Path:
    """A tiny ImageFolder tree of real digits images (PNG) under root."""
    from PIL import Image

    from visionbench.tasks.data.digits import load_digits_split

    images, labels = load_digits_split("test")
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(labels == int(cls))[:n_per_class] if cls.isdigit() else range(n_per_class)
        for k, idx in enumerate(picks):
            Image.fromarray(images[idx]).resize((size, size)).save(root / cls / f"img{k}.png")
    return root


@pytest.fixture
def json_out():
    def parse(text: str) -> dict:
        return json.loads(text)

    return parse
