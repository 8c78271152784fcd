"""Compare page: two models side by side on the tasks both ran, paired deltas and McNemar significance."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import analysis
from visionbench.leaderboard.data import metric_columns
from visionbench.leaderboard.views import common, details


def significance(src: Any, run_a: pd.Series, run_b: pd.Series) -> dict[str, Any]:
    pred_a = details.cached_predictions(src.kind, src.uri, details.run_ref(run_a))
    pred_b = details.cached_predictions(src.kind, src.uri, details.run_ref(run_b))
    return analysis.mcnemar(pred_a, pred_b)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_paired(record_a: str | None, record_b: str | None) -> dict[str, Any]:
    return analysis.paired_headline(record_a, record_b)


def summary_rows(src: Any, pairs: list[tuple[str, pd.Series, pd.Series, bool]]) -> pd.DataFrame:
    rows = []
    for task, run_a, run_b, same in pairs:
        test = significance(src, run_a, run_b)
        paired = cached_paired(run_a.get("record_path") or None, run_b.get("record_path") or None)
        a, b = run_a["headline"], run_b["headline"]
        rows.append({
            "task": task, "kind": run_a["kind"], "metric": run_a["headline_key"], "A": a, "B": b,
            "B - A": (b - a) if not (math.isnan(a) or math.isnan(b)) else None,
            "McNemar p": test.get("p_value"), "A right, B wrong": test.get("a_only"), "A wrong, B right": test.get("b_only"),
            "paired samples": test.get("n"), "note": test.get("reason", "") if test.get("p_value") is None else "",
            "paired 95% CI": f"[{paired['ci_low']:.4f}, {paired['ci_high']:.4f}]" if "verdict" in paired else None,
            "paired p": paired.get("p_value"), "verdict": paired.get("verdict", paired.get("reason")),
            "config": f"{run_a['hardware']} / {run_a['precision']}" if same
            else f"A: {run_a['hardware']} / {run_a['precision']}; B: {run_b['hardware']} / {run_b['precision']}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def render() -> None:
    common.sidebar()
    st.title("Compare two models")
    frame = common.summary()
    if common.no_runs(frame):
        return
    specs, labels = common.model_options(frame)
    if len(specs) < 2:
        st.info("Only one model has results so far.")
        return
    left, right = st.columns(2)
    a = left.selectbox("Model A (spec)", specs, index=0, key="a", bind="query-params")
    b = right.selectbox("Model B (spec)", specs, index=1, key="b", bind="query-params")
    left.text(labels.get(a, str(a)))
    right.text(labels.get(b, str(b)))
    if a == b:
        st.info("Pick two different models.")
        return
    pairs = analysis.pair_runs(frame, a, b)
    if not pairs:
        st.info("These two models have no task in common.")
        return
    st.subheader("Shared tasks")
    st.caption(
        "B - A of the headline metric per task. McNemar: exact two-sided test on the samples exactly one model "
        "got right (needs both predictions files with per-sample correctness on the same sample ids). Paired CI, p "
        "and verdict: `visionbench compare` on both runs' stored state (static mode, record files reachable)."
    )
    with st.spinner("Fetching predictions for the significance tests..."):
        table = summary_rows(common.source(), pairs)
    number = st.column_config.NumberColumn(format="%.4f")
    common.table(table, "compare_summary",
                 column_config={"A": number, "B": number, "B - A": number, "McNemar p": st.column_config.NumberColumn(format="%.4g")})  # fmt: skip
    st.subheader("All shared metrics")
    tasks = [task for task, *_ in pairs]
    task = st.selectbox("Task", tasks, key="compare_task")
    _, run_a, run_b, same = pairs[tasks.index(task)]
    if not same:
        st.warning(
            "The two runs used different hardware or precision: efficiency figures are not comparable."
        )
    deltas = analysis.paired_deltas(run_a, run_b, metric_columns(frame))
    common.table(deltas, "compare_deltas",
                 column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("A", "B", "B - A")})  # fmt: skip
    common.page_link("model", f"Model page of A: {labels.get(a, a)}", model=str(a))
    common.page_link("model", f"Model page of B: {labels.get(b, b)}", model=str(b))
