"""Model page: every task one model was run on, with its rank there, then one run in detail."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from visionbench.leaderboard import fmt
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
    ranks = runs["rank"]
    counts = {}
    for task, hardware, precision, value in zip(
        runs["task"], runs["hardware"], runs["precision"], ranks, strict=True
    ):
        counts[(task, hardware, precision, value)] = rank_counts(frame, task, hardware, precision).get(
            value, 0
        )
    return pd.DataFrame({
        "task": runs["task"], "kind": runs["kind"], "dataset": runs["dataset"], "hardware": runs["hardware"],
        "precision": runs["precision"],
        "rank": [fmt.rank(r, counts[(t, h, p, r)] > 1) for t, h, p, r in
                 zip(runs["task"], runs["hardware"], runs["precision"], ranks, strict=True)],
        "metric": [fmt.label(k, kind) if k else fmt.MISSING for k, kind in zip(runs["headline_key"], runs["kind"], strict=True)],
        "value [95% CI]": [fmt.interval(v, lo, hi) for v, lo, hi in
                           zip(runs["headline"], runs["headline_ci_low"], runs["headline_ci_high"], strict=True)],
        "throughput": [fmt.efficiency("throughput_ips", v) for v in runs["throughput_ips"]],
        "latency p50 (batch)": [fmt.efficiency("latency_ms_p50", v) for v in runs["latency_ms_p50"]],
        "created": [c.strftime("%Y-%m-%d %H:%M") if pd.notna(c) else fmt.MISSING for c in runs["created"]],
    })  # fmt: skip


def rank_counts(frame: pd.DataFrame, task: str, hardware: str, precision: str) -> dict[Any, int]:
    """How many of the latest runs of one configuration hold each rank (more than one: a shared rank)."""
    latest = latest_per_config(frame)
    part = latest[
        (latest["task"] == task) & (latest["hardware"] == hardware) & (latest["precision"] == precision)
    ]
    return tie_ranks(part).value_counts().to_dict()


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
    asked = st.query_params.get("model")
    if asked is not None and asked not in specs:
        st.warning(f"No runs of a model {md(asked)} in this source. Pick a model from the overview.")
        st.stop()
    model = st.selectbox("Model (spec)", specs, key="model", bind="query-params")
    if model is None:
        return
    runs = frame[frame["model"] == model]
    first = runs.iloc[0]
    st.subheader(md(first["model_name"]))
    from visionbench.leaderboard.views.card import model_card

    ref = details.run_ref(first)
    record = details.cached_record(common.source().kind, common.source().uri, ref)
    info = model_card(first, record, tasks=runs["task"].nunique(), runs=len(runs))
    common.table(
        pd.DataFrame({"field": list(info), "value": [fmt.text(v) for v in info.values()]}), "model_info"
    )
    st.subheader("Tasks")
    st.caption("Rank: tie-group rank among the latest runs of the task on the same hardware and precision.")
    table = runs_table(frame, model)
    common.table(table, "model_tasks")
    partner = common.partner_for(frame, str(model))
    if partner:
        common.page_link("compare", "Compare with another model", a=str(model), b=partner)
    st.subheader("Run details")
    keys = list(runs.index)
    chosen = st.selectbox("Run", keys, key="model_run", format_func=lambda i: run_label(runs.loc[i]))
    details.render_run(common.source(), runs.loc[chosen])
