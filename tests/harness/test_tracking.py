"""A run lands in the real MLflow store with its params, metrics, tags and artifacts; records validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionbench.harness.record import read_record, validate
from visionbench.harness.runner import execute
from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

EXPECTED_METRICS = {"top1", "top5", "precision_macro", "recall_macro", "f1_macro", "auroc_macro", "ece", "f1/3",
                    "top1_ci_low", "top1_ci_high", "throughput_ips", "latency_ms_p50", "peak_mem_mb", "params_m"}  # fmt: skip
EXPECTED_TAGS = {"vb.model", "vb.task", "vb.kind", "vb.dataset", "vb.model_fingerprint", "vb.dataset_fingerprint",
                 "vb.run_fingerprint", "vb.code_version", "vb.hardware", "vb.precision", "vb.family", "vb.licence"}  # fmt: skip
EXPECTED_PARAMS = {
    "model.spec",
    "model.preprocess",
    "task.id",
    "task.version",
    "env.batch_size",
    "env.precision",
    "env.device",
}


def _run(workdir: Path, **kwargs) -> tuple[dict, Path]:
    spec = RunSpec(parse_model_spec("zoo:digits-linear"), parse_task_spec("digits"), "cpu", limit=200)
    outcome = execute(spec, output=workdir / "results", quiet=True, bootstrap_reps=200, **kwargs)
    return outcome.record, outcome.directory


def test_run_is_searchable_in_mlflow(workdir: Path) -> None:
    import mlflow

    record, directory = _run(workdir)
    assert record["tracking"]["status"] == "logged"
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["visionbench"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id == record["tracking"]["run_id"]
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) >= EXPECTED_METRICS
    assert run.data.metrics["top1"] == pytest.approx(record["metrics"]["top1"])
    assert set(run.data.tags) >= EXPECTED_TAGS
    assert run.data.tags["vb.model"] == "zoo:digits-linear"
    assert run.data.tags["vb.kind"] == "classification"
    assert set(run.data.params) >= EXPECTED_PARAMS
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"record.json", "predictions.parquet", "confusion_matrix.csv", "confusion_matrix.png"} <= artifacts
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="record.json", dst_path=str(workdir / "dl")
    )
    logged = json.loads(Path(local).read_text())
    validate(logged)
    assert logged["tracking"]["run_id"] == run.info.run_id


def test_record_and_predictions_on_disk(workdir: Path) -> None:
    import pandas as pd

    record, directory = _run(workdir, track=False)
    on_disk = read_record(directory / "record.json")  # validates against the JSON schema
    assert on_disk["task"]["num_samples"] == 200
    assert on_disk["code"]["version"]
    assert on_disk["environment"]["device"] == "cpu"
    frame = pd.read_parquet(directory / on_disk["artifacts"]["predictions"])
    assert len(frame) == 200
    assert {"sample_id", "target", "prediction", "confidence", "correct"} <= set(frame.columns)
    assert frame["correct"].mean() == pytest.approx(on_disk["metrics"]["top1"])
    low, high = on_disk["metrics"]["top1_ci_low"], on_disk["metrics"]["top1_ci_high"]
    assert low <= on_disk["metrics"]["top1"] <= high


def test_schema_rejects_broken_record(workdir: Path) -> None:
    from visionbench.errors import DataError

    record, directory = _run(workdir, track=False)
    broken = dict(record)
    broken["environment"] = {**record["environment"], "precision": "fp8"}
    with pytest.raises(DataError, match="environment/precision"):
        validate(broken)


def test_unreachable_store_keeps_the_run_and_sync_logs_it(workdir: Path) -> None:
    import mlflow

    from visionbench.harness.tracking import pending_runs, sync

    record, directory = _run(workdir, tracking_uri="http://127.0.0.1:9/")
    assert record["tracking"]["status"] == "pending"
    assert (directory / "record.json").is_file() and (directory / "predictions.parquet").is_file()
    assert pending_runs(workdir / "results") == [directory]
    uri = f"sqlite:///{workdir / 'synced.db'}"
    [(synced_dir, tracking)] = sync(workdir / "results", uri)
    assert tracking["status"] == "logged"
    assert not pending_runs(workdir / "results")
    mlflow.set_tracking_uri(uri)
    assert len(mlflow.search_runs(experiment_names=["visionbench"], output_format="list")) == 1
