"""Model page: every task one model was run on, with its rank there, then one run in detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from visionbench.leaderboard.analysis import tie_ranks
from visionbench.leaderboard.data import latest_per_config
from visionbench.leaderboard.safe import md
from visionbench.leaderboard.views import common, details


def task_ranks(frame: pd.DataFrame, model: str) -> pd.Series:
    """The model's tie-group rank in each task it ran, among the latest runs of that task (per row of ``frame``)."""
    latest = latest_per_config(frame)
    ranks = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    tasks = set(frame.loc[frame["model"] == model, "task"])
    for _, part in latest[latest["task"].isin(tasks)].groupby(["task", "hardware", "precision"]):
        ranked = tie_ranks(part)
        own = ranked[part["model"] == model]
        ranks.loc[own.index] = own
    return ranks


def runs_table(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    runs = frame[frame["model"] == model].copy()
    runs["rank"] = task_ranks(frame, model).reindex(runs.index)
    table = runs[["task", "kind", "dataset", "hardware", "precision", "rank", "headline_key", "headline", "headline_ci_low",
                  "headline_ci_high", "throughput_ips", "latency_ms_p50", "created"]]  # fmt: skip
    return table.rename(
        columns={
            "headline_key": "metric",
            "headline": "value",
            "headline_ci_low": "CI low",
            "headline_ci_high": "CI high",
        }
    )


def run_label(row: pd.Series) -> str:
    created = row["created"].strftime("%Y-%m-%d %H:%M") if pd.notna(row["created"]) else "?"
    return f"{row['task']}  ·  {row['hardware']} / {row['precision']}  ·  {created}"


def render() -> None:
    common.sidebar()
    st.title("Model")
    frame = common.summary()
    if common.no_runs(frame):
        return
    specs, _ = common.model_options(frame)
    model = st.selectbox("Model (spec)", specs, key="model", bind="query-params")
    if model is None:
        return
    runs = frame[frame["model"] == model]
    first = runs.iloc[0]
    st.subheader(md(first["model_name"]))
    info = {
        "spec": model,
        "family": first["family"],
        "licence": first["licence"],
        "tasks": runs["task"].nunique(),
        "runs": len(runs),
    }
    common.table(pd.DataFrame({"field": list(info), "value": [str(v) for v in info.values()]}), "model_info")
    st.subheader("Tasks")
    st.caption("Rank: tie-group rank among the latest runs of the task on the same hardware and precision.")
    table = runs_table(frame, model)
    common.table(table, "model_tasks",
                 column_config={"value": st.column_config.NumberColumn(format="%.4f"), **common.column_config(list(table.columns))})  # fmt: skip
    common.page_link("compare", "Compare with another model", a=str(model))
    st.subheader("Run details")
    keys = list(runs.index)
    chosen = st.selectbox("Run", keys, key="model_run", format_func=lambda i: run_label(runs.loc[i]))
    details.render_run(common.source(), runs.loc[chosen])
