"""The direct SQLite reader gives the same summary rows as MLflow's own ``search_runs``."""

from __future__ import annotations

import math
from pathlib import Path


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_sqlite_rows_equal_search_runs(seeded) -> None:
    from visionbench.leaderboard.rows import mlflow_rows
    from visionbench.leaderboard.sqlite_rows import sqlite_rows

    db = Path(seeded.uri.removeprefix("sqlite:///"))
    direct = {row["run_id"]: row for row in sqlite_rows(db)}
    reference = {row["run_id"]: row for row in mlflow_rows(seeded.uri)}
    assert set(direct) == set(reference) and len(direct) >= 14
    for run_id, want in reference.items():
        have = direct[run_id]
        assert set(have) == set(want), run_id
        different = {k: (have[k], want[k]) for k in want if not _same(have[k], want[k])}
        assert not different, (run_id, different)
    newest = max(row["end_time"] for row in reference.values())
    assert sqlite_rows(db, since_end=newest) == []


def test_a_store_that_is_not_mlflow_is_reported(tmp_path) -> None:
    import sqlite3

    import pytest

    from visionbench.leaderboard.sqlite_rows import SchemaMismatch, sqlite_rows

    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE runs (x)").connection.commit()
    with pytest.raises(SchemaMismatch):
        sqlite_rows(db)
