"""Every zoo model reproduces its manifest figures through the real command line.

This is the authoritative check of ``weights/manifest.json``: each entry is evaluated by
``visionbench run`` in a fresh interpreter, on the task the demo runs it on, and every figure
the manifest records must come back. The trainers write each figure as ``round(value, 6)``
(``visionbench/zoo/train*.py``), so a figure can only be compared to within half a unit of
the sixth decimal; classification accuracies are also checked exactly as counts of correct
images, since ``top1 * test_samples`` is an integer. (``tests/zoo/test_zoo.py`` checks the
same weights with the trainer's own evaluation.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from visionbench.harness.specs import TASK_ALIASES
from visionbench.tasks.data.idx import DEFAULT_FASHION_MNIST_DIR
from visionbench.zoo.catalog import MANIFEST_NAME, WEIGHTS_DIR, ZOO

pytestmark = pytest.mark.slow

MANIFEST: dict[str, dict[str, Any]] = json.loads((WEIGHTS_DIR / MANIFEST_NAME).read_text(encoding="utf-8"))[
    "models"
]
# manifest key -> key of the figure in `visionbench run --json` metrics
FIGURES = {
    "test_top1": "top1",
    "test_map": "map",
    "test_map_50": "map_50",
    "test_miou": "miou",
    "test_pixel_accuracy": "pixel_accuracy",
}
PER_CLASS = {"test_iou": "iou"}  # {class: value} -> "iou/<class>"
# Half a unit of the sixth decimal (the manifest's rounding) plus float noise.
ROUNDING = 0.5e-6 + 1e-9


def _task(name: str) -> str:
    dataset = ZOO[name].dataset
    return TASK_ALIASES.get(dataset, dataset)


def _expected(record: dict[str, Any]) -> dict[str, float]:
    """The manifest's figures of one model under the CLI's metric names."""
    figures = {metric: record[key] for key, metric in FIGURES.items() if key in record}
    for key, prefix in PER_CLASS.items():
        figures.update({f"{prefix}/{cls}": value for cls, value in record.get(key, {}).items()})
    return figures


def test_manifest_and_catalogue_name_the_same_models() -> None:
    assert set(MANIFEST) == set(ZOO)
    for name, record in MANIFEST.items():
        assert record["name"] == name and record["kind"] == ZOO[name].kind
        assert record["dataset"] == ZOO[name].dataset
        assert _expected(record), f"{name}: no headline figure in the manifest"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_cli_reproduces_the_manifest_figures(name: str, tmp_path: Path) -> None:
    record = MANIFEST[name]
    if record["dataset"] == "fashion-mnist" and not Path(DEFAULT_FASHION_MNIST_DIR).is_dir():
        pytest.skip(
            f"Fashion-MNIST is not installed in {DEFAULT_FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)"
        )
    task = _task(name)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # --bootstrap 0: the intervals are not compared and the point figures do not depend on them.
    command = [
        sys.executable, "-m", "visionbench.harness.cli", "run", "--model", f"zoo:{name}", "--task", task,
        "--json", "--no-track", "--device", "cpu", "--bootstrap", "0", "--output", str(tmp_path / "runs"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["model"] == f"zoo:{name}" and result["task"].startswith(f"{record['kind']}:")
    run_record = json.loads(Path(tmp_path, result["record"]).read_text(encoding="utf-8"))
    # the manifest was measured on the test split, all of it
    assert run_record["task"]["dataset"].endswith("-test")
    assert run_record["task"]["num_samples"] == record["test_samples"]
    assert run_record["environment"]["precision"] == "fp32"

    metrics = result["metrics"]
    expected = _expected(record)
    assert set(expected) <= set(metrics)
    got = {key: metrics[key] for key in expected}
    off = {key: (got[key], value) for key, value in expected.items() if abs(got[key] - value) > ROUNDING}
    assert not off, f"{name}: CLI figure != manifest (rounded to 6 decimals): {off}"
    if "test_top1" in record:
        n = record["test_samples"]
        correct = metrics["top1"] * n
        assert correct == pytest.approx(round(correct), abs=1e-6)
        assert round(correct) == round(record["test_top1"] * n)
