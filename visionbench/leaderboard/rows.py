"""Summary rows: one per MLflow run logged by ``visionbench.harness.tracking``, or per results record on disk.

The record <-> MLflow <-> row mapping itself lives in :mod:`visionbench.harness.record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PAGE_SIZE = 1000  # search_runs' maximum page


def client_for(uri: str) -> Any:
    """An MlflowClient for ``uri`` through the harness's one helper (quiet; SQLite schema built under a lock)."""
    from visionbench.harness.tracking import client_for as tracking_client

    return tracking_client(uri)


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
    from visionbench.harness.record import row_from_run

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


def folder_rows(root: Path, skipped: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """One row per valid record under ``root``; each invalid one goes to ``skipped`` as ``(path, reason)``."""
    from visionbench.harness.record import iter_records, row_from_record

    bad: list[tuple[Path, str]] = []
    found = [row_from_record(record, path) for path, record in iter_records(root, bad)]
    if skipped is not None:
        skipped += [(str(path), reason) for path, reason in bad]
    return found
