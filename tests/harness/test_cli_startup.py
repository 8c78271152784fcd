"""`visionbench --help` imports nothing heavy: heavy modules load inside the handlers that need them.

How fast it starts is measured in ``benchmarks/test_bench_cli.py``; this test only checks what
a fresh interpreter imports, from Python's own ``-X importtime`` log of the real entry point.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "mlflow", "streamlit", "transformers", "pandas")


def _imported_by_help() -> tuple[str, set[str]]:
    """(help text, every module imported) for ``python -X importtime -m visionbench.harness.cli --help``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "visionbench.harness.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # each line: "import time: <self us> | <cumulative us> | <indent><dotted module name>"
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    modules.discard("imported package")  # the header line
    return done.stdout, modules


def test_help_imports_no_heavy_module() -> None:
    text, modules = _imported_by_help()
    assert "usage: visionbench" in text and "leaderboard" in text
    # the log is real: the entry point's own modules are in it
    assert {"argparse", "visionbench"} <= modules
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not loaded, f"`visionbench --help` imported {loaded}"
