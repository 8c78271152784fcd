"""Start-up time of the command line: `visionbench --help` must return in under one second."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench" / "cli_startup.json"
GOAL_SECONDS = 1.0


def _help() -> None:
    subprocess.run(
        [sys.executable, "-m", "visionbench.harness.cli", "--help"], check=True, capture_output=True
    )


def test_help_starts_fast(benchmark) -> None:
    benchmark.pedantic(_help, rounds=10, iterations=1, warmup_rounds=1)
    stats = benchmark.stats.stats
    # the imports behind --help: nothing heavy may be loaded
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; from visionbench.harness import cli; print(json.dumps(sorted(sys.modules)))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    loaded = set(json.loads(probe.stdout))
    heavy = sorted(loaded & {"torch", "mlflow", "streamlit", "transformers", "numpy", "pandas", "sklearn"})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "visionbench --help (python -m visionbench.harness.cli --help), wall seconds",
                "goal_seconds": GOAL_SECONDS,
                "mean": stats.mean,
                "max": stats.max,
                "min": stats.min,
                "rounds": stats.rounds,
                "heavy_modules_imported": heavy,
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            indent=2,
        )
        + "\n"
    )
    assert not heavy, heavy
    assert stats.max < GOAL_SECONDS
