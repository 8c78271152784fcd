"""Budget, per-sample flags, curves and honesty flags reach MLflow (a local SQLite store), and the leaderboard row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def test_robustness_run_in_mlflow(tmp_path, test_seed) -> None:
    import visionbench
    from visionbench.harness.record import row_from_run
    from visionbench.harness.tracking import client_for

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    task = f"robustness:digits?attacks=fgsm,pgd&eps=0.05,0.1&n=40&seed={test_seed}"
    record = visionbench.evaluate("zoo:digits-cnn", task, device="cpu", output=tmp_path / "runs", tracking_uri=uri,
                                  bootstrap=50, quiet=True)  # fmt: skip
    assert record["tracking"]["status"] == "logged", record["tracking"]
    client = client_for(uri)
    run = client.get_run(record["tracking"]["run_id"])
    budget = json.loads(run.data.params["task.budget"])
    assert (
        budget["attacks"] == ["fgsm", "pgd"] and budget["eps"] == [0.05, 0.1] and budget["seed"] == test_seed
    )
    assert budget["num_samples"] == 40 and budget["steps"] == 10 and budget["norm"] == "Linf"
    assert run.data.tags["vb.honesty"] == "passed"
    metrics = run.data.metrics
    for key in ("robust_top1", "clean_top1", "robust_top1/linf/0.1", "robust_top1/pgd/linf/0.05", "honesty_flags",
                "attack_success_rate/linf/0.1", "robust_top1_ci_low", "clean_top1_ci_high"):  # fmt: skip
        assert metrics[key] == record["metrics"][key], key
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"record.json", "predictions.parquet", "robust_curve.json", "robust_curve.png", "honesty.json",
            "adversarial_gallery.png"} <= names  # fmt: skip
    local = Path(client.download_artifacts(run.info.run_id, "predictions.parquet", str(tmp_path / "dl")))
    flags = pd.read_parquet(local)
    assert flags["robust"].mean() == record["metrics"]["robust_top1"] and len(flags) == 40
    assert flags["pgd/linf/0.1"].dtype == bool
    curve = json.loads(
        Path(
            client.download_artifacts(run.info.run_id, "robust_curve.json", str(tmp_path / "dl"))
        ).read_text()
    )
    assert curve["series"]["worst case"][-1] == [0.1, record["metrics"]["robust_top1"]]
    row = row_from_run(run)
    assert row["kind"] == "robustness" and row["honesty"] == "passed"
    assert row["robust_top1"] == record["metrics"]["robust_top1"]
