"""The corruption grid's summary as an MLflow run of its own, beside the runs of its cells.

Each cell of :func:`~visionbench.robustness.grid.run_grid` is an ordinary run, logged like any other;
the summary (``P_clean``, every cell's headline, ``mpc``, ``rpc``) is logged here as one more run in
the same experiment, so that mPC and rPC can be read, compared and charted in MLflow too:

* metrics: the summary's (finite) metrics under MLflow keys (:func:`~visionbench.harness.mlflow_keys.sanitise`);
* params: model, task, corruptions, severities, seed, limit and the resize policy;
* tags: ``vb.grid`` = ``corruption``, the model and task, the number of cells; no ``vb.kind``,
  so the leaderboard, which ranks (model, task) records, does not take it for one;
* artifacts: the summary JSON (listing each cell's run fingerprint and MLflow run id) and the heat map.

Logging is idempotent as for records: the run key hashes the model, task, policy and the cells' run
fingerprints, so an unchanged grid logged again finds its FINISHED run instead of adding one. A store
that cannot be reached leaves the summary on disk with ``tracking.status`` ``failed`` and the error;
the grid's results are never lost to it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

GRID_TAG = "vb.grid"


def grid_key(summary: dict[str, Any]) -> str:
    """The run key of a grid summary: its model, task, policy and cells' run fingerprints."""
    content = {
        "model": summary["model"],
        "task": summary["task"],
        "policy": summary["policy"],
        "runs": sorted(cell["run_fingerprint"] for cell in summary["runs"]),
    }
    return "grid-" + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def log_grid_summary(summary: dict[str, Any], suite: str, tracking_uri: str | None) -> dict[str, Any]:
    """Log ``summary`` (written by :func:`~visionbench.robustness.grid.write_summary`) to MLflow; returns
    its ``tracking`` section (``uri``, ``experiment``, ``run_id``, ``status``, ``error``)."""
    from visionbench.harness.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    try:
        run_id = _log(summary, suite, uri)
    except Exception as exc:  # noqa: BLE001 - the summary stays on disk; the section says why
        return {"uri": uri, "experiment": suite, "run_id": None, "status": "failed", "error": str(exc)}
    return {"uri": uri, "experiment": suite, "run_id": run_id, "status": "logged", "error": None}


def _log(summary: dict[str, Any], suite: str, uri: str) -> str:
    import contextlib

    from mlflow.entities import Metric, Param, RunTag

    from visionbench.harness.mlflow_keys import sanitise
    from visionbench.harness.tracking import keyed_run, retried

    tags = {
        "mlflow.runName": f"corruption grid: {summary['model']} on {summary['task']}"[:250],
        GRID_TAG: "corruption",
        "vb.model": str(summary["model"]),
        "vb.task": str(summary["task"]),
        "vb.cells": str(sum(1 for cell in summary["runs"] if cell["corruption"] is not None)),
    }
    client, run = keyed_run(uri, suite, grid_key(summary), tags)
    run_id = run.info.run_id
    if run.info.status == "FINISHED":
        return run_id  # this very grid was logged before
    try:
        finite = {k: float(v) for k, v in summary["metrics"].items() if math.isfinite(float(v))}
        metrics, _ = sanitise(finite)
        stamp = int(summary["created_ms"])
        grid = summary["grid"]
        params = {
            "model": summary["model"],
            "task": summary["task"],
            "corruptions": ",".join(grid["corruptions"]),
            "severities": ",".join(str(s) for s in grid["severities"]),
            "seed": grid["seed"],
            "limit": grid["limit"],
            **{f"policy.{k}": v for k, v in sorted(summary["policy"].items())},
        }
        retried(
            client.log_batch,
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            tags=[RunTag("vb.summary", Path(summary["files"]["summary"]).name)],
        )
        for path in (summary["files"]["summary"], summary["files"]["heatmap"]):
            if Path(path).is_file():
                retried(client.log_artifact, run_id, path)
        retried(client.set_terminated, run_id, "FINISHED")
    except Exception:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, "FAILED")
        raise
    return run_id
