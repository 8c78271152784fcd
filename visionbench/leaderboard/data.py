"""Where the leaderboard's numbers come from: an MLflow store or a folder of results records.

Everything the overview, Pareto and compare pages need is one denormalised *summary*
table, one row per run: identity (model, task, hardware, precision, fingerprints, run id
or record path), the kind's headline metric with its interval, every metric and the
efficiency figures. It is loaded once per change of the source (:func:`change_token`),
and kept in a small Parquet file keyed by that token so a fresh server process does not
page through every run again; runs added since are appended without a full reload.
Rows are built in ``rows.py``; per-run files (record, predictions, plots) are fetched
only when a model page asks for them (``artifacts.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionbench.declarations import headline_key
from visionbench.errors import ConfigError
from visionbench.leaderboard import rows

if TYPE_CHECKING:
    import pandas as pd

CACHE_FORMAT = 2  # 2: a results folder's stored copy carries its unreadable records
CACHE_KEY = b"visionbench.leaderboard"
# the summary frame's ``attrs`` key (and stored copy's) for a results folder's unreadable records
SKIPPED = "skipped_records"
SERVER_REFRESH_S = 300  # a tracking server has no cheap run count: reload in full at least this often

# Columns that describe a run; every other column of the summary is a metric or efficiency figure.
IDENTITY_COLUMNS = (
    "model", "model_name", "family", "licence", "task", "kind", "dataset", "hardware", "device", "precision",
    "suite", "headline_key", "headline", "headline_ci_low", "headline_ci_high", "num_samples", "batch_size",
    "created", "run_id", "artifact_uri", "record_path", "end_time", "run_fingerprint", "model_fingerprint",
    "dataset_fingerprint", "task_version", "code_version", "git_sha", "resolution", "peak_mem_kind", "knobs",
    "honesty", "checks", "generalisation",
)  # fmt: skip
EFFICIENCY_COLUMNS = (
    "throughput_ips",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "params_m",
    "gflops",
    "peak_mem_mb",
)
CONFIG_COLUMNS = ("model", "task", "hardware", "precision")
NUMBER_COLUMNS = ("headline", "headline_ci_low", "headline_ci_high", "num_samples", "batch_size", "end_time")
# Text columns hold "" (never None or NaN) so that truthiness tests mean the same before and after Parquet.
TEXT_COLUMNS = tuple(c for c in IDENTITY_COLUMNS if c not in NUMBER_COLUMNS and c != "created")


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

    if not text or "://" in text or text.startswith(("databricks", "file:")):
        source = Source("mlflow", text or resolve_tracking_uri(None))
        db = source.sqlite_path
        if db is not None and not db.is_file():
            raise ConfigError(
                f"no MLflow store at {db}: run `visionbench run` or `make demo` first, "
                "or pass --source (a tracking URI, an MLflow .db file or a results folder)"
            )
        return source
    path = Path(text).expanduser().resolve()
    if path.is_file() and path.suffix == ".db":
        return Source("mlflow", f"sqlite:///{path}")
    if path.is_dir():
        return Source("folder", str(path))
    raise ConfigError(
        f"leaderboard source {text!r} is neither a tracking URI, an MLflow .db file nor a results folder"
    )


# ----------------------------------------------------------------------------------------------- change tokens


def change_token(source: Source) -> dict[str, Any]:
    """A cheap fingerprint of the source's state; the summary is reloaded when it changes."""
    if source.kind == "folder":
        stats = [p.stat() for p in Path(source.uri).rglob("record.json")]
        return {
            "count": len(stats),
            "mtime": max((s.st_mtime_ns for s in stats), default=0),
            "size": sum(s.st_size for s in stats),
        }
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
    client = rows.client_for(uri)
    ids = list(rows.experiments(client))
    latest = (
        client.search_runs(
            ids, "attributes.status = 'FINISHED'", max_results=1, order_by=["attributes.end_time DESC"]
        )
        if ids
        else []
    )
    max_end = int(latest[0].info.end_time or 0) if latest else 0
    return {
        "count": None,
        "max_end": max_end,
        "experiments": len(ids),
        "epoch": int(time.time() // SERVER_REFRESH_S),
    }


# ----------------------------------------------------------------------------------------------- loading


def load_summary(
    source: Source, token: dict[str, Any] | None = None, *, disk_cache: bool = True
) -> pd.DataFrame:
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
        skipped: list[tuple[str, str]] = []
        found = (
            rows.folder_rows(Path(source.uri), skipped) if source.kind == "folder" else _store_rows(source)
        )
        frame = finish(pd.DataFrame(found))
        if source.kind == "folder":
            frame.attrs[SKIPPED] = skipped  # read in the same pass: the page names them without a second one
    if disk_cache:
        _write_cache(source, token, frame)
    return frame


def _extend(
    source: Source, old: dict[str, Any], old_frame: pd.DataFrame, new: dict[str, Any]
) -> pd.DataFrame | None:
    """Append only the runs finished since the cached copy, when nothing else can have changed."""
    if source.kind != "mlflow" or old.get("max_end") is None or new.get("max_end") is None:
        return None
    if old.get("epoch") != new.get("epoch") or old.get("experiments") != new.get("experiments"):
        return None
    if new["max_end"] <= old["max_end"] or (
        new.get("count") is not None and new["count"] <= (old.get("count") or 0)
    ):
        return None
    import pandas as pd

    found = _store_rows(source, since_end=old["max_end"])
    if new.get("count") is not None and new["count"] != (old.get("count") or 0) + len(found):
        return None  # runs were also deleted or restored: reload everything
    fresh = finish(pd.DataFrame(found))
    keep = old_frame[~old_frame["run_id"].isin(set(fresh.get("run_id", [])))]
    return finish(pd.concat([keep, fresh], ignore_index=True))


def _store_rows(source: Source, since_end: int | None = None) -> list[dict[str, Any]]:
    """A local SQLite store read directly (``sqlite_rows``), anything else through MLflow's ``search_runs``."""
    db = source.sqlite_path
    if db is not None:
        from visionbench.leaderboard.sqlite_rows import SchemaMismatch, sqlite_rows

        try:
            return sqlite_rows(db, since_end=since_end)
        except SchemaMismatch:
            pass
    return rows.mlflow_rows(source.uri, since_end=since_end)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def empty_summary() -> pd.DataFrame:
    import pandas as pd

    return finish(pd.DataFrame(columns=list(IDENTITY_COLUMNS)))


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the headline columns, fix dtypes and order rows newest first."""
    import pandas as pd

    for column in IDENTITY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column in TEXT_COLUMNS:
        frame[column] = pd.Series([_text(v) for v in frame[column]], index=frame.index, dtype=object)
    frame["created"] = pd.to_datetime(frame["created"], utc=True).astype("datetime64[ms, UTC]")
    for column in ("num_samples", "batch_size", "end_time"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in metric_columns(frame):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    keys = frame["kind"].map(headline_key).astype(object)
    frame["headline_key"] = keys
    for suffix, column in (
        ("", "headline"),
        ("_ci_low", "headline_ci_low"),
        ("_ci_high", "headline_ci_high"),
    ):
        values = pd.Series(float("nan"), index=frame.index, dtype="float64")
        for key in set(keys):
            if key and f"{key}{suffix}" in frame.columns:
                mask = keys == key
                values[mask] = frame.loc[mask, f"{key}{suffix}"].astype("float64")
        frame[column] = values
    ordered = list(IDENTITY_COLUMNS) + sorted(metric_columns(frame))
    return frame[ordered].sort_values("created", ascending=False, kind="stable").reset_index(drop=True).copy()


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


def _cache_path(source: Source) -> Path:
    key = hashlib.sha256(f"{source.kind}|{source.uri}".encode()).hexdigest()[:20]
    return cache_dir() / f"summary-{key}.parquet"


def _read_cache(source: Source) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """The stored summary and the token it was built for (both in one Parquet file, so they always match)."""
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(_cache_path(source))
        meta = json.loads((table.schema.metadata or {}).get(CACHE_KEY, b"{}"))
        if meta.get("format") != CACHE_FORMAT or meta.get("source") != source.uri:
            return None
        frame = finish(table.to_pandas())
        if SKIPPED in meta:
            frame.attrs[SKIPPED] = [tuple(item) for item in meta[SKIPPED]]
        return meta["token"], frame
    except (OSError, ValueError, KeyError, ImportError):
        return None


def read_cached(source: Source) -> tuple[pd.DataFrame, float] | None:
    """The stored summary of ``source`` and when it was written (seconds since the epoch), or None."""
    cached = _read_cache(source)
    if cached is None:
        return None
    try:
        return cached[1], _cache_path(source).stat().st_mtime
    except OSError:
        return None


def _write_cache(source: Source, token: dict[str, Any], frame: pd.DataFrame) -> None:
    """Best effort, atomic: a read-only or full disk only costs the next process a full load."""
    path = _cache_path(source)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        stored = {"format": CACHE_FORMAT, "source": source.uri, "token": token}
        if SKIPPED in frame.attrs:
            stored[SKIPPED] = frame.attrs[SKIPPED]
        meta = json.dumps(stored).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), CACHE_KEY: meta})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
    except (OSError, ValueError, ImportError, TypeError):
        return
