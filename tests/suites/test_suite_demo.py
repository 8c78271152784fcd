"""``visionbench demo`` is the built-in suite file, and its generalisation pairing reaches the record and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from visionbench.tasks.data.opencv_digits import DEFAULT_OPENCV_DIGITS

# The plan the demo ran before it became a suite file (derived then from the zoo catalogue), in order.
ROBUSTNESS = (
    "robustness:digits?attacks=fgsm,pgd&eps=8/255,0.1&n=64"
    "&corruptions=gaussian_noise,contrast&severities=1,3,5&baseline=zoo:digits-linear"
)
EARLIER_PLAN = [
    ("zoo:digits-linear", "classification:digits"),
    ("zoo:digits-mlp", "classification:digits"),
    ("zoo:digits-cnn", "classification:digits"),
    ("zoo:fashion-cnn", "classification:fashion-mnist"),
    ("zoo:shapes-centernet", "detection:shapes"),
    ("zoo:shapes-centernet-tiny", "detection:shapes"),
    ("zoo:shapes-unet", "segmentation:shapes"),
    ("zoo:shapes-fcn", "segmentation:shapes"),
    ("zoo:shapes-captioner", "captioning:shapes?n=50&meteor=off"),
    ("zoo:shapes-captioner-tiny", "captioning:shapes?n=50&meteor=off"),
    ("zoo:digits-linear", ROBUSTNESS),
    ("zoo:digits-cnn", ROBUSTNESS),
]


def test_demo_plan_is_the_suite_files_matrix() -> None:
    from visionbench.harness.demo import demo_plan, demo_suite
    from visionbench.tasks.data.idx import DEFAULT_FASHION_MNIST_DIR
    from visionbench.zoo.catalog import ZOO

    plan = demo_plan()
    assert len(plan) == len(set(plan))
    fashion = Path(DEFAULT_FASHION_MNIST_DIR).is_dir()
    earlier = [pair for pair in EARLIER_PLAN if fashion or "fashion" not in pair[1]]
    assert [pair for pair in plan if pair in EARLIER_PLAN] == earlier  # the same runs, in the same order
    assert all(model.removeprefix("zoo:") in ZOO for model, _ in plan)
    pairings = [run for run in demo_suite().runs if run.pairing]
    assert {run.task for run in pairings} == {
        "classification:opencv-digits",
        "segmentation:shapes?style=shifted&n=100",
    }


@pytest.mark.skipif(not Path(DEFAULT_OPENCV_DIGITS).is_file(), reason="Debian's opencv-doc is not installed")
def test_demo_runs_the_generalisation_pairing_into_record_and_mlflow(workdir: Path, cli, monkeypatch) -> None:
    from visionbench.harness import demo

    # the demo's plan cut to the digits CNN: its pairing with OpenCV's digits comes with it
    monkeypatch.setattr(demo, "demo_plan", lambda: [("zoo:digits-cnn", "classification:digits")])
    code, out, err = cli("demo", "--bootstrap", "200", "--device", "cpu", "--no-checks")
    assert code == 0, err
    assert "generalisation gap top1 (digits -> opencv-digits)" in out
    records = [json.loads(p.read_text()) for p in (workdir / "results" / "runs").rglob("record.json")]
    shifted = next(r for r in records if r["task"]["id"] == "classification:opencv-digits")
    reference = next(r for r in records if r["task"]["id"] == "classification:digits")
    section = shifted["generalisation"]
    assert section["in_distribution"]["run_fingerprint"] == reference["run_fingerprint"]
    assert section["gap"] == reference["metrics"]["top1"] - shifted["metrics"]["top1"]
    assert section["gap_ci_low"] < section["gap"] < section["gap_ci_high"]
    # OpenCV's rows are in digit order: every class is recognised well above chance (0.1)
    assert shifted["task"]["num_samples"] == 5000
    assert min(v for k, v in shifted["metrics"].items() if k.startswith("f1/")) > 0.1

    from visionbench.harness.tracking import client_for

    client = client_for(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("visionbench")
    runs = {r.data.tags["vb.task"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"classification:digits", "classification:opencv-digits"}
    in_mlflow = runs["classification:opencv-digits"].data.metrics
    assert in_mlflow["generalisation_gap"] == (
        runs["classification:digits"].data.metrics["top1"] - in_mlflow["top1"]
    )
    assert in_mlflow["generalisation_gap_ci_high"] == section["gap_ci_high"]
    assert runs["classification:opencv-digits"].data.params["generalisation.in_distribution_task"] == (
        "classification:digits"
    )


def test_segmentation_gap_on_shifted_shapes(workdir: Path, cli) -> None:
    """The shapes pairing's path: same scenes in new colours on a new background, gap of mIoU with an interval."""
    suite = workdir / "shapes.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "generalisation": [
                    {"model": "zoo:shapes-fcn", "in_distribution": "segmentation:shapes?n=24",
                     "shifted": "segmentation:shapes?style=shifted&n=24", "metric": "miou"}
                ]
            }
        )
    )  # fmt: skip
    code, out, err = cli(
        "suite",
        "run",
        str(suite),
        "--no-track",
        "--bootstrap",
        "100",
        "--no-checks",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, err
    runs = json.loads(out)["runs"]
    reference, shifted = runs
    section = shifted["generalisation"]
    assert section["gap"] == reference["metrics"]["miou"] - shifted["metrics"]["miou"]
    assert section["gap_ci_low"] < section["gap"] < section["gap_ci_high"]
    assert section["in_distribution"]["value"] == reference["metrics"]["miou"]
    record = json.loads(Path(shifted["record"]).read_text())
    assert record["task"]["dataset"] == "shapes-shifted-test"
