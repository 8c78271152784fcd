"""``benchmarks/gpu_suite.sh --dry-run``: the GPU suite rehearsed on CPU, every step, results written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "gpu_suite.sh"


@pytest.mark.slow
def test_gpu_suite_dry_run_writes_every_measurement(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(SUITE), "--dry-run", "--out", str(tmp_path), "--budget", "3600"],
        capture_output=True, text=True, env=env, timeout=1800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    result = json.loads((tmp_path / "gpu-cpu-dry-run.json").read_text())
    assert result["skipped_for_budget"] == []
    configs = {(r["mode"], r["precision"], r["channels_last"]) for r in result["resnet"]}
    assert configs == {
        (m, p, c)
        for m in ("eager", "compiled")
        for p, c in (("fp32", False), ("bf16", False), ("bf16", True))
    }
    for row in result["resnet"]:
        for key in ("bare_ips", "timm_ips", "harness_vs_bare", "harness_vs_timm"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["config"], key)
        assert row["harness"]["resolution"] == [32, 32] and row["batch_size"] == 2
        assert (row["mode"] == "compiled") == math.isfinite(row["compile_s"])
    for name in ("detector", "segmenter"):
        run = result["harness_runs"][name]
        assert "error" not in run, run.get("error")
        assert run["efficiency"]["throughput_ips"] > 0 and run["efficiency"]["latency_ms_b1_p50"] > 0
    assert "map" in result["harness_runs"]["detector"]["metrics"]
    assert "miou" in result["harness_runs"]["segmenter"]["metrics"]
    assert result["hardware"]["cpu_model"] and result["hardware"]["torch_threads"] >= 1
    table = (tmp_path / "gpu-cpu-dry-run.md").read_text()
    assert table.count("| resnet18 ") == 6 and "| detector |" in table and "| segmenter |" in table
    collected = (tmp_path / "gpu-cpu-dry-run-pytest.txt").read_text()
    assert "test_gpu_paths.py" in collected  # the GPU-marked tests are found (run only on a GPU)


def test_gpu_suite_refuses_unknown_options_and_missing_wheel_folders(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SUITE), "--fast"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "unknown option --fast" in done.stderr
    missing = tmp_path / "no-wheels"
    done = subprocess.run(
        ["bash", str(SUITE), "--wheels", str(missing)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and f"--wheels {missing}: folder not found" in done.stderr
