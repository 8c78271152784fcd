"""MLflow logging of results records: one MLflow run per (model, task), experiment = suite.

The embedded default store is ``sqlite:///mlflow.db`` in the working directory. When the store cannot
be reached the run still completes: the record stays on disk marked ``pending`` with a
``PENDING_SYNC`` marker that names the tracking URI, and ``visionbench sync`` logs it later, so no
result is lost.

Logging is idempotent. Each run folder has a run key (``vb.run_key``: run fingerprint + folder name)
set as a tag in the same call that creates the MLflow run; a retry (or ``sync``) first looks the key
up and completes that run instead of creating another, so a process killed at any point, or a server
that dies after creating the run, ends with exactly one FINISHED run once ``sync`` has run. Metric
timestamps come from the record, so logging the same record twice writes the same rows. Every
client goes through :func:`client_for`, which builds a SQLite store's schema once under a file lock
(:mod:`visionbench.harness.mlflow_sqlite`); calls are retried while SQLite reports a lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from visionbench.harness.faults import kill_point
from visionbench.harness.mlflow_sqlite import absolute_uri, retry_locked, sqlite_path
from visionbench.harness.record import RECORD_FILE, read_record, to_mlflow, write_record

DEFAULT_DB = "mlflow.db"
PENDING_MARKER = "PENDING_SYNC"
RUN_KEY_TAG = "vb.run_key"
BATCH = 900  # MLflow takes at most 1,000 metrics + params + tags in one log_batch


def resolve_tracking_uri(uri: str | None = None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else a SQLite file in the working directory.

    A relative SQLite path is made absolute, so that the URI stored with a pending record names the
    same file whatever directory ``sync`` runs in.
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return absolute_uri(uri)
    return f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def artifact_root(uri: str) -> str | None:
    """Keep artifacts beside a local SQLite store instead of a ./mlruns of whatever the working directory is."""
    db = sqlite_path(uri)
    if db is not None:
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


def client_for(uri: str) -> Any:
    """The one way to an MlflowClient: quiet logging, and a SQLite store built or migrated once, under a lock.

    MLflow migrates a SQLite store on the first open by any client, so the run, ``sync``, the
    leaderboard and the Python API all come here.
    """
    import logging

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # A server URI makes set_terminated print run links on stdout (and fetch the run once more).
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # MLflow logs every OperationalError it re-raises with a traceback; retry_locked handles them.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    from mlflow.tracking import MlflowClient

    if sqlite_path(uri) is not None:
        from visionbench.harness.mlflow_sqlite import ensure_schema, install_busy_timeout

        install_busy_timeout()
        ensure_schema(uri, artifact_root(uri))
    return retry_locked(lambda: MlflowClient(tracking_uri=uri))


def mark_pending(directory: Path, uri: str | None) -> None:
    """The marker ``sync`` looks for; it holds the tracking URI the run is to be logged to."""
    (Path(directory) / PENDING_MARKER).write_text((uri or "") + "\n")


def stored_uri(directory: Path, record: dict[str, Any]) -> str | None:
    """The tracking URI a pending run folder was meant for (its marker, else its record), if any."""
    marker = Path(directory) / PENDING_MARKER
    text = marker.read_text().strip() if marker.is_file() else ""
    return text or (record.get("tracking") or {}).get("uri") or None


def run_key(record: dict[str, Any], directory: Path) -> str:
    """The client-side identity of the MLflow run of one run folder (tag ``vb.run_key``)."""
    return f"{record['run_fingerprint'][:16]}-{Path(directory).name}"


@contextlib.contextmanager
def folder_lock(directory: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on the run folder itself while it is logged; yields False if busy and not waiting."""
    import fcntl

    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def log_record(record: dict[str, Any], directory: Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Log a record and its run folder as artifacts; returns the record's ``tracking`` section.

    Never raises for an unreachable store: the status is then ``pending`` with the error, and the
    marker file in the run folder lets ``sync`` find it later.
    """
    with folder_lock(directory):
        return _log_locked(record, Path(directory), resolve_tracking_uri(tracking_uri))


def _section(uri: str, record: dict[str, Any], run_id: str | None, status: str, error: str | None) -> dict:
    from visionbench.harness.mlflow_keys import sanitise
    from visionbench.harness.record import metric_values

    tracking = {"uri": uri, "experiment": record["suite"], "run_id": run_id, "status": status, "error": error}
    key_map = sanitise(metric_values(record))[1]
    if key_map:
        tracking["key_map"] = key_map
    return tracking


def _log_locked(record: dict[str, Any], directory: Path, uri: str) -> dict[str, Any]:
    try:
        run_id = _log(record, directory, uri)
    except Exception as exc:  # noqa: BLE001 - any store failure keeps the local record
        tracking = _section(uri, record, None, "pending", f"{type(exc).__name__}: {exc}"[:500])
        record["tracking"] = tracking
        write_record(record, directory)
        mark_pending(directory, uri)
        return tracking
    record["tracking"] = _section(uri, record, run_id, "logged", None)
    write_record(record, directory)
    (directory / PENDING_MARKER).unlink(missing_ok=True)
    return record["tracking"]


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


def keyed_run(uri: str, experiment: str, key: str, tags: dict[str, str]) -> tuple[Any, Any]:
    """``(client, run)``: the run logged under ``key`` (tag ``vb.run_key``) in ``experiment``, created
    with ``tags`` and the key in one call when there is none yet; the store is checked reachable first."""
    _check_reachable(uri)
    client = client_for(uri)
    experiment_id = _experiment_id(client, experiment, uri)
    tags = {**tags, RUN_KEY_TAG: key}
    run = retry_locked(
        lambda: _find_run(client, experiment_id, key) or _create_run(client, experiment_id, tags)
    )
    return client, run


def _log(record: dict[str, Any], directory: Path, uri: str) -> str:
    from mlflow.entities import Metric, Param, RunTag

    from visionbench.harness.mlflow_keys import key_map_tags, sanitise

    tags, params_map, metrics_map = to_mlflow(record)
    metrics_map, key_map = sanitise(metrics_map)
    tags.update(key_map_tags(key_map))
    client, run = keyed_run(uri, record["suite"], run_key(record, directory), tags)
    run_id = run.info.run_id
    kill_point("after_create_run")
    if run.info.status == "FINISHED":
        return run_id  # an earlier attempt logged everything; only the local record was left to update
    try:
        stamp = _timestamp_ms(record)
        metrics = [Metric(k, v, stamp, 0) for k, v in metrics_map.items()]
        params = [Param(k, v) for k, v in params_map.items()]
        for start in range(0, max(len(metrics), 1), BATCH):
            first = start == 0
            retried(
                client.log_batch,
                run_id,
                metrics=metrics[start : start + BATCH],
                params=params if first else [],
                tags=[RunTag("vb.record", RECORD_FILE)] if first else [],
            )
        record["tracking"] = _section(uri, record, run_id, "logged", None)
        write_record(record, directory)  # the logged copy of record.json names its run
        _log_folder(client, run_id, directory)
        kill_point("before_terminate")
        retried(client.set_terminated, run_id, "FINISHED")
        kill_point("after_terminate")
    except Exception:
        with contextlib.suppress(Exception):  # the store may be gone; sync completes the run later
            client.set_terminated(run_id, "FAILED")
        raise
    return run_id


def retried(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``, retried while SQLite reports a lock."""
    return retry_locked(lambda: method(*args, **kwargs))


def _experiment_id(client: Any, suite: str, uri: str) -> str:
    """Get or create the suite's experiment; a concurrent creator winning the race is not an error."""
    experiment = retried(client.get_experiment_by_name, suite)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return retried(client.create_experiment, suite, artifact_location=artifact_root(uri))
    except Exception as exc:
        if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
            raise
    experiment = retried(client.get_experiment_by_name, suite)
    if experiment is None:
        raise RuntimeError(f"experiment {suite!r} exists but cannot be read")
    return experiment.experiment_id


def _find_run(client: Any, experiment_id: str, key: str) -> Any:
    """The run already created for ``key`` (a FINISHED one first); duplicates of it are deleted."""
    runs = client.search_runs(
        [experiment_id],
        f"tags.`{RUN_KEY_TAG}` = '{key}'",
        max_results=50,
        order_by=["attributes.start_time ASC"],
    )
    if not runs:
        return None
    keep = next((r for r in runs if r.info.status == "FINISHED"), runs[0])
    for run in runs:
        if run.info.run_id != keep.info.run_id:
            client.delete_run(run.info.run_id)
    return keep


def _create_run(client: Any, experiment_id: str, tags: dict[str, str]) -> Any:
    return client.create_run(experiment_id, tags=tags, run_name=tags["mlflow.runName"])


def _timestamp_ms(record: dict[str, Any]) -> int:
    """The record's creation time: the same record always logs the same metric rows."""
    import datetime as dt
    import time

    try:
        return int(dt.datetime.fromisoformat(record["created_at"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        return int(time.time() * 1000)


def _log_folder(client: Any, run_id: str, directory: Path) -> None:
    """The run folder as artifacts, without the sync marker and hidden files."""
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if not path.is_file() or path.name == PENDING_MARKER or any(p.startswith(".") for p in rel.parts):
            continue
        parent = rel.parent.as_posix()
        retried(client.log_artifact, run_id, str(path), None if parent == "." else parent)


def pending_runs(root: Path) -> list[Path]:
    """Published run folders still to be logged (folders being staged are not runs yet)."""
    root = Path(root)
    return sorted(
        p.parent
        for p in root.rglob(PENDING_MARKER)
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def sync_one(directory: Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Log one pending folder to ``tracking_uri`` if given, else to the URI stored with it.

    Returns a tracking section; its status is ``logged``, ``pending`` (the store failed again),
    ``busy`` (another process is logging the folder now) or ``error`` (the folder cannot be read).
    """
    directory = Path(directory)
    try:
        with folder_lock(directory, wait=False) as locked:
            if not locked:
                return _status(tracking_uri, "busy", "another process is logging this run")
            record = read_record(directory / RECORD_FILE)
            if not (directory / PENDING_MARKER).exists():
                return dict(record.get("tracking") or _status(tracking_uri, "logged", None))
            uri = resolve_tracking_uri(tracking_uri or stored_uri(directory, record))
            return _log_locked(record, directory, uri)
    except Exception as exc:  # noqa: BLE001 - one bad folder is reported, the others still sync
        return _status(tracking_uri, "error", f"{type(exc).__name__}: {exc}"[:500])


def _status(uri: str | None, status: str, error: str | None) -> dict[str, Any]:
    return {"uri": uri, "experiment": None, "run_id": None, "status": status, "error": error}


def sync(root: Path, tracking_uri: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Log every pending run folder under ``root``; returns (folder, tracking section) pairs."""
    return [(directory, sync_one(directory, tracking_uri)) for directory in pending_runs(root)]


def sync_command(root: Path, tracking_uri: str | None = None) -> int:
    """``visionbench sync``: one line per folder; exit 1 when any folder was not logged (busy ones aside)."""
    results = sync(root, tracking_uri)
    if not results:
        print(f"nothing to sync under {root}")
    failed = 0
    for directory, tracking in results:
        status = tracking["status"]
        failed += status not in ("logged", "busy")
        detail = tracking.get("error") or (
            f"run {tracking.get('run_id')} in {tracking.get('uri')}" if status == "logged" else ""
        )
        print(f"{directory}: {status}" + (f" ({detail})" if detail else ""))
    if failed:
        print(f"{failed} of {len(results)} pending runs not logged", flush=True)
    return 1 if failed else 0
