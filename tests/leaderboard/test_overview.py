"""The overview's tables for kinds the leaderboard knows and for kinds it has never seen."""

from __future__ import annotations

import pandas as pd

from visionbench.leaderboard.data import finish
from visionbench.leaderboard.views.overview import default_columns, ranked_table, tasks_table


def frame(*rows: dict) -> pd.DataFrame:
    base = {"created": "2025-01-01T00:00:00+00:00", "hardware": "cpu", "precision": "fp32"}
    return finish(pd.DataFrame([{**base, **row} for row in rows]))


def test_known_kind_is_ranked_by_its_headline() -> None:
    runs = frame(
        {"model": "a", "model_name": "A", "kind": "segmentation", "task": "segmentation:x", "miou": 0.5},
        {"model": "b", "model_name": "B", "kind": "segmentation", "task": "segmentation:x", "miou": 0.7},
    )
    table = ranked_table(runs)
    assert list(table["model name"]) == ["B", "A"] and list(table["rank"]) == [1, 2]
    assert list(table.columns).count("miou") == 1 and "miou CI low" in table.columns
    assert default_columns(table, "miou")[:3] == ["rank", "model name", "miou"]


def test_a_kind_without_a_headline_still_shows() -> None:
    runs = frame(
        {
            "model": "a",
            "model_name": "A",
            "kind": "pose",
            "task": "pose:x",
            "oks": 0.5,
            "throughput_ips": 3.0,
        },
        {"model": "b", "model_name": "B", "kind": "pose", "task": "pose:x", "oks": 0.6},
    )
    table = ranked_table(runs)
    assert set(table["model name"]) == {"A", "B"} and "headline" in table.columns and "oks" in table.columns
    found = tasks_table(runs)
    assert list(found["kind"]) == ["pose"] and found["models"].iloc[0] == 2
