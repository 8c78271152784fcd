"""The versioned results record: the one module that builds, validates, writes and maps it.

One record per (model, task) run. It is the single source for MLflow logging (tags, params and
metrics come from :data:`FIELDS` and :func:`to_mlflow`), for reading runs back from MLflow
(:func:`row_from_run`), for the ``results/`` tree and for the leaderboard's rows
(:func:`row_from_record`). Schema 2 adds the content identity, the state reference and the
bootstrap settings; schema 1 records stay readable (the new sections are optional).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from visionbench.errors import DataError

SCHEMA_VERSION = 2
RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.parquet"


def slug(text: str) -> str:
    """A file-system-safe name for a model or task id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "unnamed"


def clean(value: Any) -> Any:
    """Replace NaN/inf with None (JSON has no NaN) and numpy scalars with Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("record_schema.json")).read_text())


def validate(record: dict[str, Any], *, source: str = "record") -> None:
    """Raise DataError naming the field when the record does not match the JSON schema.

    A record passes the compiled check of ``record_check`` at once; jsonschema only runs to name
    what is wrong (and has the last word)."""
    from visionbench.harness.record_check import record_check

    if record_check()(record):
        return
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(record), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top level)"
        raise DataError(f"{source}: invalid results record at '{where}': {first.message}")


def run_dir(output: Path, task_id: str, model_spec: str, precision: str = "fp32") -> Path:
    """The folder that holds every run of one model on one task (each run in its own sub-folder)."""
    name = slug(model_spec) + ("" if precision == "fp32" else f"@{precision}")
    return output / slug(task_id) / name


def write_record(record: dict[str, Any], directory: Path) -> Path:
    from visionbench.harness.store import atomic_write_text

    path = directory / RECORD_FILE
    atomic_write_text(path, json.dumps(clean(record), indent=2, sort_keys=False) + "\n")
    return path


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read results record {path}: {exc}") from None
    validate(record, source=str(path))
    return record


def iter_records(
    root: Path, skipped: list[tuple[Path, str]] | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    """Every valid record under ``root``; each invalid one goes to ``skipped`` as ``(path, reason)``."""
    out = []
    for path in sorted(Path(root).rglob(RECORD_FILE)):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # runs still being staged, or hidden folders
        try:
            out.append((path, read_record(path)))
        except DataError as exc:
            if skipped is not None:
                skipped.append((path, str(exc)))
    return out


def write_predictions(per_sample: dict[str, list[Any]], path: Path) -> Path:
    """Per-sample predictions as Parquet (one row per sample).

    Written by pyarrow directly (pandas costs a third of a second to import); columns Arrow cannot
    type from plain lists go through pandas as before.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.table({name: pa.array(values) for name, values in per_sample.items()})
    except (pa.ArrowException, TypeError, ValueError):
        import pandas as pd

        pd.DataFrame(per_sample).to_parquet(path, index=False)
        return path
    pq.write_table(table, path)
    return path


def build_record(
    *,
    run: Any,
    adapter: Any,
    task: Any,
    result: Any,
    efficiency: dict[str, float],
    environment: dict[str, Any],
    code: dict[str, Any],
    suite: str,
    total: int,
    identity: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    statistics: dict[str, Any] | None = None,
    distributed: dict[str, Any] | None = None,
    skipped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The record of one run (schema 2), before validation and tracking.

    ``skipped`` lists the samples left out with ``--on-bad-sample skip`` (index and error); they are
    counted in ``task.num_skipped`` and are not part of the metrics.
    """
    import datetime as dt

    described = adapter.describe()
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_fingerprint": identity["run"] if identity else run.fingerprint,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "suite": suite,
        "model": {
            "spec": run.model.spec,
            "family": adapter.family,
            "name": described.get("name", run.model.spec),
            "fingerprint": adapter.fingerprint(),
            "weights": run.model.weights,
            "preprocess": described.get("preprocess", {}),
            "params_m": efficiency["params_m"],
            "licence": adapter.licence(),
            "source": described.get("source"),
            "options": dict(run.model.options),
            "label_map": dict(run.model.label_map) or None,
        },
        "task": {
            "id": run.task.id,
            "kind": task.kind,
            "version": task.version,
            "metric_version": task.metric_version,
            "dataset": task.dataset.name,
            "dataset_fingerprint": task.dataset.fingerprint(),
            "num_samples": total,
            "num_skipped": len(skipped or []),
            "skipped": list(skipped or []),
            "limit": run.limit,
            "classes": list(task.dataset.classes),
            **({"scoring": task.scoring()} if task.scoring() else {}),
            **unparsed_answers(result, described),
        },
        "code": code,
        "environment": environment,
        "metrics": result.metrics,
        "efficiency": efficiency,
        "per_class": result.per_class,
        "artifacts": {"predictions": PREDICTIONS_FILE},
    }
    for key, value in (
        ("identity", identity),
        ("state", state),
        ("statistics", statistics),
        ("distributed", distributed),
    ):
        if value is not None:
            record[key] = value
    return record


def unparsed_answers(result: Any, described: dict[str, Any]) -> dict[str, Any]:
    """``num_unparsed`` and ``unparsed`` (index, sample id, the model's answer) for samples whose generated
    answer named no class (counted wrong); the task's state decides which, the adapter supplies the text."""
    missing = (getattr(result, "extra", None) or {}).get("unanswered")
    if missing is None and "unparsed_answers" not in described:
        return {}
    texts = described.get("unparsed_answers") or {}
    entries = [{**entry, "answer": texts.get(entry["sample_id"])} for entry in missing or []]
    return {"num_unparsed": len(entries), "unparsed": entries}


# One mapping between the record, MLflow tags and leaderboard columns:
# (leaderboard column, MLflow tag or None, how to read it from a record).
FIELDS: tuple[tuple[str, str | None, Any], ...] = (
    ("model", "vb.model", lambda r: r["model"]["spec"]),
    ("model_name", "vb.model_name", lambda r: r["model"]["name"]),
    ("family", "vb.family", lambda r: r["model"]["family"]),
    ("licence", "vb.licence", lambda r: r["model"]["licence"]),
    ("model_fingerprint", "vb.model_fingerprint", lambda r: r["model"].get("fingerprint", "")),
    ("task", "vb.task", lambda r: r["task"]["id"]),
    ("kind", "vb.kind", lambda r: r["task"]["kind"]),
    ("task_version", "vb.task_version", lambda r: r["task"].get("version", "")),
    ("dataset", "vb.dataset", lambda r: r["task"]["dataset"]),
    ("dataset_fingerprint", "vb.dataset_fingerprint", lambda r: r["task"].get("dataset_fingerprint", "")),
    ("run_fingerprint", "vb.run_fingerprint", lambda r: r.get("run_fingerprint", "")),
    (
        "prediction_identity",
        "vb.prediction_identity",
        lambda r: (r.get("identity") or {}).get("prediction", ""),
    ),
    ("schema_version", "vb.schema_version", lambda r: str(r["schema_version"])),
    ("code_version", "vb.code_version", lambda r: r["code"].get("version", "")),
    ("git_sha", "vb.git_sha", lambda r: r["code"].get("git_sha") or ""),
    ("hardware", "vb.hardware", lambda r: r["environment"].get("hardware", "")),
    ("device", "vb.device", lambda r: r["environment"].get("device", "")),
    ("precision", "vb.precision", lambda r: r["environment"].get("precision", "")),
    ("suite", "vb.suite", lambda r: r.get("suite", "")),
    ("resolution", "vb.resolution", lambda r: _resolution(r)),
    ("peak_mem_kind", "vb.peak_mem_kind", lambda r: (r.get("measurement") or {}).get("peak_mem", "")),
    ("knobs", "vb.knobs", lambda r: _knobs(r)),
    ("honesty", "vb.honesty", lambda r: _honesty(r)),
    ("checks", "vb.checks", lambda r: _checks(r)),
    ("generalisation", "vb.generalisation", lambda r: _generalisation_label(r)),
)
# MLflow params: (param name, how to read it from a record); num_samples and batch_size feed rows too.
PARAMS: tuple[tuple[str, Any], ...] = (
    ("model.spec", lambda r: r["model"]["spec"]),
    ("model.weights", lambda r: r["model"].get("weights") or ""),
    ("model.preprocess", lambda r: json.dumps(r["model"].get("preprocess", {}), sort_keys=True)),
    ("model.options", lambda r: json.dumps(r["model"].get("options", {}), sort_keys=True)),
    ("task.id", lambda r: r["task"]["id"]),
    ("task.version", lambda r: r["task"]["version"]),
    ("task.num_samples", lambda r: r["task"]["num_samples"]),
    ("task.limit", lambda r: r["task"].get("limit") if r["task"].get("limit") is not None else ""),
    ("env.batch_size", lambda r: r["environment"]["batch_size"]),
    ("env.precision", lambda r: r["environment"]["precision"]),
    ("env.device", lambda r: r["environment"]["device"]),
    ("env.torch", lambda r: r["environment"]["torch"]),
    ("task.budget", lambda r: _budget(r)),
)


def metric_values(record: dict[str, Any]) -> dict[str, float]:
    """Every numeric metric and efficiency figure of a record (what MLflow stores as metrics)."""
    out = {}
    for section in ("metrics", "efficiency"):
        for key, value in record[section].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = float(value)
    if "generalisation" in record:  # the shifted side of a suite's pairing: its gap
        from visionbench.harness.generalisation import gap_metrics

        out.update(gap_metrics(record))
    return out


def to_mlflow(record: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], dict[str, float]]:
    """``(tags, params, metrics)`` of the MLflow run that stores ``record``."""
    tags = {tag: str(get(record)) for _, tag, get in FIELDS if tag}
    tags["mlflow.runName"] = f"{record['model']['name']} @ {record['task']['id']}"
    params = {name: str(get(record))[:6000] for name, get in PARAMS}
    if "generalisation" in record:
        from visionbench.harness.generalisation import gap_params

        params.update(gap_params(record))
    return tags, params, metric_values(record)


def row_from_record(record: dict[str, Any], path: Path) -> dict[str, Any]:
    """One leaderboard summary row from a record on disk (static mode)."""
    import pandas as pd

    row: dict[str, Any] = {column: get(record) for column, _, get in FIELDS}
    tracking = record.get("tracking") or {}
    row.update(
        num_samples=record["task"].get("num_samples"),
        batch_size=record["environment"].get("batch_size"),
        created=pd.Timestamp(record["created_at"]),
        run_id=tracking.get("run_id"),
        artifact_uri=None,
        record_path=str(path),
        end_time=0,
    )
    row.update({k: v for k, v in metric_values(record).items() if k not in row})
    return row


def row_from_run(run: Any, experiment: str = "") -> dict[str, Any]:
    """One leaderboard summary row read back from an MLflow run that :func:`to_mlflow` wrote."""
    import pandas as pd

    tags, params, info = run.data.tags, run.data.params, run.info
    row: dict[str, Any] = {column: tags.get(tag, "") if tag else "" for column, tag, _ in FIELDS}
    row["model_name"] = row["model_name"] or row["model"]
    row["suite"] = row["suite"] or experiment
    row.update(
        num_samples=_int(params.get("task.num_samples")),
        batch_size=_int(params.get("env.batch_size")),
        created=pd.Timestamp(info.start_time, unit="ms", tz="UTC"),
        run_id=info.run_id,
        artifact_uri=info.artifact_uri,
        record_path=None,
        end_time=int(info.end_time or 0),
    )
    from visionbench.harness.mlflow_keys import restore

    row.update({k: v for k, v in restore(run.data.metrics, tags).items() if k not in row})
    return row


def _resolution(record: dict[str, Any]) -> str:
    """``224x224`` from the measurement conditions ("" in records written before them)."""
    found = ((record.get("measurement") or {}).get("throughput") or {}).get("resolution")
    return "x".join(str(int(v)) for v in found) if found else ""


def _knobs(record: dict[str, Any]) -> str:
    """``channels-last,compiled``: the performance knobs a run used ("" for none)."""
    env = record["environment"]
    return ",".join(
        name for key, name in (("channels_last", "channels-last"), ("compile", "compiled")) if env.get(key)
    )


def _honesty(record: dict[str, Any]) -> str:
    """A robustness run's honesty checks: ``passed`` or the names of those that fired ("" for other kinds)."""
    honesty = (record["task"].get("scoring") or {}).get("honesty")
    if not isinstance(honesty, dict):
        return ""
    return ", ".join(sorted({f.get("check", "?") for f in honesty.get("flags", [])})) or "passed"


def _generalisation_label(record: dict[str, Any]) -> str:
    """What a shifted run's generalisation gap compares ("" for other runs)."""
    if "generalisation" not in record:
        return ""
    from visionbench.harness.generalisation import gap_label

    return gap_label(record)


def _checks(record: dict[str, Any]) -> str:
    """The worst severity of a run's trust checks (``ok`` ... ``error``; "" for records without checks)."""
    from visionbench.checks.findings import section_worst

    return section_worst(record)


def _budget(record: dict[str, Any]) -> str:
    """A robustness run's attack budget as JSON ("" for other kinds)."""
    budget = (record["task"].get("scoring") or {}).get("budget")
    return json.dumps(budget, sort_keys=True) if isinstance(budget, dict) else ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
