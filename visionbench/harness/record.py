"""The versioned results record: building, writing, reading and validating it.

One record per (model, task) run. It is the single source for MLflow logging,
the ``results/`` tree and the leaderboard's static mode.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from visionbench.errors import DataError

SCHEMA_VERSION = 1
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
    """Raise DataError naming the field when the record does not match the JSON schema."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(record), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top level)"
        raise DataError(f"{source}: invalid results record at '{where}': {first.message}")


def run_dir(output: Path, task_id: str, model_spec: str, precision: str = "fp32") -> Path:
    name = slug(model_spec) + ("" if precision == "fp32" else f"@{precision}")
    return output / slug(task_id) / name


def write_record(record: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RECORD_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(clean(record), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read results record {path}: {exc}") from None
    validate(record, source=str(path))
    return record


def iter_records(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every valid record under ``root`` (invalid ones are skipped with their path reported by the caller)."""
    out = []
    for path in sorted(Path(root).rglob(RECORD_FILE)):
        try:
            out.append((path, read_record(path)))
        except DataError:
            continue
    return out


def write_predictions(per_sample: dict[str, list[Any]], path: Path) -> Path:
    """Per-sample predictions as Parquet (one row per sample)."""
    import pandas as pd

    frame = pd.DataFrame(per_sample)
    frame.to_parquet(path, index=False)
    return path
