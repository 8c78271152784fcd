"""MLflow logging of results records: one MLflow run per (model, task), experiment = suite.

The embedded default store is ``sqlite:///mlflow.db`` in the working directory. When the
store cannot be reached the run still completes: the record stays on disk marked
``pending`` and ``visionbench sync`` logs it later, so no result is lost.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from visionbench.harness.record import to_mlflow, write_record

DEFAULT_DB = "mlflow.db"
PENDING_MARKER = "PENDING_SYNC"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else a SQLite file in the working directory."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def artifact_root(uri: str) -> str | None:
    """Keep artifacts beside a local SQLite store instead of a ./mlruns of whatever the working directory is."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def log_record(record: dict[str, Any], directory: Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Log a record and its run folder as artifacts; returns the record's ``tracking`` section.

    Never raises for an unreachable store: the status is then ``pending`` with the error,
    and a marker file in the run folder lets ``sync`` find it later.
    """
    uri = resolve_tracking_uri(tracking_uri)
    suite = record["suite"]
    marker = directory / PENDING_MARKER
    try:
        run_id = _log(record, directory, uri, suite)
    except Exception as exc:  # noqa: BLE001 - any store failure keeps the local record
        tracking = {
            "uri": uri,
            "experiment": suite,
            "run_id": None,
            "status": "pending",
            "error": f"{type(exc).__name__}: {exc}"[:500],
        }
        record["tracking"] = tracking
        write_record(record, directory)
        marker.write_text(uri + "\n")
        return tracking
    tracking = {"uri": uri, "experiment": suite, "run_id": run_id, "status": "logged", "error": None}
    record["tracking"] = tracking
    write_record(record, directory)
    marker.unlink(missing_ok=True)
    return tracking


def _check_reachable(uri: str, timeout: float = 3.0) -> None:
    """Fail fast for a tracking server that does not answer, instead of MLflow's minutes of retries."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # it answered
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"tracking server {uri} is unreachable: {exc}") from None


def _log(record: dict[str, Any], directory: Path, uri: str, suite: str) -> str:
    _check_reachable(uri)
    import logging

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(suite)
    if experiment is None:
        experiment_id = client.create_experiment(suite, artifact_location=artifact_root(uri))
    else:
        experiment_id = experiment.experiment_id
    tags, params_map, metrics_map = to_mlflow(record)
    run = client.create_run(experiment_id, tags=tags, run_name=tags["mlflow.runName"])
    run_id = run.info.run_id
    try:
        import time

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in metrics_map.items()]
        params = [Param(k, v) for k, v in params_map.items()]
        for start in range(0, max(len(metrics), 1), 900):
            client.log_batch(
                run_id, metrics=metrics[start : start + 900], params=params if start == 0 else []
            )
        client.log_batch(run_id, tags=[RunTag("vb.record", "record.json")])
        record["tracking"] = {
            "uri": uri,
            "experiment": suite,
            "run_id": run_id,
            "status": "logged",
            "error": None,
        }
        write_record(record, directory)
        client.log_artifacts(run_id, str(directory))
        client.set_terminated(run_id, "FINISHED")
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    return run_id


def pending_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob(PENDING_MARKER))


def sync(root: Path, tracking_uri: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Log every pending run folder under ``root``; returns (folder, tracking section) pairs."""
    from visionbench.harness.record import RECORD_FILE, read_record

    results = []
    for directory in pending_runs(root):
        record = read_record(directory / RECORD_FILE)
        results.append((directory, log_record(record, directory, tracking_uri)))
    return results
