"""``visionbench score classification`` of a 300-row CSV pair as a whole process: goal under 1.5 s.

The same files as the Fashion-MNIST end-to-end benchmark (300 rows, 5 classes, score columns),
scored by the real command in a fresh interpreter each round (start-up, imports, parsing, metrics,
1,000-resample intervals, the run folder). Beside the wall time, one round lists the heavy modules
the process imported: the score path must not load torch. ``VB_BENCH_ROUNDS`` sets the rounds
(default 7); the median goes to ``results/bench/score_classification.json`` with the load average.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "bench" / "score_classification.json"
ROUNDS = int(os.environ.get("VB_BENCH_ROUNDS", "7"))
GOAL_SECONDS = 1.5
HEAVY = ("torch", "torchmetrics", "torchvision", "sklearn", "scipy", "pandas", "mlflow", "matplotlib")
PROBE = (
    "import json, sys\n"
    "from visionbench.harness.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('PROBE ' + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
)


def _score_files(folder: Path) -> tuple[Path, Path]:
    """The Fashion-MNIST benchmark's score files (loaded by path: the benchmarks are not a package)."""
    spec = importlib.util.spec_from_file_location(
        "bench_fashion", Path(__file__).with_name("test_bench_fashion.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._score_files(folder)


def test_score_classification_whole_process(benchmark, tmp_path: Path) -> None:
    gt, pred = _score_files(tmp_path)
    argv = ["score", "classification", "--gt", str(gt), "--pred", str(pred), "--json"]
    argv += ["--output", str(tmp_path / "scored")]
    command = [sys.executable, "-m", "visionbench.harness.cli", *argv]
    seconds: list[float] = []
    load_start = os.getloadavg()

    def once() -> None:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout)["num_samples"] == 300

    once()  # warm the page cache; not counted
    seconds.clear()
    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], capture_output=True, text=True, check=False
    )
    heavy = json.loads(probe.stderr.rsplit("PROBE ", 1)[1])
    median = statistics.median(seconds)
    out = {
        "benchmark": "visionbench score classification, 300 rows x 5 classes, whole process, wall seconds",
        "goal_seconds": GOAL_SECONDS,
        "median_s": median,
        "all_s": seconds,
        "heavy_modules_imported": heavy,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    assert "torch" not in heavy, heavy
    assert median < GOAL_SECONDS, f"score classification took {median:.2f} s (median of {ROUNDS})"
