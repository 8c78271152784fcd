"""Summary rows read straight from a local MLflow SQLite store with ``sqlite3``: no MLflow import, no paging.

MLflow's ``search_runs`` spends most of a cold load importing MLflow and building one entity per
run, metric, param and tag. The summary needs only each finished run's latest metrics, params and
tags, which are four plain queries here, turned into the same light run objects that
``record.row_from_run`` reads. A store whose tables do not look like MLflow's (another schema
version) raises :class:`SchemaMismatch`, and the caller falls back to ``search_runs``; a test keeps
both paths equal.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

RUNS = (
    "SELECT r.run_uuid, r.experiment_id, r.start_time, r.end_time, r.artifact_uri, e.name "
    "FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id "
    "WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active' AND r.status = 'FINISHED'{since}"
)


class SchemaMismatch(Exception):
    """The SQLite file is not laid out as the MLflow store this reader knows."""


def _grouped(con: sqlite3.Connection, query: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for run, key, value in con.execute(query):
        out[run][key] = value
    return out


def sqlite_rows(db: Path, since_end: int | None = None) -> list[dict[str, Any]]:
    """One summary row per finished run of an active experiment (``end_time > since_end`` when given)."""
    from visionbench.harness.record import row_from_run

    since = f" AND r.end_time > {int(since_end)}" if since_end else ""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
            con.execute("CREATE TEMP TABLE chosen (run_uuid TEXT PRIMARY KEY)")
            runs = con.execute(RUNS.format(since=since)).fetchall()
            con.executemany("INSERT INTO chosen VALUES (?)", [(r[0],) for r in runs])
            tags = _grouped(
                con, "SELECT t.run_uuid, t.key, t.value FROM tags t JOIN chosen c USING (run_uuid)"
            )
            params = _grouped(
                con, "SELECT p.run_uuid, p.key, p.value FROM params p JOIN chosen c USING (run_uuid)"
            )
            metrics = _grouped(
                con,
                "SELECT m.run_uuid, m.key, CASE WHEN m.is_nan THEN 'nan' ELSE m.value END "
                "FROM latest_metrics m JOIN chosen c USING (run_uuid)",
            )
    except sqlite3.Error as exc:
        raise SchemaMismatch(str(exc)) from None
    rows = []
    for run_id, experiment_id, start, end, artifact_uri, experiment in runs:
        run_tags = tags.get(run_id, {})
        if not run_tags.get("vb.kind"):
            continue
        run = SimpleNamespace(
            info=SimpleNamespace(
                run_id=run_id, experiment_id=str(experiment_id), start_time=start, end_time=end,
                artifact_uri=artifact_uri,
            ),
            data=SimpleNamespace(
                tags=run_tags, params=params.get(run_id, {}),
                metrics={k: float(v) for k, v in metrics.get(run_id, {}).items()},
            ),
        )  # fmt: skip
        rows.append(row_from_run(run, experiment))
    return rows
