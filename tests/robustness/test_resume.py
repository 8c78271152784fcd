"""Same seed, same flags on CPU; a run killed during the attack resumes from its stored chunks to the same flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

TASK = "robustness:digits?attacks=fgsm,pgd&eps=0.05,0.1&n=48&chunk=16&seed={seed}"


def _run(output: Path, seed: int, kill: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("VB_TEST_KILL_AT", None)
    if kill:
        env["VB_TEST_KILL_AT"] = kill
    command = [sys.executable, "-m", "visionbench", "run", "--model", "zoo:digits-cnn", "--task",
               TASK.format(seed=seed), "--output", str(output), "--no-track", "--json", "--bootstrap", "50", "--device", "cpu"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def _flags(result: subprocess.CompletedProcess) -> tuple[dict, pd.DataFrame]:
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    folder = Path(record["record"]).parent
    full = json.loads((folder / "record.json").read_text())
    return full, pd.read_parquet(folder / "predictions.parquet")


def test_killed_run_resumes_to_the_same_flags(tmp_path, test_seed) -> None:
    reference, ref_flags = _flags(_run(tmp_path / "uninterrupted", test_seed))
    killed = _run(tmp_path / "resumed", test_seed, kill="after_chunk_write@1")
    assert killed.returncode == -9, killed.stderr  # SIGKILL after the first chunk reached the store
    resumed, flags = _flags(_run(tmp_path / "resumed", test_seed))
    assert resumed["state"]["reused"] == 16 and resumed["state"]["inferred"] == 32
    cells = [
        c for c in ref_flags.columns if c.count("/") == 2 or c.startswith("check-") or c == "grad-nonzero"
    ]
    assert cells and "pgd/linf/0.1" in cells
    pd.testing.assert_frame_equal(flags[["sample_id", *cells]], ref_flags[["sample_id", *cells]])
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["task"]["scoring"]["budget"] == reference["task"]["scoring"]["budget"]


def test_same_seed_same_results(tmp_path, test_seed) -> None:
    from rb_helpers import run_robustness

    task = TASK.format(seed=test_seed)
    first = run_robustness("zoo:digits-cnn", task, tmp_path / "a", seed=test_seed)
    again = run_robustness("zoo:digits-cnn", task, tmp_path / "b", seed=test_seed)
    assert first.record["metrics"] == again.record["metrics"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(first.directory / "predictions.parquet"),
        pd.read_parquet(again.directory / "predictions.parquet"),
    )
    other = run_robustness("zoo:digits-cnn", TASK.format(seed=test_seed + 1), tmp_path / "c")
    assert (
        other.record["identity"]["prediction"] != first.record["identity"]["prediction"]
    )  # the seed keys the state
    assert other.record["task"]["scoring"]["budget"]["seed"] == test_seed + 1
