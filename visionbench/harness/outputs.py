"""Writing a run's outputs: the state store's description, the published run folder, its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.contracts import Task, TaskResult
from visionbench.harness.faults import kill_point
from visionbench.harness.record import (
    PREDICTIONS_FILE,
    clean,
    run_dir,
    validate,
    write_predictions,
    write_record,
)
from visionbench.harness.specs import RunSpec


def complete_store(store: Any, state: Any) -> None:
    """Append the gathered rows that the store does not show (ranks that wrote to other nodes' disks)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    seen = [table.column("index").to_numpy() for table in store.read()]
    have = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
    missing = np.setdiff1d(state.indices(), have)
    if missing.size:
        table = state.table()
        store.append(table.filter(pc.is_in(table.column("index"), value_set=pa.array(missing))), "gathered")


def state_meta(run: RunSpec, task: Task, total: int, identity: dict[str, Any]) -> dict[str, Any]:
    """What a state store holds: enough to rebuild the task without the dataset (``rescore``)."""
    dataset = task.dataset
    return clean(
        {
            "identity": identity["prediction"],
            "components": {k: v for k, v in identity["components"].items() if k in _PREDICTION_KEYS},
            "task": {
                "kind": run.task.kind,
                "source": run.task.source,
                "path": run.task.path,
                "options": dict(run.task.options),
                "version": task.version,
            },
            "dataset": {
                "name": dataset.name,
                "kind": dataset.kind or task.kind,
                "classes": [str(c) for c in dataset.classes],
                "fingerprint": dataset.fingerprint(),
                "num_samples": total,
                "category_ids": list(getattr(dataset, "category_ids", ()) or ()),
                "categories": list(getattr(dataset, "categories", ()) or ()),
                "ignore_index": getattr(dataset, "ignore_index", None),
            },
        }
    )


_PREDICTION_KEYS = (
    "model_digest",
    "model_options",
    "preprocess",
    "label_map",
    "dataset_fingerprint",
    "subset",
    "task_kind",
    "task_options",
    "task_version",
    "precision",
    "device_type",
    "model_libraries",
)


def publish(
    record: dict[str, Any],
    result: TaskResult,
    output: Path,
    task_id: str,
    model_spec: str,
    precision: str,
    store: Any,
    *,
    track: bool = True,
    tracking_uri: str | None = None,
) -> Path:
    """Write the run folder complete (staged, then renamed into place) and point the index at it.

    A run to be logged is published with its pending-sync marker, so a process killed before or
    while logging leaves a folder that ``visionbench sync`` finds; the marker names the tracking URI
    (``tracking_uri`` resolved as ``log_record`` does), which ``sync`` logs to.
    """
    import os

    from visionbench.harness.store import index_key, run_folder_name, staged_run_folder, update_index

    final = run_dir(output, task_id, model_spec, precision) / run_folder_name(record["run_fingerprint"])
    record["state"]["path"] = os.path.relpath(store.directory, final)
    from visionbench.harness.tracking import mark_pending, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri) if track else None
    record["tracking"] = {"uri": uri, "experiment": None, "run_id": None, "status": "pending", "error": None}
    with staged_run_folder(output, final) as staging:
        write_outputs(record, result, staging)
        if track:
            mark_pending(staging, uri)
        kill_point("staged_before_rename")
    update_index(output, index_key(task_id, model_spec, precision), final)
    return final


def write_outputs(record: dict[str, Any], result: TaskResult, directory: Path) -> None:
    """Predictions, artifacts and the record (validated) into the run folder."""
    directory.mkdir(parents=True, exist_ok=True)
    write_predictions(result.per_sample, directory / PREDICTIONS_FILE)
    for name, writer in result.artifacts.items():
        writer(directory / name)
        record["artifacts"][Path(name).stem + Path(name).suffix.replace(".", "_")] = name
    cleaned = clean(record)
    validate(cleaned, source=str(directory))
    record.clear()
    record.update(cleaned)
    write_record(record, directory)


def draw_artifacts_ahead(result: TaskResult, folder: Path) -> None:
    """Write the result's artifacts into ``folder`` now; publishing then moves each file into the run
    folder (``folder`` on the same file system, so a rename). For work that waits on something else
    (intervals drawn in a thread): the plots are drawn meanwhile."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    for name, writer in list(result.artifacts.items()):
        drawn = folder / name
        writer(drawn)
        result.artifacts[name] = lambda path, drawn=drawn: os.replace(drawn, path)
