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
ADDED_SINCE_GOLDEN = {"nll", "brier"}


def demo_pairs() -> list[tuple[str, str]]:
    from visionbench.harness.demo import demo_plan

    return demo_plan()


def run_pair(model: str, task: str, output: Path, *, whole: bool = False) -> dict:
    """One ``visionbench run --json --no-track`` in a fresh process; returns its metrics (or all its output)."""
    cmd = [sys.executable, "-m", "visionbench.harness.cli", "run", "--model", model, "--task", task]
    cmd += ["--json", "--no-track", "--device", "cpu", "--output", str(output)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{model} on {task} failed: {done.stderr.strip()[-2000:]}")
    out = json.loads(done.stdout)
    return out if whole else out["metrics"]


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
    output = run_pair(model, task, tmp_path, whole=True)
    got = output["metrics"]
    check_manifest(model.removeprefix("zoo:"), output, tmp_path)
    missing, added = set(expected) - set(got), set(got) - set(expected)
    assert not missing, f"metric keys lost for {model} on {task}: {sorted(missing)}"
    # keys added after the golden file was written; their values are checked against references
    # (tests/checks/test_calibration_reference.py), not here
    assert added <= ADDED_SINCE_GOLDEN, f"metric keys added for {model} on {task}: {sorted(added)}"
    for key, want in expected.items():
        have = got[key]
        if want is None or have is None:
            assert want is None and have is None, f"{model} on {task}: {key} = {have}, golden {want}"
            continue
        assert math.isclose(have, want, rel_tol=0, abs_tol=1e-12), (
            f"{model} on {task}: {key} = {have!r}, golden {want!r}"
        )


# manifest key -> run metric key; per-class {class: value} tables become "<prefix>/<class>"
MANIFEST_FIGURES = {
    "test_top1": "top1",
    "test_map": "map",
    "test_map_50": "map_50",
    "test_miou": "miou",
    "test_pixel_accuracy": "pixel_accuracy",
}
MANIFEST_PER_CLASS = {"test_iou": "iou"}


def expected_figures(record: dict) -> dict[str, float]:
    """The manifest's figures of one model under the run's metric names."""
    figures = {metric: record[key] for key, metric in MANIFEST_FIGURES.items() if key in record}
    for key, prefix in MANIFEST_PER_CLASS.items():
        figures.update({f"{prefix}/{cls}": value for cls, value in record.get(key, {}).items()})
    return figures


def check_manifest(name: str, output: dict, cwd: Path) -> None:
    """The same run reproduces the zoo manifest's figures (the manifest's authoritative check).

    The trainers write each figure as ``round(value, 6)`` (``visionbench/zoo/train*.py``), so a figure
    is compared within half a unit of the sixth decimal; top-1 is also checked exactly as a count of
    correct images. (``tests/zoo/test_zoo.py`` checks the same weights with the trainer's own evaluation.)
    """
    from visionbench.zoo.catalog import MANIFEST_NAME, WEIGHTS_DIR

    record = json.loads((WEIGHTS_DIR / MANIFEST_NAME).read_text(encoding="utf-8"))["models"][name]
    run_record = json.loads(Path(cwd, output["record"]).read_text(encoding="utf-8"))
    assert run_record["task"]["dataset"].endswith("-test")  # measured on the whole test split
    assert run_record["task"]["num_samples"] == record["test_samples"]
    expected = expected_figures(record)
    metrics = output["metrics"]
    off = {k: (metrics[k], v) for k, v in expected.items() if abs(metrics[k] - v) > 0.5e-6 + 1e-9}
    assert not off, f"{name}: run figure != manifest (rounded to 6 decimals): {off}"
    if "test_top1" in record:
        correct = metrics["top1"] * record["test_samples"]
        assert correct == pytest.approx(round(correct), abs=1e-6)
        assert round(correct) == round(record["test_top1"] * record["test_samples"])


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
