"""Schema-1 records (written before the state store) stay readable: folders, pending sync and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

V2_ONLY = ("identity", "state", "statistics", "distributed")


def _schema1_record(workdir: Path, cli) -> dict:
    code, out, err = cli(
        "run", "--model", "zoo:digits-linear", "--task", "digits", "--json", "--no-track", "--output", "new",
        "--bootstrap", "50",
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(Path(json.loads(out)["record"]).read_text())
    for key in V2_ONLY:
        record.pop(key, None)
    record["task"].pop("metric_version", None)
    record["model"].pop("source", None)
    record["environment"].pop("libraries", None)
    record["schema_version"] = 1
    return record


def test_schema1_folder_is_listed_and_synced(workdir: Path, cli) -> None:
    from visionbench.harness.record import iter_records, row_from_record, validate

    record = _schema1_record(workdir, cli)
    validate(record)
    # the schema-1 layout: <output>/<task slug>/<model slug>/record.json, pending sync
    old = workdir / "old" / "classification-digits" / "zoo-digits-linear"
    old.mkdir(parents=True)
    record["tracking"] = {
        "uri": None,
        "experiment": "visionbench",
        "run_id": None,
        "status": "pending",
        "error": "x",
    }
    (old / "record.json").write_text(json.dumps(record))
    (old / "predictions.parquet").write_bytes(
        (Path("new").rglob("predictions.parquet").__next__()).read_bytes()
    )
    (old / "PENDING_SYNC").write_text(f"sqlite:///{workdir / 'mlflow.db'}\n")
    ((path, read),) = iter_records(workdir / "old")
    assert read["schema_version"] == 1
    row = row_from_record(read, path)
    assert row["model"] == "zoo:digits-linear" and row["top1"] == record["metrics"]["top1"]
    assert row["prediction_identity"] == ""
    code, out, err = cli("list", "runs", "--output", "old")
    assert code == 0 and "digits-linear" in out
    code, out, err = cli("sync", "--output", "old")
    assert code == 0, err
    assert "logged" in out
    from visionbench.leaderboard.rows import mlflow_rows

    (mlflow_row,) = mlflow_rows(f"sqlite:///{workdir / 'mlflow.db'}")
    assert mlflow_row["model"] == "zoo:digits-linear"
    assert mlflow_row["top1"] == record["metrics"]["top1"]
    assert mlflow_row["run_fingerprint"] == record["run_fingerprint"]
