"""Per-run files (record, predictions, plots), fetched only for the run a model page shows.

Static mode reads them from the run folder beside ``record.json``. MLflow mode reads a
local ``file:`` artifact store in place and downloads anything else (a server's artifact
store) one file at a time into the cache directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from visionbench.leaderboard.data import Source, cache_dir

if TYPE_CHECKING:
    import pandas as pd

RECORD = "record.json"


def _safe_name(name: Any) -> str | None:
    """Artifact names come from records: accept plain file names only (no folders, no ``..``)."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        return None
    return name


def run_file(source: Source, row: dict[str, Any], name: str) -> Path | None:
    """Local path of file ``name`` of the run in ``row``, or None when the run has no such file."""
    name = _safe_name(name)
    if name is None:
        return None
    if row.get("record_path"):
        path = Path(row["record_path"]).parent / name
        return path if path.is_file() else None
    uri = row.get("artifact_uri") or ""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = Path(url2pathname(parsed.path)) / name
        return path if path.is_file() else None
    target = cache_dir() / "artifacts" / str(row.get("run_id") or "run")
    if (target / name).is_file():
        return target / name
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        import mlflow.artifacts

        target.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{uri.rstrip('/')}/{name}", dst_path=str(target), tracking_uri=source.uri
        )
    except Exception:  # noqa: BLE001 - a missing or unreachable artifact is shown as "not available"
        return None
    return Path(local) if Path(local).is_file() else None


def load_record(source: Source, row: dict[str, Any]) -> dict[str, Any] | None:
    path = run_file(source, row, RECORD)
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def artifact_names(record: dict[str, Any] | None) -> dict[str, str]:
    """The record's artifact map (key -> file name), plain names only."""
    names = (record or {}).get("artifacts") or {}
    return {str(k): v for k, v in names.items() if _safe_name(v)}


def find_artifact(record: dict[str, Any] | None, *, contains: str, suffix: str) -> str | None:
    """The first artifact file whose name contains ``contains`` and ends with ``suffix``."""
    for name in artifact_names(record).values():
        if contains in name and name.endswith(suffix):
            return name
    return None


def load_predictions(
    source: Source, row: dict[str, Any], record: dict[str, Any] | None
) -> pd.DataFrame | None:
    name = artifact_names(record).get("predictions", "predictions.parquet")
    path = run_file(source, row, name)
    if path is None:
        return None
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, ImportError):
        return None
