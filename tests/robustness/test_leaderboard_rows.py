"""The leaderboard ranks robustness runs by robust top-1 and shows clean vs robust with intervals and honesty."""

from __future__ import annotations

import pandas as pd


def test_robustness_table_ranks_by_robust_top1_with_clean_and_honesty(tmp_path) -> None:
    from visionbench.harness.record import row_from_record
    from visionbench.leaderboard.data import finish
    from visionbench.leaderboard.synthetic import synthetic_record
    from visionbench.leaderboard.views.overview import default_columns, display_table, ranked_table

    records = []
    for model, robust, clean, flags in (
        ("zoo:a", 0.30, 0.99, []),
        ("zoo:b", 0.60, 0.80, [{"check": "zero_gradients", "detail": "3 samples"}]),
        ("zoo:c", 0.10, 0.995, []),
    ):
        record = synthetic_record(model, "robustness", headline=robust, ci=0.01)
        record["metrics"].update(
            clean_top1=clean, clean_top1_ci_low=clean - 0.02, clean_top1_ci_high=min(1.0, clean + 0.01)
        )
        record["task"]["scoring"] = {"honesty": {"flags": flags, "passed": not flags}}
        records.append(record)
    frame = finish(pd.DataFrame([row_from_record(r, tmp_path / f"{i}.json") for i, r in enumerate(records)]))
    table = ranked_table(frame)
    assert list(table["model"]) == ["zoo:b", "zoo:a", "zoo:c"]  # by robust top-1, not clean accuracy
    columns = default_columns(table, "robust_top1")
    assert columns[:5] == ["rank", "model name", "robust_top1", "clean_top1", "honesty"]
    shown = display_table(table, columns, "robust_top1", "robustness")
    assert list(shown["Honesty checks"]) == ["zero_gradients", "passed", "passed"]
    clean = list(shown["Clean top-1 (95% CI)"])
    assert clean[0].startswith("0.8") and "0.78" in clean[0] and "0.81" in clean[0]
    assert any(h.startswith("Robust top-1") for h in shown.columns)


def test_classification_tables_do_not_grow_robustness_columns(tmp_path) -> None:
    from visionbench.harness.record import row_from_record
    from visionbench.leaderboard.data import finish
    from visionbench.leaderboard.synthetic import synthetic_record
    from visionbench.leaderboard.views.overview import default_columns, ranked_table

    rows = [
        row_from_record(synthetic_record(m, "classification", headline=h), tmp_path / "r.json")
        for m, h in (("zoo:x", 0.9), ("zoo:y", 0.8))
    ]
    table = ranked_table(finish(pd.DataFrame(rows)))
    assert "honesty" not in default_columns(table, "top1") and "clean_top1" not in default_columns(
        table, "top1"
    )
