"""``visionbench rescore RUN_DIR``: recompute a run's metrics and intervals from its stored state alone.

Neither the model nor the images are opened: the task is rebuilt from the state store's
``meta.json`` (task spec, class names, category ids, ignore index), its state is read from the
store and restricted to the run's samples, and ``compute()`` plus the bootstrap run as in the
original run, with the record's bootstrap settings. With ``log=True`` the result becomes a new
run folder (and MLflow run) that names the run it was rescored from.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from visionbench.contracts import Dataset, Sample, TaskSpec
from visionbench.errors import DataError
from visionbench.harness.record import RECORD_FILE, read_record


class StoredDataset(Dataset):
    """The description of a dataset as the state store recorded it; it has no images to load."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.name = str(info["name"])
        self.kind = str(info.get("kind", ""))
        self.classes = tuple(info.get("classes", ()))
        self.category_ids = tuple(info.get("category_ids") or ())
        self.categories = list(info.get("categories") or ())
        if info.get("ignore_index") is not None:
            self.ignore_index = int(info["ignore_index"])
        self._fingerprint = str(info.get("fingerprint", ""))
        self._length = int(info.get("num_samples", 0))

    def __len__(self) -> int:
        return self._length

    def load(self, index: int) -> Sample:
        raise DataError(
            f"{self.name}: rescoring uses the stored state only; sample {index} has no image here"
        )

    def fingerprint(self) -> str:
        return self._fingerprint


def load_task(run_dir: Path) -> tuple[dict[str, Any], Any, Any]:
    """``(record, task, result)``: the run's task rebuilt from its stored state and computed (no intervals).

    ``compare`` and ``gate`` load two runs this way and resample their states together.
    """
    from visionbench.harness.runner import build_task
    from visionbench.harness.store import resolve_store

    run_dir = Path(run_dir)
    if not (run_dir / RECORD_FILE).is_file():
        raise DataError(f"{run_dir} is not a run folder (no {RECORD_FILE})")
    record = read_record(run_dir / RECORD_FILE)
    store = resolve_store(run_dir, record)
    meta = store.meta()
    spec = meta["task"]
    options = tuple(sorted((spec.get("options") or {}).items()))
    task_spec = TaskSpec(spec["kind"], spec["source"], spec.get("path"), options)
    task = build_task(task_spec, StoredDataset(meta["dataset"]))
    task.state.extend(store.read())
    task.state.restrict(range(int(record["task"]["num_samples"])))
    expected = int(record["state"]["num_samples"])  # the samples evaluated (skipped ones excluded)
    if task.num_updated() != expected:
        raise DataError(
            f"{run_dir}: the state store {store.directory} holds {task.num_updated()} of the run's "
            f"{expected} evaluated samples"
        )
    return record, task, task.compute()


def rescore(run_dir: Path) -> tuple[dict[str, Any], Any, Any]:
    """``(record, task, result)``: the run's record and the task recomputed from its stored state."""
    from visionbench.harness.statistics import add_task_intervals

    record, task, result = load_task(run_dir)
    stats = record.get("statistics") or {}
    reps, seed = int(stats.get("bootstrap_reps", 1000)), int(stats.get("seed", 0))
    add_task_intervals(task, result.metrics, reps=reps, seed=seed)
    return record, task, result


def rescored_record(record: dict[str, Any], task: Any, result: Any, run_dir: Path) -> dict[str, Any]:
    """A new record: the original's identity of model and data with the recomputed metrics."""
    from visionbench.harness.environment import code_version
    from visionbench.harness.identity import identities

    out = copy.deepcopy(record)
    out["schema_version"] = 2
    out["created_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["metrics"], out["per_class"] = result.metrics, result.per_class
    out["code"] = code_version()
    out["task"]["metric_version"] = task.metric_version
    out["artifacts"] = {"predictions": out["artifacts"]["predictions"]}
    out["rescored_from"] = str(run_dir)
    components = (record.get("identity") or {}).get("components", {})
    prediction = {
        k: v for k, v in components.items() if k not in ("metric_version", "metric_libraries", "bootstrap")
    }
    fresh = identities(prediction, metric_version=task.metric_version, bootstrap=record.get("statistics", {}))
    fresh["prediction"] = record["state"]["identity"]
    out["identity"] = fresh
    out["run_fingerprint"] = fresh["run"]
    out.pop("tracking", None)
    return out
