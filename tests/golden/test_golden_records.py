"""Write the golden records of the demo suite: every zoo model on its task, through ``visionbench run``.

The golden file was produced by the code as it stood before the evaluation-core redesign; the test
reruns the same commands and compares every metric and interval to 1e-12. Regenerate only for an
intended change of numbers: ``python tests/golden/test_golden_records.py`` (writes
``tests/golden/demo_records.json``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

GOLDEN = Path(__file__).with_name("demo_records.json")


def demo_pairs() -> list[tuple[str, str]]:
    from visionbench.harness.demo import demo_plan

    return demo_plan()


def run_pair(model: str, task: str, output: Path) -> dict:
    """One ``visionbench run --json --no-track`` in a fresh process; returns its metrics."""
    cmd = [sys.executable, "-m", "visionbench.harness.cli", "run", "--model", model, "--task", task]
    cmd += ["--json", "--no-track", "--device", "cpu", "--output", str(output)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{model} on {task} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)["metrics"]


def _pairs_with_golden() -> list[tuple[str, str]]:
    golden = json.loads(GOLDEN.read_text())
    return [tuple(key.split(" | ")) for key in sorted(golden)]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "task"), _pairs_with_golden())
def test_demo_record_equals_golden(model: str, task: str, tmp_path: Path) -> None:
    if task.endswith("fashion-mnist"):
        from visionbench.tasks.data.idx import DEFAULT_FASHION_MNIST_DIR

        if not Path(DEFAULT_FASHION_MNIST_DIR).is_dir():
            pytest.skip("Debian's dataset-fashion-mnist is not installed")
    expected = json.loads(GOLDEN.read_text())[f"{model} | {task}"]
    got = run_pair(model, task, tmp_path)
    assert sorted(got) == sorted(expected), f"metric keys changed for {model} on {task}"
    for key, want in expected.items():
        have = got[key]
        if want is None or have is None:
            assert want is None and have is None, f"{model} on {task}: {key} = {have}, golden {want}"
            continue
        assert math.isclose(have, want, rel_tol=0, abs_tol=1e-12), (
            f"{model} on {task}: {key} = {have!r}, golden {want!r}"
        )


def main() -> int:
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, task in demo_pairs():
            records[f"{model} | {task}"] = run_pair(model, task, Path(tmp))
            print(f"{model} on {task}: {len(records[f'{model} | {task}'])} metrics", flush=True)
    GOLDEN.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
