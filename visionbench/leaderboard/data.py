"""Where the leaderboard's numbers come from: an MLflow store or a folder of results records.

Everything the overview, Pareto and compare pages need is one denormalised *summary*
table, one row per run: identity (model, task, hardware, precision, fingerprints, run id
or record path), the kind's headline metric with its interval, every metric and the
efficiency figures. It is loaded once per change of the source (:func:`change_token`),
and kept in a small Parquet file keyed by that token so a fresh server process does not
page through every run again. Per-run files (record, predictions, plots) are fetched
only when a model page asks for them (see ``artifacts.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionbench.errors import ConfigError
from visionbench.harness.report import HEADLINE

if TYPE_CHECKING:
    import pandas as pd

CACHE_FORMAT = 1
PAGE_SIZE = 1000  # search_runs' maximum page
SERVER_REFRESH_S = 300  # a tracking server has no cheap run count: reload in full at least this often

# Columns that describe a run; every other column of the summary is a metric or efficiency figure.
IDENTITY_COLUMNS = (
    "model", "model_name", "family", "licence", "task", "kind", "dataset", "hardware", "device", "precision",
    "suite", "headline_key", "headline", "headline_ci_low", "headline_ci_high", "num_samples", "batch_size",
    "created", "run_id", "artifact_uri", "record_path", "end_time", "run_fingerprint", "model_fingerprint",
    "dataset_fingerprint", "task_version", "code_version", "git_sha",
)  # fmt: skip
EFFICIENCY_COLUMNS = ("throughput_ips", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "params_m", "gflops", "peak_mem_mb")
CONFIG_COLUMNS = ("model", "task", "hardware", "precision")


@dataclass(frozen=True)
class Source:
    """``kind`` is ``mlflow`` (``uri`` is a tracking URI) or ``folder`` (``uri`` is a directory of records)."""

    kind: str
    uri: str

    @property
    def label(self) -> str:
        return f"{'MLflow' if self.kind == 'mlflow' else 'results folder'}: {self.uri}"

    @property
    def sqlite_path(self) -> Path | None:
        if self.kind == "mlflow" and self.uri.startswith("sqlite:///"):
            return Path(self.uri[len("sqlite:///") :])
        return None


def resolve_source(text: str | None) -> Source:
    """A tracking URI (default: the one ``visionbench run`` logs to), a ``.db`` file, or a results folder."""
    from visionbench.harness.tracking import resolve_tracking_uri

    if not text:
        return Source("mlflow", resolve_tracking_uri(None))
    if "://" in text or text.startswith(("databricks", "file:")):
        return Source("mlflow", text)
    path = Path(text).expanduser().resolve()
    if path.is_file() and path.suffix == ".db":
        return Source("mlflow", f"sqlite:///{path}")
    if path.is_dir():
        return Source("folder", str(path))
    raise ConfigError(f"leaderboard source {text!r} is neither a tracking URI, an MLflow .db file nor a results folder")


# ----------------------------------------------------------------------------------------------- change tokens


def change_token(source: Source) -> dict[str, Any]:
    """A cheap fingerprint of the source's state; the summary is reloaded when it changes."""
    if source.kind == "folder":
        stats = [p.stat() for p in Path(source.uri).rglob("record.json")]
        return {"count": len(stats), "mtime": max((s.st_mtime_ns for s in stats), default=0), "size": sum(s.st_size for s in stats)}
    db = source.sqlite_path
    if db is not None:
        return _sqlite_token(db)
    return _server_token(source.uri)


def _sqlite_token(db: Path) -> dict[str, Any]:
    """Count and latest end time of finished runs, read straight from the SQLite file (no MLflow import)."""
    if not db.is_file():
        return {"count": 0, "max_end": 0, "missing": True}
    import sqlite3

    query = (
        "SELECT COUNT(*), MAX(r.end_time) FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id "
        "WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active' AND r.status = 'FINISHED'"
    )
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            count, max_end = con.execute(query).fetchone()
    except sqlite3.Error:  # not (yet) an MLflow store: let MLflow say what is wrong when loading
        return {"count": None, "max_end": None, "stamp": db.stat().st_mtime_ns}
    return {"count": int(count), "max_end": int(max_end or 0)}


def _server_token(uri: str) -> dict[str, Any]:
    client = _client(uri)
    ids = list(_experiments(client))
    latest = client.search_runs(ids, "attributes.status = 'FINISHED'", max_results=1, order_by=["attributes.end_time DESC"]) if ids else []
    max_end = int(latest[0].info.end_time or 0) if latest else 0
    return {"count": None, "max_end": max_end, "experiments": len(ids), "epoch": int(time.time() // SERVER_REFRESH_S)}


# ----------------------------------------------------------------------------------------------- loading


def load_summary(source: Source, token: dict[str, Any] | None = None, *, disk_cache: bool = True) -> pd.DataFrame:
    """The summary table of ``source``; reuses (or extends) the on-disk copy when the token allows."""
    import pandas as pd

    token = token if token is not None else change_token(source)
    cached = _read_cache(source) if disk_cache else None
    frame: pd.DataFrame | None = None
    if cached is not None:
        old_token, old_frame = cached
        if old_token == token:
            return old_frame
        frame = _extend(source, old_token, old_frame, token)
    if frame is None:
        if token.get("missing"):
            return empty_summary()
        rows = _folder_rows(Path(source.uri)) if source.kind == "folder" else _mlflow_rows(source.uri)
        frame = finish(pd.DataFrame(rows))
    if disk_cache:
        _write_cache(source, token, frame)
    return frame


def _extend(source: Source, old: dict[str, Any], old_frame: pd.DataFrame, new: dict[str, Any]) -> pd.DataFrame | None:
    """Append only the runs finished since the cached copy, when nothing else can have changed."""
    if source.kind != "mlflow" or old.get("max_end") is None or new.get("max_end") is None:
        return None
    if old.get("epoch") != new.get("epoch") or old.get("experiments") != new.get("experiments"):
        return None
    if new["max_end"] <= old["max_end"] or (new.get("count") is not None and new["count"] <= (old.get("count") or 0)):
        return None
    import pandas as pd

    rows = _mlflow_rows(source.uri, since_end=old["max_end"])
    if new.get("count") is not None and new["count"] != (old.get("count") or 0) + len(rows):
        return None  # runs were also deleted or restored: reload everything
    fresh = finish(pd.DataFrame(rows))
    keep = old_frame[~old_frame["run_id"].isin(set(fresh.get("run_id", [])))]
    return finish(pd.concat([keep, fresh], ignore_index=True))


def _client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiments(client: Any) -> dict[str, str]:
    """Active experiments, id -> name."""
    names, token = {}, None
    while True:
        page = client.search_experiments(max_results=PAGE_SIZE, page_token=token)
        names.update({e.experiment_id: e.name for e in page})
        token = page.token
        if not token:
            return names


def _mlflow_rows(uri: str, since_end: int | None = None) -> list[dict[str, Any]]:
    """Page through ``search_runs`` once (1,000 runs a page); runs without ``vb.kind`` are not ours."""
    client = _client(uri)
    names = _experiments(client)
    ids = list(names)
    query = "attributes.status = 'FINISHED'" + (f" AND attributes.end_time > {int(since_end)}" if since_end else "")
    rows, token = [], None
    while ids:
        page = client.search_runs(ids, query, max_results=PAGE_SIZE, page_token=token)
        rows += [row_from_run(run, names.get(run.info.experiment_id, "")) for run in page if run.data.tags.get("vb.kind")]
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


def _folder_rows(root: Path) -> list[dict[str, Any]]:
    from visionbench.harness.record import iter_records

    return [row_from_record(record, path) for path, record in iter_records(root)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def empty_summary() -> pd.DataFrame:
    import pandas as pd

    return finish(pd.DataFrame(columns=list(IDENTITY_COLUMNS)))


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the headline columns, fix dtypes and order rows newest first."""
    import pandas as pd

    for column in IDENTITY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    for column in metric_columns(frame):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    keys = frame["kind"].map(lambda kind: HEADLINE.get(kind, "")).astype(object)
    frame["headline_key"] = keys
    for suffix, column in (("", "headline"), ("_ci_low", "headline_ci_low"), ("_ci_high", "headline_ci_high")):
        values = pd.Series(float("nan"), index=frame.index, dtype="float64")
        for key in set(keys):
            if key and f"{key}{suffix}" in frame.columns:
                mask = keys == key
                values[mask] = frame.loc[mask, f"{key}{suffix}"].astype("float64")
        frame[column] = values
    ordered = list(IDENTITY_COLUMNS) + sorted(metric_columns(frame))
    return frame[ordered].sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in IDENTITY_COLUMNS]


def latest_per_config(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run of each (model, task, hardware, precision): what a leaderboard shows by default."""
    return frame.sort_values("created", ascending=False, kind="stable").drop_duplicates(list(CONFIG_COLUMNS))


# ----------------------------------------------------------------------------------------------- disk cache


def cache_dir() -> Path:
    """``$VISIONBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/visionbench``, else ``~/.cache/visionbench``."""
    base = os.environ.get("VISIONBENCH_CACHE_DIR")
    if base:
        return Path(base) / "leaderboard"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "visionbench" / "leaderboard"


def _cache_paths(source: Source) -> tuple[Path, Path]:
    key = hashlib.sha256(f"{source.kind}|{source.uri}".encode()).hexdigest()[:20]
    base = cache_dir() / f"summary-{key}"
    return base.with_suffix(".json"), base.with_suffix(".parquet")


def _read_cache(source: Source) -> tuple[dict[str, Any], pd.DataFrame] | None:
    meta_path, data_path = _cache_paths(source)
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != CACHE_FORMAT or meta.get("source") != source.uri:
            return None
        import pandas as pd

        return meta["token"], pd.read_parquet(data_path)
    except (OSError, ValueError, KeyError, ImportError):
        return None


def _write_cache(source: Source, token: dict[str, Any], frame: pd.DataFrame) -> None:
    """Best effort: a read-only or full disk only costs the next process a full load."""
    meta_path, data_path = _cache_paths(source)
    try:
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = data_path.with_suffix(f".{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(data_path)
        meta_path.write_text(json.dumps({"format": CACHE_FORMAT, "source": source.uri, "token": token}))
    except (OSError, ValueError, ImportError):
        return
