"""`visionbench run`, `list` and precision handling through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_run_json_is_one_object(workdir: Path, cli) -> None:
    code, out, err = cli(
        "run",
        "--model",
        "zoo:digits-mlp",
        "--task",
        "digits",
        "--json",
        "--output",
        "out",
        "--bootstrap",
        "100",
    )
    assert code == 0, err
    assert out.count("\n") == 1
    result = json.loads(out)
    assert {"task", "metrics"} <= set(result)
    assert result["task"] == "classification:digits"
    assert result["tracking"]["status"] == "logged"
    record = Path(result["record"])
    assert record.is_file() and record.resolve().is_relative_to(workdir / "out")
    assert (workdir / "mlflow.db").is_file()


def test_bf16_matches_fp32_closely(workdir: Path, cli) -> None:
    results = {}
    for precision in ("fp32", "bf16"):
        code, out, err = cli(
            "run",
            "--model",
            "zoo:digits-cnn",
            "--task",
            "digits",
            "--json",
            "--no-track",
            "--precision",
            precision,
            "--bootstrap",
            "0",
        )
        assert code == 0, err
        results[precision] = json.loads(out)["metrics"]["top1"]
    assert results["bf16"] == pytest.approx(results["fp32"], abs=0.02)
    records = sorted(p.parent.parent.name for p in (workdir / "results/runs").rglob("record.json"))
    assert records == ["zoo-digits-cnn", "zoo-digits-cnn@bf16"]


def test_limit_and_batch_size(workdir: Path, cli) -> None:
    code, out, err = cli(
        "run",
        "--model",
        "zoo:digits-linear",
        "--task",
        "digits?split=train",
        "--limit",
        "37",
        "--batch-size",
        "8",
        "--json",
        "--no-track",
    )
    assert code == 0, err
    record = json.loads(Path(json.loads(out)["record"]).read_text())
    assert record["task"]["num_samples"] == 37 and record["task"]["limit"] == 37
    assert record["environment"]["batch_size"] == 8
    assert record["task"]["dataset"] == "digits-train"


def test_list_shows_tasks_adapters_zoo_and_runs(workdir: Path, cli) -> None:
    cli("run", "--model", "zoo:digits-linear", "--task", "digits", "--no-track", "--quiet")
    code, out, _ = cli("list")
    assert code == 0
    for needle in (
        "classification:digits",
        "classification:imagefolder",
        "torchvision",
        "onnx",
        "callable",
        "digits-cnn",
        "recorded runs under results/runs: 1",
    ):
        assert needle in out, needle
