"""Summary rows: one per MLflow run logged by ``visionbench.harness.tracking``, or per results record on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PAGE_SIZE = 1000  # search_runs' maximum page


def client_for(uri: str) -> Any:
    """An MlflowClient for ``uri`` with MLflow's and Alembic's chatter turned down."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiments(client: Any) -> dict[str, str]:
    """Active experiments, id -> name."""
    names, token = {}, None
    while True:
        page = client.search_experiments(max_results=PAGE_SIZE, page_token=token)
        names.update({e.experiment_id: e.name for e in page})
        token = page.token
        if not token:
            return names


def mlflow_rows(uri: str, since_end: int | None = None) -> list[dict[str, Any]]:
    """Page through ``search_runs`` once (1,000 runs a page); runs without ``vb.kind`` are not ours."""
    client = client_for(uri)
    names = experiments(client)
    ids = list(names)
    query = "attributes.status = 'FINISHED'" + (
        f" AND attributes.end_time > {int(since_end)}" if since_end else ""
    )
    rows, token = [], None
    while ids:
        page = client.search_runs(ids, query, max_results=PAGE_SIZE, page_token=token)
        rows += [
            row_from_run(run, names.get(run.info.experiment_id, ""))
            for run in page
            if run.data.tags.get("vb.kind")
        ]
        token = page.token
        if not token:
            break
    return rows


def row_from_run(run: Any, experiment: str = "") -> dict[str, Any]:
    """One summary row from an MLflow run logged by ``visionbench.harness.tracking``."""
    import pandas as pd

    tags, params, info = run.data.tags, run.data.params, run.info
    row = {
        "model": tags.get("vb.model", ""),
        "model_name": tags.get("vb.model_name") or tags.get("vb.model", ""),
        "family": tags.get("vb.family", ""),
        "licence": tags.get("vb.licence", ""),
        "task": tags.get("vb.task", ""),
        "kind": tags.get("vb.kind", ""),
        "dataset": tags.get("vb.dataset", ""),
        "hardware": tags.get("vb.hardware", ""),
        "device": tags.get("vb.device", ""),
        "precision": tags.get("vb.precision", ""),
        "suite": tags.get("vb.suite") or experiment,
        "num_samples": _int(params.get("task.num_samples")),
        "batch_size": _int(params.get("env.batch_size")),
        "created": pd.Timestamp(info.start_time, unit="ms", tz="UTC"),
        "run_id": info.run_id,
        "artifact_uri": info.artifact_uri,
        "record_path": None,
        "end_time": int(info.end_time or 0),
        "run_fingerprint": tags.get("vb.run_fingerprint", ""),
        "model_fingerprint": tags.get("vb.model_fingerprint", ""),
        "dataset_fingerprint": tags.get("vb.dataset_fingerprint", ""),
        "task_version": tags.get("vb.task_version", ""),
        "code_version": tags.get("vb.code_version", ""),
        "git_sha": tags.get("vb.git_sha", ""),
    }
    row.update({k: v for k, v in run.data.metrics.items() if k not in row})
    return row


def row_from_record(record: dict[str, Any], path: Path) -> dict[str, Any]:
    """One summary row from a results record on disk (static mode)."""
    import pandas as pd

    from visionbench.harness.tracking import metrics_for

    model, task, env = record["model"], record["task"], record["environment"]
    tracking = record.get("tracking") or {}
    row = {
        "model": model["spec"],
        "model_name": model["name"],
        "family": model["family"],
        "licence": model["licence"],
        "task": task["id"],
        "kind": task["kind"],
        "dataset": task["dataset"],
        "hardware": env.get("hardware", ""),
        "device": env.get("device", ""),
        "precision": env.get("precision", ""),
        "suite": record.get("suite", ""),
        "num_samples": task.get("num_samples"),
        "batch_size": env.get("batch_size"),
        "created": pd.Timestamp(record["created_at"]),
        "run_id": tracking.get("run_id"),
        "artifact_uri": None,
        "record_path": str(path),
        "end_time": 0,
        "run_fingerprint": record.get("run_fingerprint", ""),
        "model_fingerprint": model.get("fingerprint", ""),
        "dataset_fingerprint": task.get("dataset_fingerprint", ""),
        "task_version": task.get("version", ""),
        "code_version": record["code"].get("version", ""),
        "git_sha": record["code"].get("git_sha") or "",
    }
    row.update({k: v for k, v in metrics_for(record).items() if k not in row})
    return row


def folder_rows(root: Path) -> list[dict[str, Any]]:
    from visionbench.harness.record import iter_records

    return [row_from_record(record, path) for path, record in iter_records(root)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
